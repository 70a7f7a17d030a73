// Scheduler: a work-stealing pool of worker threads that run pulses and jobs.
//
// Each worker owns a Chase–Lev deque (LIFO for itself, FIFO for thieves). Work submitted
// from outside the pool goes to a global injector. A worker looks for work in its own
// deque, then the injector, then steals from the others (random victim first); after a
// short spin with nothing found it parks on an event count, so an idle pool uses no CPU.
// The injector is also polled every kInjectorInterval local pulses so outside work is
// never starved by a busy worker.
//
// Threads that run a loop of their own (an HTTP I/O thread) can Attach to a spare worker
// slot and run the traces they start inline, with no hand-off to another thread.
//
// Thread-safety: Submit from any thread; Worker methods only from that worker's thread.
// Lifecycle: Start() spawns the workers; Stop() lets them finish the queued work, then
// joins them. Work submitted after Stop() began is still run if a worker is alive, and
// otherwise handed to PulseHandler::Discard.
#ifndef EPOS_EXEC_SCHEDULER_H_
#define EPOS_EXEC_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "epos/exec/pulse.h"

namespace epos {

namespace internal {
class WorkStealingDeque;
}  // namespace internal

class Scheduler;

// Runs pulses for the scheduler (the Runtime). RunPulse owns `pulse`.
class PulseHandler {
 public:
  virtual ~PulseHandler() = default;
  virtual void RunPulse(Pulse pulse, Worker& worker) = 0;
  // A pulse or job that will never run (the scheduler stopped); release what it owns.
  virtual void Discard(Pulse pulse) = 0;
};

// One scheduler thread's view of itself, handed to handlers and jobs. Written by its
// thread all the time (ticks, batch): cache-line aligned against false sharing.
class alignas(64) Worker {
 public:
  unsigned index() const { return index_; }
  Scheduler& scheduler() const { return *scheduler_; }

  // Queues a pulse on this worker's own deque (LIFO). Call Notify() after a batch.
  void Push(const Pulse& pulse);
  // Wakes a parked worker if any is parked and none is already looking for work.
  void Notify();

  // Scratch owned by the handler (one per worker), e.g. the Runtime's emission buffer.
  void* handler_local = nullptr;

 private:
  friend class Scheduler;
  Worker(Scheduler* scheduler, unsigned index);

  Scheduler* scheduler_;
  unsigned index_;
  std::unique_ptr<internal::WorkStealingDeque> deque_;
  std::uint64_t rng_;
  std::uint32_t ticks_ = 0;
  // Pulses taken from the own deque in one batch (see WorkStealingDeque::PopBatch), run
  // before anything else; private to this worker.
  static constexpr int kBatch = 8;
  Pulse batch_[kBatch];
  int batch_next_ = 0;
  int batch_size_ = 0;
  std::thread thread_;
};

struct SchedulerOptions {
  unsigned workers = 0;  // 0: std::thread::hardware_concurrency()
  // Worker slots without a thread of their own, for threads that have another loop to run
  // (an HTTP listener's I/O thread) to Attach to; see Scheduler::Attach.
  unsigned attachable = 0;
};

class Scheduler {
 public:
  static constexpr std::uint32_t kInjectorInterval = 61;

  Scheduler(SchedulerOptions options, PulseHandler* handler);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  void Start();
  // Runs queued work to the end, then joins the workers. Idempotent.
  void Stop();

  // Any thread. On a worker of this scheduler: its local deque (on an attached thread,
  // without waking anyone: it runs the pulse itself with RunLocal); else the injector.
  void Submit(const Pulse& pulse);
  void Submit(Job* job) { Submit(Pulse::ForJob(job)); }
  // Always through the global injector (FIFO across the pool): for work that should
  // yield to what the current worker already has queued, e.g. a job re-queueing itself.
  void Inject(const Pulse& pulse);
  void Inject(Job* job) { Inject(Pulse::ForJob(job)); }

  // Makes the calling thread a worker of this scheduler in a free attachable slot, so the
  // work it submits goes to its own deque (no injector, no wake-up) and RunLocal runs it
  // on this thread. Other workers may steal from that deque; the attached thread never
  // takes work from the injector or from others, and never parks in the scheduler, so it
  // stays free for its own loop. Returns nullptr when every slot is taken, or when the
  // thread is already a worker. Call Detach from the same thread before Stop().
  Worker* Attach();
  // Runs what is left on `w`'s deque, then gives its slot back. The attached thread only.
  void Detach(Worker& w);
  // Runs the pulses on `w`'s own deque (including those they push) until it is empty.
  // The attached thread only, typically after submitting a trace's first pulse.
  void RunLocal(Worker& w);

  // Every worker slot: those with threads, then the attachable ones.
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }
  // The calling thread's worker if it belongs to this scheduler, else nullptr.
  Worker* CurrentWorker() const;

 private:
  friend class Worker;

  void WorkerLoop(Worker& w);
  bool FindWork(Worker& w, Pulse& out);
  bool PopInjector(Pulse& out);
  bool StealFromOthers(Worker& w, Pulse& out);
  void Run(Worker& w, const Pulse& p);
  void NotifyOne();

  PulseHandler* handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  unsigned threads_ = 0;  // workers_[0, threads_) have threads; the rest are attachable
  std::unique_ptr<std::atomic<bool>[]> attached_;  // per attachable slot: taken

  // Internally synchronized: the injector.
  mutable std::mutex injector_mu_;
  std::deque<Pulse> injector_;  // guarded by injector_mu_
  bool closed_ = false;         // workers joined; guarded by injector_mu_
  // Mirrors injector_.size() so workers skip the lock when it is empty.
  alignas(64) std::atomic<std::size_t> injector_size_{0};

  // Parking (an event count): state_ = epoch << 32 | parked-or-parking workers.
  // Invariant: a worker increments state_ (seq_cst) before its last look for work;
  // a producer publishes work, then (seq_cst fence) reads state_: one of the two sees
  // the other, so no wake-up is lost.
  alignas(64) std::atomic<std::uint64_t> park_state_{0};
  alignas(64) std::atomic<unsigned> searching_{0};  // workers spinning for work
  std::mutex park_mu_;
  std::condition_variable park_cv_;

  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace epos

#endif  // EPOS_EXEC_SCHEDULER_H_
