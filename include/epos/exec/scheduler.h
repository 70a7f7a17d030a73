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
//
// Parking invariant (no lost wake-up). Workers park on an event count, park_state_ (the
// protocol of Eigen's EventCount and taskflow's Notifier), with Go's "spinning M" rule for
// searchers (runtime/proc.go: findRunnable, resetspinning, wakep):
//   - A worker that parks first announces it (park_state_ += 1, and leaves searching_),
//     then issues a seq_cst fence, then looks at every queue once more; only if that last
//     look finds nothing does it sleep, and only until the epoch in park_state_ changes.
//   - A producer (Inject, and so Submit from outside) publishes its work, then issues a
//     seq_cst fence, then reads park_state_ and searching_; it wakes a worker (bumps the
//     epoch) when some worker is parked and none is searching.
//   Both sides are store-then-fence-then-load (the store-buffering pattern), so in the
//   single total order of seq_cst fences one comes first and the other side's load sees
//   its store (the plain loads and stores around the fences may then be relaxed):
//   either the parking worker's last look sees the work, or the producer sees the worker
//   parked. Then it wakes someone, or it saw a searcher; a searcher either finds work,
//   runs it and looks again, or leaves searching_ before the fence and last look above,
//   which therefore see this work. Work in the injector is never left behind a pool that
//   is all asleep. Without the waiter's fence a weakly ordered CPU may hoist the queue
//   reads above the announcement; x86 orders them only because its RMW is a full barrier.
//   - Because producers do not wake anyone while a worker is searching, a burst would run
//     on that one worker. So a worker that finds work while it is the last searcher
//     (including in the last look before parking) wakes one parked worker, which searches
//     in turn (Go's wakep): a burst spreads one worker per hop until nobody finds more.
//   - Worker::Notify (a worker's own pushes) and wakep read park_state_ and searching_
//     without the fence: a wake-up missed there costs parallelism only, never progress,
//     since the pushing worker runs its own deque, and the worker that took a burst's
//     first task comes back for the rest (the producer's fence already ordered the burst
//     against the parking workers). Keeping a full barrier off every fan-out and every
//     steal is worth that.
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
  // Wakes a parked worker if any is parked and none is already looking for work. Cheap
  // and fenceless: see "Parking invariant" above for why a race here cannot lose work.
  void Notify();

 private:
  friend class Scheduler;
  Worker(Scheduler* scheduler, unsigned index);

  // Immutable once the workers run; thieves read deque_ on every steal attempt.
  Scheduler* scheduler_;
  unsigned index_;
  std::unique_ptr<internal::WorkStealingDeque> deque_;
  // Written by this worker on every look for work: on a cache line of their own, so the
  // thieves' reads of deque_ do not keep pulling it away from its owner.
  alignas(64) std::uint64_t rng_;
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
  // A worker with local work still polls the injector every kInjectorInterval looks.
  // EPOS_FORCE_RARE_PATHS polls it every other look, the most that keeps Inject's promise
  // (after the worker's own queue): at 1 the injector would always come first, and a job
  // that re-injects itself while it waits for local work (the engine benchmark's trace
  // generator) would spin forever.
#ifdef EPOS_FORCE_RARE_PATHS
  static constexpr std::uint32_t kInjectorInterval = 2;
#else
  static constexpr std::uint32_t kInjectorInterval = 61;
#endif

  Scheduler(SchedulerOptions options, PulseHandler* handler);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  void Start();
  // Runs queued work to the end, then joins the workers. Idempotent.
  // Every attached thread must have called Detach first: Stop with a thread still
  // attached is a programmer error, checked in every build type (it prints which
  // contract was broken to stderr and aborts, like a failed CHECK), because going on
  // would drain and discard that thread's deque while it still pushes to it.
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
  // stays free for its own loop. Returns nullptr when every slot is taken, when the
  // thread is already a worker, or once Stop() began. Call Detach from the same thread
  // before Stop() (see Stop).
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
  // Searches (counted in searching_), then parks, until it finds work (true) or the
  // scheduler stops with nothing left to find (false).
  bool WaitForWork(Worker& w, Pulse& out);
  // Spins kSpinRounds looks for work; the caller counts in searching_.
  bool Search(Worker& w, Pulse& out);
  // Leaves searching_ after finding work; wakes one parked worker if this was the last
  // searcher (wakep).
  void StopSearching();
  // Producer side of the parking invariant: fence, then wake one parked worker if any is
  // parked and none is searching.
  void NotifyOne();
  // The same check without the fence, for Worker::Notify and wakep: there a missed
  // wake-up costs parallelism, not progress (see "Parking invariant").
  void WakeParked();
  // Bumps the epoch (under park_mu_, so a parking worker cannot miss it between its
  // check and its wait) and wakes one sleeper.
  void WakeOne();
  unsigned AttachedCount() const;

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

  // Parking (an event count, see "Parking invariant" at the top of this file):
  // park_state_ = epoch << 32 | parked-or-parking workers; searching_ = workers looking
  // for work (spinning, or just woken) that have not yet found any or parked. Each on its
  // own cache line: every park, wake and search touches them.
  alignas(64) std::atomic<std::uint64_t> park_state_{0};
  alignas(64) std::atomic<unsigned> searching_{0};
  std::mutex park_mu_;
  std::condition_variable park_cv_;

  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace epos

#endif  // EPOS_EXEC_SCHEDULER_H_
