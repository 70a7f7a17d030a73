#include "epos/exec/scheduler.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "cpu_relax.h"
#include "work_stealing_deque.h"

namespace epos {
namespace {

thread_local Worker* tls_worker = nullptr;
thread_local const Scheduler* tls_scheduler = nullptr;

// EPOS_FORCE_RARE_PATHS makes the rare paths common without turning any path off: tiny
// deques (they grow), one spin round (workers park and are woken all the time), the
// injector polled ahead of local work every other look (kInjectorInterval), an idle look
// that steals before it polls the injector, and PopBatch on half the looks (Pop on the
// others, and whenever a batch would take fewer than 2).
#ifdef EPOS_FORCE_RARE_PATHS
constexpr bool kForceRarePaths = true;
constexpr std::int64_t kDequeCapacity = 2;  // grow often
constexpr int kSpinRounds = 1;              // park often
#else
constexpr bool kForceRarePaths = false;
constexpr std::int64_t kDequeCapacity = 1024;
constexpr int kSpinRounds = 64;
#endif

#if defined(__SANITIZE_THREAD__)
#define EPOS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EPOS_TSAN 1
#endif
#endif

// The seq_cst fence of the parking invariant (scheduler.h). ThreadSanitizer does not
// model standalone fences (GCC warns, -Wtsan); under it both sides instead do a seq_cst
// RMW on one shared word, which orders them the same way (one RMW reads the other's
// write) in a form the tool understands.
inline void ParkingFence() {
#ifdef EPOS_TSAN
  static std::atomic<unsigned> word{0};
  word.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// xorshift64*, for choosing steal victims.
std::uint64_t NextRandom(std::uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

constexpr std::uint64_t kParkedMask = 0xFFFFFFFFULL;
constexpr std::uint64_t kEpochOne = 1ULL << 32;

}  // namespace

Worker::Worker(Scheduler* scheduler, unsigned index)
    : scheduler_(scheduler),
      index_(index),
      deque_(std::make_unique<internal::WorkStealingDeque>(kDequeCapacity)),
      rng_(0x9E3779B97F4A7C15ULL * (index + 1)) {}

void Worker::Push(const Pulse& pulse) { deque_->Push(pulse); }

void Worker::Notify() {
  // No fence here, unlike outside submissions: this worker will run what it pushed
  // itself, so a wake-up missed in a race costs only parallelism until the next push,
  // never progress. Skipping the fence keeps a full barrier off every fan-out.
  if (scheduler_->workers_.size() == 1) return;
  scheduler_->WakeParked();
}

Scheduler::Scheduler(SchedulerOptions options, PulseHandler* handler) : handler_(handler) {
  unsigned n = options.workers != 0 ? options.workers : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  threads_ = n;
  const unsigned total = n + options.attachable;
  workers_.reserve(total);
  for (unsigned i = 0; i < total; ++i) workers_.emplace_back(new Worker(this, i));
  attached_ = std::make_unique<std::atomic<bool>[]>(options.attachable);
  for (unsigned i = 0; i < options.attachable; ++i) attached_[i].store(false);
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  assert(!started_);
  started_ = true;
  for (unsigned i = 0; i < threads_; ++i) {
    Worker* worker = workers_[i].get();
    worker->thread_ = std::thread([this, worker] { WorkerLoop(*worker); });
  }
}

Worker* Scheduler::Attach() {
  if (tls_worker != nullptr) return nullptr;
  for (unsigned i = threads_; i < workers_.size(); ++i) {
    bool expected = false;
    if (attached_[i - threads_].compare_exchange_strong(expected, true,
                                                        std::memory_order_seq_cst)) {
      // Stop() sets stopping_ and then counts the slots, all seq_cst: either it sees
      // this slot taken, or this sees it stopping and gives the slot back.
      if (stopping_.load(std::memory_order_seq_cst)) {
        attached_[i - threads_].store(false, std::memory_order_release);
        return nullptr;
      }
      tls_worker = workers_[i].get();
      tls_scheduler = this;
      return tls_worker;
    }
  }
  return nullptr;
}

void Scheduler::Detach(Worker& w) {
  assert(tls_worker == &w && w.index_ >= threads_);
  RunLocal(w);
  tls_worker = nullptr;
  tls_scheduler = nullptr;
  attached_[w.index_ - threads_].store(false, std::memory_order_release);
}

void Scheduler::RunLocal(Worker& w) {
  Pulse p;
  for (;;) {
    if (w.batch_next_ < w.batch_size_) {
      p = w.batch_[w.batch_next_++];
    } else if (!w.deque_->Pop(p)) {
      return;
    }
    Run(w, p);
  }
}

unsigned Scheduler::AttachedCount() const {
  unsigned n = 0;
  for (unsigned i = 0; i + threads_ < workers_.size(); ++i) {
    if (attached_[i].load(std::memory_order_seq_cst)) ++n;
  }
  return n;
}

void Scheduler::Stop() {
  if (stopping_.exchange(true, std::memory_order_seq_cst)) return;
  if (const unsigned attached = AttachedCount(); attached > 0) {
    // A contract violation (see Stop in scheduler.h), not an expected failure: the
    // attached thread still owns its deque, so draining it here would be a data race.
    std::fprintf(stderr,
                 "epos: Scheduler::Stop() called with %u thread(s) still attached; every "
                 "thread that called Scheduler::Attach() must call Detach() before Stop()\n",
                 attached);
    assert(attached == 0 && "Scheduler::Stop() with attached threads");
    std::abort();
  }
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    park_state_.fetch_add(kEpochOne, std::memory_order_seq_cst);
  }
  park_cv_.notify_all();
  for (auto& w : workers_) {
    if (w->thread_.joinable()) w->thread_.join();
  }
  // Whatever is left can no longer run.
  Pulse p;
  for (auto& w : workers_) {
    while (w->deque_->Pop(p)) handler_->Discard(p);
  }
  std::deque<Pulse> left;
  {
    std::lock_guard<std::mutex> lock(injector_mu_);
    closed_ = true;
    left.swap(injector_);
    injector_size_.store(0, std::memory_order_relaxed);
  }
  for (const Pulse& q : left) handler_->Discard(q);
}

Worker* Scheduler::CurrentWorker() const { return tls_scheduler == this ? tls_worker : nullptr; }

void Scheduler::Submit(const Pulse& pulse) {
  if (Worker* w = CurrentWorker()) {
    w->Push(pulse);
    // An attached thread runs what it submits itself, right after (RunLocal): waking a
    // worker for it would only have that worker find nothing to steal.
    if (w->index_ < threads_) w->Notify();
    return;
  }
  Inject(pulse);
}

void Scheduler::Inject(const Pulse& pulse) {
  {
    std::unique_lock<std::mutex> lock(injector_mu_);
    if (closed_) {  // no worker will ever run it (e.g. an async op resumed after Stop)
      lock.unlock();
      handler_->Discard(pulse);
      return;
    }
    injector_.push_back(pulse);
    injector_size_.store(injector_.size(), std::memory_order_relaxed);
  }
  NotifyOne();
}

void Scheduler::NotifyOne() {
  ParkingFence();
  std::uint64_t state = park_state_.load(std::memory_order_seq_cst);
  if ((state & kParkedMask) == 0) return;
  // A searching worker will find the work, and wakes the next one if it finds it as the
  // last searcher; waking another now would mostly burn CPU. (A searcher re-checks the
  // queues after it announces it parks, so this cannot lose work.)
  if (searching_.load(std::memory_order_seq_cst) > 0) return;
  WakeOne();
}

void Scheduler::WakeParked() {
  if ((park_state_.load(std::memory_order_relaxed) & kParkedMask) == 0) return;
  if (searching_.load(std::memory_order_relaxed) > 0) return;
  WakeOne();
}

void Scheduler::WakeOne() {
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    park_state_.fetch_add(kEpochOne, std::memory_order_seq_cst);
  }
  park_cv_.notify_one();
}

bool Scheduler::PopInjector(Pulse& out) {
  if (injector_size_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(injector_mu_);
  if (injector_.empty()) return false;
  out = injector_.front();
  injector_.pop_front();
  injector_size_.store(injector_.size(), std::memory_order_relaxed);
  return true;
}

bool Scheduler::StealFromOthers(Worker& w, Pulse& out) {
  const std::size_t n = workers_.size();
  if (n == 1) return false;
  std::size_t start = NextRandom(w.rng_) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Worker& victim = *workers_[(start + i) % n];
    if (&victim != &w && victim.deque_->Steal(out)) return true;
  }
  return false;
}

bool Scheduler::FindWork(Worker& w, Pulse& out) {
  ++w.ticks_;
  if (w.ticks_ % kInjectorInterval == 0 && PopInjector(out)) return true;
  if (w.batch_next_ < w.batch_size_) {
    out = w.batch_[w.batch_next_++];
    return true;
  }
  // Rare paths: batch on two looks in four, so both the batch and the single Pop run, each
  // both right after an injector poll and not.
  if (!kForceRarePaths || ((w.ticks_ >> 1) & 1) != 0) {
    if (int n = w.deque_->PopBatch(w.batch_, Worker::kBatch); n > 0) {
      w.batch_size_ = n;
      w.batch_next_ = 1;
      out = w.batch_[0];
      return true;
    }
  }
  if (w.deque_->Pop(out)) return true;
  // Idle: nothing local. Rare paths steal first, so every idle look tries a steal even
  // while outside work keeps coming.
  if (kForceRarePaths) return StealFromOthers(w, out) || PopInjector(out);
  return PopInjector(out) || StealFromOthers(w, out);
}

void Scheduler::Run(Worker& w, const Pulse& p) {
  if (p.is_job()) {
    p.job()->Run(w);
  } else {
    handler_->RunPulse(p, w);
  }
}

bool Scheduler::Search(Worker& w, Pulse& out) {
  for (int round = 0; round < kSpinRounds; ++round) {
    for (int i = 0; i < 32; ++i) internal::CpuRelax();
    if (FindWork(w, out)) return true;
  }
  return false;
}

void Scheduler::StopSearching() {
  // The last searcher found work: producers skipped their wake-ups because it was
  // searching, so more of the same burst may be queued. Hand the search on (Go's wakep).
  if (searching_.fetch_sub(1, std::memory_order_seq_cst) == 1) WakeParked();
}

bool Scheduler::WaitForWork(Worker& w, Pulse& out) {
  searching_.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    if (Search(w, out)) {
      StopSearching();
      return true;
    }
    // Park: announce, fence, look once more (the waiter side of the invariant).
    const std::uint64_t epoch = park_state_.fetch_add(1, std::memory_order_seq_cst) >> 32;
    const bool last_searcher = searching_.fetch_sub(1, std::memory_order_seq_cst) == 1;
    ParkingFence();
    if (FindWork(w, out)) {
      park_state_.fetch_sub(1, std::memory_order_seq_cst);
      if (last_searcher) WakeParked();  // wakep, as in StopSearching
      return true;
    }
    if (stopping_.load(std::memory_order_acquire)) {
      park_state_.fetch_sub(1, std::memory_order_seq_cst);
      return false;
    }
    {
      std::unique_lock<std::mutex> lock(park_mu_);
      park_cv_.wait(lock, [&] {
        return (park_state_.load(std::memory_order_seq_cst) >> 32) != epoch ||
               stopping_.load(std::memory_order_acquire);
      });
    }
    // Woken: search like a spinning worker, so that finding work hands the search on to
    // the next parked worker (a burst spreads one worker per hop), and producers do not
    // wake more workers meanwhile. Counted as searching before it stops counting as
    // parked, so a producer never sees neither.
    searching_.fetch_add(1, std::memory_order_seq_cst);
    park_state_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

void Scheduler::WorkerLoop(Worker& w) {
  tls_worker = &w;
  tls_scheduler = this;
  Pulse p;
  while (FindWork(w, p) || WaitForWork(w, p)) Run(w, p);
  tls_worker = nullptr;
  tls_scheduler = nullptr;
}

}  // namespace epos
