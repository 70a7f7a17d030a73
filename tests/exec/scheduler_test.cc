// Tests of the work-stealing Scheduler and the TimerService (the BlockingPool has its own).
#include "epos/exec/scheduler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/exec/pulse.h"
#include "epos/exec/runtime.h"
#include "epos/exec/timer_service.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kSanitized;
using testing_util::kWaitLimit;
using testing_util::Latch;

// A pulse that carries only an id (in `index`); the scheduler never looks inside.
Pulse IdPulse(std::uint32_t id) {
  Pulse p{};
  p.index = id;
  return p;
}

// Counts how often each pulse id ran and how many pulses/jobs were discarded.
class CountingHandler final : public PulseHandler {
 public:
  CountingHandler(std::size_t ids, Latch* done) : runs_(ids), done_(done) {}
  void RunPulse(Pulse pulse, Worker&) override {
    runs_[pulse.index].fetch_add(1, std::memory_order_relaxed);
    if (done_ != nullptr) done_->CountDown();
  }
  void Discard(Pulse pulse) override {
    if (pulse.is_job()) {
      discarded_jobs_.fetch_add(1);
      delete pulse.job();
    } else {
      discarded_pulses_.fetch_add(1);
    }
  }
  int runs(std::size_t id) const { return runs_[id].load(); }
  std::size_t size() const { return runs_.size(); }
  int discarded_pulses() const { return discarded_pulses_.load(); }
  int discarded_jobs() const { return discarded_jobs_.load(); }

 private:
  std::vector<std::atomic<int>> runs_;
  Latch* done_;
  std::atomic<int> discarded_pulses_{0};
  std::atomic<int> discarded_jobs_{0};
};

// A job that runs a function once and deletes itself.
class FnJob final : public Job {
 public:
  explicit FnJob(std::function<void(Worker&)> fn) : fn_(std::move(fn)) {}
  void Run(Worker& worker) override {
    fn_(worker);
    delete this;
  }

 private:
  std::function<void(Worker&)> fn_;
};

std::string WorkersName(const ::testing::TestParamInfo<unsigned>& info) {
  return "Workers" + std::to_string(info.param);
}

class SchedulerTest : public ::testing::TestWithParam<unsigned> {};

// Outside threads submit pulses and jobs at once; some jobs submit more pulses from the
// workers (to their local deques, and through the injector). Everything runs exactly once.
TEST_P(SchedulerTest, EveryPulseAndJobRunsExactlyOnceUnderConcurrentSubmitters) {
  constexpr std::uint32_t kThreads = 4;
  const std::uint32_t per_thread = kSanitized ? 4000 : 20000;
  const std::uint32_t outside = kThreads * per_thread;  // pulse ids [0, outside)
  const std::uint32_t spawn_base = outside;             // + 2 per spawning job
  const std::uint32_t spawners = outside / 16;
  Latch done(outside /*pulses*/ + outside /*jobs*/ + 2 * spawners);
  CountingHandler handler(spawn_base + 2 * outside, &done);
  std::vector<std::atomic<int>> job_runs(outside);

  Scheduler scheduler(SchedulerOptions{GetParam()}, &handler);
  scheduler.Start();
  std::vector<std::thread> submitters;
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (std::uint32_t k = 0; k < per_thread; ++k) {
        const std::uint32_t id = t * per_thread + k;
        scheduler.Submit(IdPulse(id));
        scheduler.Submit(new FnJob([&, id](Worker& w) {
          EXPECT_EQ(scheduler.CurrentWorker(), &w);
          job_runs[id].fetch_add(1, std::memory_order_relaxed);
          if (id % 16 == 0) {
            scheduler.Submit(IdPulse(spawn_base + 2 * id));      // local deque
            scheduler.Inject(IdPulse(spawn_base + 2 * id + 1));  // injector
          }
          done.CountDown();
        }));
      }
    });
  }
  for (std::thread& t : submitters) t.join();
  ASSERT_TRUE(done.Wait()) << done.count() << " pulses and jobs never ran";
  scheduler.Stop();

  for (std::uint32_t id = 0; id < outside; ++id) {
    ASSERT_EQ(handler.runs(id), 1) << "pulse " << id;
    ASSERT_EQ(job_runs[id].load(), 1) << "job " << id;
  }
  for (std::uint32_t slot = spawn_base; slot < handler.size(); ++slot) {
    const std::uint32_t job = (slot - spawn_base) / 2;
    ASSERT_EQ(handler.runs(slot), job % 16 == 0 ? 1 : 0) << "spawned pulse " << slot;
  }
  EXPECT_EQ(handler.discarded_pulses(), 0);
  EXPECT_EQ(handler.discarded_jobs(), 0);
}

TEST_P(SchedulerTest, CurrentWorkerIsNullOutsideThePool) {
  CountingHandler handler(1, nullptr);
  Scheduler scheduler(SchedulerOptions{GetParam()}, &handler);
  EXPECT_EQ(scheduler.worker_count(), GetParam());
  scheduler.Start();
  EXPECT_EQ(scheduler.CurrentWorker(), nullptr);
  std::promise<std::pair<bool, unsigned>> seen;
  scheduler.Submit(new FnJob([&](Worker& w) {
    seen.set_value({scheduler.CurrentWorker() == &w && &w.scheduler() == &scheduler, w.index()});
  }));
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(kWaitLimit), std::future_status::ready);
  auto [same, index] = f.get();
  EXPECT_TRUE(same);
  EXPECT_LT(index, GetParam());
  // Another scheduler's thread is "outside" for this one.
  CountingHandler other_handler(1, nullptr);
  Scheduler other(SchedulerOptions{1}, &other_handler);
  other.Start();
  std::promise<Worker*> foreign;
  other.Submit(new FnJob([&](Worker&) { foreign.set_value(scheduler.CurrentWorker()); }));
  auto g = foreign.get_future();
  ASSERT_EQ(g.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_EQ(g.get(), nullptr);
  other.Stop();
  scheduler.Stop();
}

INSTANTIATE_TEST_SUITE_P(Workers, SchedulerTest, ::testing::Values(1u, 2u, 8u), WorkersName);

// One job pushes 10k jobs onto its own deque; only stealing can move them, and every
// worker takes part.
class SchedulerStealTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(SchedulerStealTest, IdleWorkersStealFromALocalBurst) {
  const unsigned workers = GetParam();
  constexpr int kJobs = 10000;
  CountingHandler handler(1, nullptr);
  Scheduler scheduler(SchedulerOptions{workers}, &handler);
  scheduler.Start();

  Latch done(kJobs);
  std::vector<std::atomic<int>> per_worker(workers);
  std::atomic<int> runs_elsewhere{0};
  std::atomic<int> runs_total{0};
  std::atomic<unsigned> root_worker{~0u};
  std::atomic<bool> stolen_seen{false};

  scheduler.Submit(new FnJob([&](Worker& root) {
    root_worker = root.index();
    for (int i = 0; i < kJobs; ++i) {
      scheduler.Submit(new FnJob([&](Worker& w) {
        per_worker[w.index()].fetch_add(1, std::memory_order_relaxed);
        runs_total.fetch_add(1, std::memory_order_relaxed);
        if (w.index() != root_worker.load()) {
          runs_elsewhere.fetch_add(1, std::memory_order_relaxed);
          stolen_seen.store(true);
        }
        // A little work per job, so a burst outlasts the wake-up of every worker.
        auto until = std::chrono::steady_clock::now() + 20us;
        while (std::chrono::steady_clock::now() < until) {
        }
        done.CountDown();
      }));
    }
    // Hold this worker until another one took a job from its deque: only a thief can.
    auto limit = std::chrono::steady_clock::now() + kWaitLimit;
    while (!stolen_seen.load() && std::chrono::steady_clock::now() < limit) {
      std::this_thread::yield();
    }
  }));
  ASSERT_TRUE(done.Wait());
  scheduler.Stop();

  EXPECT_EQ(runs_total.load(), kJobs);
  EXPECT_GT(runs_elsewhere.load(), 0) << "no job was stolen";
  int participating = 0;
  for (auto& n : per_worker) participating += n.load() > 0 ? 1 : 0;
  EXPECT_EQ(participating, static_cast<int>(workers)) << "not every worker took part";
}

INSTANTIATE_TEST_SUITE_P(Workers, SchedulerStealTest, ::testing::Values(2u, 4u), WorkersName);

TEST(SchedulerTest, InjectIsFifoAcrossThePool) {
  CountingHandler handler(1, nullptr);
  Scheduler scheduler(SchedulerOptions{1}, &handler);
  scheduler.Start();
  std::mutex mu;
  std::vector<int> order;
  constexpr int kInjected = 200;
  Latch done(2 * kInjected);
  auto record = [&](int i) {
    return new FnJob([&, i](Worker&) {
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      done.CountDown();
    });
  };
  // From outside, and from a job on the worker: both go through the injector, in order.
  for (int i = 0; i < kInjected; ++i) scheduler.Inject(record(i));
  scheduler.Submit(new FnJob([&](Worker&) {
    for (int i = kInjected; i < 2 * kInjected; ++i) scheduler.Inject(record(i));
  }));
  ASSERT_TRUE(done.Wait());
  scheduler.Stop();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(2 * kInjected));
  std::vector<int> outside, inside;
  for (int i : order) (i < kInjected ? outside : inside).push_back(i);
  EXPECT_TRUE(std::is_sorted(outside.begin(), outside.end()));
  EXPECT_TRUE(std::is_sorted(inside.begin(), inside.end()));
}

TEST(SchedulerTest, StopRunsQueuedWork) {
  constexpr int kPulses = 1000;
  CountingHandler handler(kPulses, nullptr);
  Scheduler scheduler(SchedulerOptions{2}, &handler);
  std::atomic<int> chain{0};
  // Queued before the workers exist: the injector holds them.
  for (int i = 0; i < kPulses; ++i) scheduler.Submit(IdPulse(i));
  // A job that re-submits itself 500 times while the scheduler is stopping.
  struct Chain final : Job {
    Scheduler* s;
    std::atomic<int>* n;
    void Run(Worker&) override {
      if (n->fetch_add(1) + 1 < 500) {
        s->Submit(this);
      } else {
        delete this;
      }
    }
  };
  auto* job = new Chain();
  job->s = &scheduler;
  job->n = &chain;
  scheduler.Submit(job);
  scheduler.Start();
  scheduler.Stop();
  for (int i = 0; i < kPulses; ++i) ASSERT_EQ(handler.runs(i), 1) << i;
  EXPECT_EQ(chain.load(), 500);
  EXPECT_EQ(handler.discarded_pulses(), 0);
  EXPECT_EQ(handler.discarded_jobs(), 0);
  scheduler.Stop();  // idempotent
}

TEST(SchedulerTest, StopWhileAJobRunsStillRunsWhatIsQueued) {
  constexpr int kPulses = 300;
  CountingHandler handler(kPulses, nullptr);
  Scheduler scheduler(SchedulerOptions{1}, &handler);
  scheduler.Start();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  scheduler.Submit(new FnJob([&](Worker&) {
    started.set_value();
    released.wait_for(kWaitLimit);
  }));
  ASSERT_EQ(started.get_future().wait_for(kWaitLimit), std::future_status::ready);
  for (int i = 0; i < kPulses; ++i) scheduler.Submit(IdPulse(i));  // behind the blocker
  std::atomic<bool> stop_called{false};
  std::thread stopper([&] {
    stop_called = true;
    scheduler.Stop();
  });
  while (!stop_called.load()) std::this_thread::yield();
  release.set_value();
  stopper.join();
  for (int i = 0; i < kPulses; ++i) ASSERT_EQ(handler.runs(i), 1) << i;
  EXPECT_EQ(handler.discarded_pulses(), 0);
}

TEST(SchedulerTest, NeverStartedSchedulerDiscardsOnStop) {
  CountingHandler handler(10, nullptr);
  Scheduler scheduler(SchedulerOptions{2}, &handler);
  for (int i = 0; i < 10; ++i) scheduler.Submit(IdPulse(i));
  std::atomic<int> job_runs{0};
  for (int i = 0; i < 5; ++i) scheduler.Submit(new FnJob([&](Worker&) { ++job_runs; }));
  scheduler.Stop();
  EXPECT_EQ(handler.discarded_pulses(), 10);
  EXPECT_EQ(handler.discarded_jobs(), 5);
  EXPECT_EQ(job_runs.load(), 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(handler.runs(i), 0);
}

// An idle pool parks: over 300 ms without work the process uses next to no CPU (a
// generous sanity bound, not a performance target).
TEST(SchedulerTest, IdlePoolParks) {
  constexpr int kBurst = 2000;
  Latch done(kBurst);
  CountingHandler handler(kBurst, &done);
  Scheduler scheduler(SchedulerOptions{8}, &handler);
  scheduler.Start();
  for (int i = 0; i < kBurst; ++i) scheduler.Submit(IdPulse(i));
  ASSERT_TRUE(done.Wait());
  // Also a whole idle runtime: workers, timer thread, blocking pool.
  Runtime runtime(RuntimeOptions{8, {}});
  runtime.Start();
  std::this_thread::sleep_for(50ms);  // let the spinning phase end (not synchronisation)
  const auto before = testing_util::ProcessCpuTime();
  std::this_thread::sleep_for(300ms);  // the measured idle period
  const auto used = testing_util::ProcessCpuTime() - before;
  EXPECT_LT(used, 50ms) << "idle pool used " << used.count() << " us of CPU in 300 ms";
  runtime.Stop();
  scheduler.Stop();
}

// A burst that a searching worker finds must spread to the parked workers: producers do
// not wake anyone while a worker searches, so that worker hands the search on when it
// finds work (wakep). Each round wakes one worker with a trivial job, then, while it may
// still be searching, injects one job per worker that only completes when all of them
// run at once; a burst left to one worker never completes.
TEST(SchedulerTest, BurstFoundByASearchingWorkerSpreadsToParkedWorkers) {
  constexpr unsigned kWorkers = 4;
  const int rounds = kSanitized ? 50 : 300;
  CountingHandler handler(1, nullptr);
  Scheduler scheduler(SchedulerOptions{kWorkers}, &handler);
  scheduler.Start();
  std::mt19937 rng(std::random_device{}());
  struct Round {
    std::mutex mu;
    std::condition_variable cv;
    unsigned arrived = 0;    // guarded by mu
    unsigned together = 0;   // jobs that saw all kWorkers arrive; guarded by mu
    bool timed_out = false;  // one job gave up: the others do not wait again; guarded by mu
    Latch done{kWorkers + 1};
  };
  for (int round = 0; round < rounds; ++round) {
    // Shared with the jobs, so a failed round leaves them nothing dangling.
    auto r = std::make_shared<Round>();
    scheduler.Inject(new FnJob([r](Worker&) { r->done.CountDown(); }));
    // Land the burst at a random point of that worker's run or search (not
    // synchronisation: any timing must pass).
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 40);
    while (std::chrono::steady_clock::now() < until) {
    }
    for (unsigned i = 0; i < kWorkers; ++i) {
      scheduler.Inject(new FnJob([r](Worker&) {
        {
          std::unique_lock<std::mutex> lock(r->mu);
          ++r->arrived;
          r->cv.notify_all();
          if (r->cv.wait_for(lock, kWaitLimit,
                             [&] { return r->arrived == kWorkers || r->timed_out; }) &&
              r->arrived == kWorkers) {
            ++r->together;
          } else {
            r->timed_out = true;
          }
        }
        r->done.CountDown();
      }));
    }
    ASSERT_TRUE(r->done.Wait(3 * kWaitLimit)) << "round " << round;
    std::lock_guard<std::mutex> lock(r->mu);
    ASSERT_EQ(r->together, kWorkers) << "round " << round << ": a burst of " << kWorkers
                                     << " jobs did not spread to " << kWorkers << " workers";
  }
  scheduler.Stop();
}

TEST(SchedulerTest, AttachedThreadRunsItsWorkAndDetachesBeforeStop) {
  CountingHandler handler(3, nullptr);
  Scheduler scheduler(SchedulerOptions{1, 1}, &handler);
  EXPECT_EQ(scheduler.worker_count(), 2u);
  scheduler.Start();
  Worker* w = scheduler.Attach();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(scheduler.CurrentWorker(), w);
  EXPECT_EQ(scheduler.Attach(), nullptr);                              // already a worker
  std::thread other([&] { EXPECT_EQ(scheduler.Attach(), nullptr); });  // no free slot
  other.join();
  scheduler.Submit(IdPulse(0));
  scheduler.Submit(IdPulse(1));
  scheduler.RunLocal(*w);
  EXPECT_EQ(handler.runs(0), 1);
  EXPECT_EQ(handler.runs(1), 1);
  scheduler.Submit(IdPulse(2));  // left for Detach to run
  scheduler.Detach(*w);
  EXPECT_EQ(handler.runs(2), 1);
  EXPECT_EQ(scheduler.CurrentWorker(), nullptr);
  scheduler.Stop();
  EXPECT_EQ(scheduler.Attach(), nullptr);  // stopped
}

// Stop with a thread still attached would drain that thread's deque under it: a checked
// programmer error that aborts with a message, in every build type.
TEST(SchedulerDeathTest, StopWithAThreadStillAttachedAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        CountingHandler handler(1, nullptr);
        Scheduler scheduler(SchedulerOptions{2, 1}, &handler);
        scheduler.Start();
        if (scheduler.Attach() == nullptr) std::exit(0);  // would fail the death test
        scheduler.Stop();
      },
      "Stop\\(\\) called with 1 thread\\(s\\) still attached");
}

// --- TimerService -------------------------------------------------------------------

struct TimerLog {
  std::mutex mu;
  std::vector<std::pair<int, bool>> fired;  // (tag, fired)
  TimerService::Callback Record(int tag, Latch* done = nullptr) {
    return [this, tag, done](bool f) {
      {
        std::lock_guard<std::mutex> lock(mu);
        fired.emplace_back(tag, f);
      }
      if (done != nullptr) done->CountDown();
    };
  }
  std::vector<std::pair<int, bool>> Get() {
    std::lock_guard<std::mutex> lock(mu);
    return fired;
  }
};

TEST(TimerServiceTest, FiresInDeadlineOrder) {
  TimerService timers;
  timers.Start();
  TimerLog log;
  Latch done(5);
  const auto now = TimerService::Clock::now();
  timers.Schedule(now + 60ms, log.Record(60, &done));
  timers.Schedule(now + 20ms, log.Record(20, &done));
  timers.Schedule(now + 40ms, log.Record(40, &done));
  timers.Schedule(now + 30ms, log.Record(30, &done));
  timers.Schedule(now + 30ms, log.Record(31, &done));  // same deadline: FIFO
  EXPECT_EQ(timers.pending(), 5u);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{
                           {20, true}, {30, true}, {31, true}, {40, true}, {60, true}}));
  EXPECT_EQ(timers.pending(), 0u);
  timers.Stop();
}

TEST(TimerServiceTest, FiresNoEarlierThanTheDeadline) {
  TimerService timers;
  timers.Start();
  Latch done(1);
  const auto start = TimerService::Clock::now();
  TimerService::Clock::time_point at;
  timers.After(30ms, [&](bool) {
    at = TimerService::Clock::now();
    done.CountDown();
  });
  ASSERT_TRUE(done.Wait());
  EXPECT_GE(at - start, 30ms);
  timers.Stop();
}

TEST(TimerServiceTest, CancelRemovesAPendingTimer) {
  TimerService timers;
  timers.Start();
  TimerLog log;
  Latch early(1), late(1);
  auto cancelled = timers.After(40ms, log.Record(1));
  auto first = timers.After(5ms, log.Record(2, &early));
  EXPECT_NE(cancelled.id, 0u);
  EXPECT_TRUE(timers.Cancel(cancelled));
  EXPECT_FALSE(timers.Cancel(cancelled));  // already gone
  EXPECT_FALSE(timers.Cancel(TimerService::Handle{}));
  ASSERT_TRUE(early.Wait());
  EXPECT_FALSE(timers.Cancel(first));  // already fired
  // A timer after the cancelled one's deadline: had it not been cancelled, it would
  // have fired before this one.
  timers.After(80ms, log.Record(3, &late));
  ASSERT_TRUE(late.Wait());
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{2, true}, {3, true}}));
  timers.Stop();
}

TEST(TimerServiceTest, EarlierTimerRearms) {
  TimerService timers;
  timers.Start();
  TimerLog log;
  Latch done(1);
  timers.After(std::chrono::hours(1), log.Record(1));
  timers.After(10ms, log.Record(2, &done));  // must not wait behind the hour
  ASSERT_TRUE(done.Wait(5s));
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{2, true}}));
  timers.Stop();  // flushes the hour
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{2, true}, {1, false}}));
}

TEST(TimerServiceTest, CallbacksMayScheduleAndCancel) {
  TimerService timers;
  timers.Start();
  TimerLog log;
  Latch done(1);
  timers.After(5ms, [&](bool) {
    auto h = timers.After(std::chrono::hours(1), log.Record(9));
    EXPECT_TRUE(timers.Cancel(h));
    timers.After(5ms, log.Record(2, &done));
  });
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{2, true}}));
  timers.Stop();
}

TEST(TimerServiceTest, StopFlushesPendingInOrder) {
  TimerService timers;
  timers.Start();
  TimerLog log;
  timers.After(10s, log.Record(10));
  timers.After(5s, log.Record(5));
  timers.After(20s, log.Record(20));
  EXPECT_EQ(timers.pending(), 3u);
  const auto start = std::chrono::steady_clock::now();
  timers.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{5, false}, {10, false}, {20, false}}));
  EXPECT_EQ(timers.pending(), 0u);
  // After Stop a timer runs at once, unfired, and has no handle.
  auto h = timers.After(1s, log.Record(99));
  EXPECT_EQ(h.id, 0u);
  EXPECT_EQ(log.Get().back(), (std::pair<int, bool>{99, false}));
  timers.Stop();  // idempotent
}

TEST(TimerServiceTest, StopWithoutStartFlushes) {
  TimerService timers;
  TimerLog log;
  timers.After(1s, log.Record(1));
  timers.Stop();
  EXPECT_EQ(log.Get(), (std::vector<std::pair<int, bool>>{{1, false}}));
}

}  // namespace
}  // namespace epos
