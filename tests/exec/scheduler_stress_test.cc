// Stress test of the scheduler's parking protocol (the invariant in scheduler.h): an idle
// pool, and bursts injected from outside threads with random pauses between them, so
// workers park, wake and race each other all the time. A lost wake-up shows as a burst
// that never completes while every producer waits: the watchdog fails the test with the
// number of tasks missing instead of hanging.
//
// EPOS_STRESS_SECONDS sets the duration per worker count (default 10).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/exec/pulse.h"
#include "epos/exec/scheduler.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kSanitized;

// How long a burst may take before the test calls it lost. Far above any real burst
// (milliseconds), so reaching it means work sat queued while the pool slept.
constexpr std::chrono::seconds kWatchdog{30};

std::chrono::seconds StressDuration() {
  if (const char* env = std::getenv("EPOS_STRESS_SECONDS"); env != nullptr && *env != '\0') {
    return std::chrono::seconds(std::max(1, std::atoi(env)));
  }
  return std::chrono::seconds(10);
}

// The tasks of one burst, including those its tasks submit; completes at zero.
class Burst {
 public:
  void Add(std::int64_t n) { pending_.fetch_add(n, std::memory_order_relaxed); }
  void Done() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  // True once every task ran; false at the limit.
  bool Wait(std::chrono::nanoseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return pending() == 0; });
  }
  std::int64_t pending() const { return pending_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::int64_t> pending_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

struct Counters {
  std::atomic<std::int64_t> submitted{0};
  std::atomic<std::int64_t> ran{0};
  std::atomic<std::int64_t> spawned{0};  // submitted from inside a task
};

// The scheduler never runs plain pulses here; a discarded one or a discarded job fails.
class NoPulses final : public PulseHandler {
 public:
  void RunPulse(Pulse, Worker&) override { ADD_FAILURE() << "unexpected pulse"; }
  void Discard(Pulse pulse) override {
    discarded.fetch_add(1);
    if (pulse.is_job()) delete pulse.job();
  }
  std::atomic<int> discarded{0};
};

// A task: a little work, and sometimes more tasks of the same burst, submitted from the
// worker (to its own deque, which idle workers steal from) or through the injector.
class StressTask final : public Job {
 public:
  StressTask(Scheduler* scheduler, std::shared_ptr<Burst> burst, Counters* counters,
             std::uint64_t seed, int depth)
      : scheduler_(scheduler),
        burst_(std::move(burst)),
        counters_(counters),
        seed_(seed),
        depth_(depth) {}

  void Run(Worker&) override {
    counters_->ran.fetch_add(1, std::memory_order_relaxed);
    std::mt19937_64 rng(seed_);
    // Up to a few microseconds of work, so bursts overlap the wake-ups.
    volatile std::uint64_t sink = 0;
    for (std::uint64_t i = 0, n = rng() % 2000; i < n; ++i) sink = sink + i;
    if (depth_ < 2 && rng() % 4 == 0) {
      const int children = 1 + static_cast<int>(rng() % 8);
      burst_->Add(children);  // before Done: the burst never reaches zero early
      counters_->submitted.fetch_add(children, std::memory_order_relaxed);
      counters_->spawned.fetch_add(children, std::memory_order_relaxed);
      for (int i = 0; i < children; ++i) {
        auto* child = new StressTask(scheduler_, burst_, counters_, rng(), depth_ + 1);
        if (rng() % 8 == 0) {
          scheduler_->Inject(child);
        } else {
          scheduler_->Submit(child);  // this worker's deque
        }
      }
    }
    burst_->Done();  // still holds burst_, so the Burst outlives its notify
    delete this;
  }

 private:
  Scheduler* scheduler_;
  std::shared_ptr<Burst> burst_;
  Counters* counters_;
  std::uint64_t seed_;
  int depth_;
};

std::string WorkersName(const ::testing::TestParamInfo<unsigned>& info) {
  return "Workers" + std::to_string(info.param);
}

class SchedulerStressTest : public ::testing::TestWithParam<unsigned> {};

// 4 outside threads inject bursts of random size into an idle pool, each waiting for its
// burst (with a watchdog) and then pausing a random while, often long enough for the
// whole pool to park. Every task must run exactly once, none discarded.
TEST_P(SchedulerStressTest, BurstsFromOutsideThreadsAllRun) {
  constexpr int kProducers = 4;
  const auto duration = StressDuration();
  NoPulses handler;
  Counters counters;
  Scheduler scheduler(SchedulerOptions{GetParam()}, &handler);
  scheduler.Start();

  const std::uint64_t base_seed = std::random_device{}();
  RecordProperty("seed", std::to_string(base_seed));
  std::atomic<bool> lost{false};
  std::atomic<std::int64_t> bursts{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  const auto deadline = std::chrono::steady_clock::now() + duration;

  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      std::mt19937_64 rng(base_seed + t);
      while (std::chrono::steady_clock::now() < deadline && !lost.load()) {
        // Mostly small bursts, sometimes large ones.
        const int size =
            rng() % 8 == 0 ? 1 + static_cast<int>(rng() % 1024) : 1 + static_cast<int>(rng() % 32);
        auto burst = std::make_shared<Burst>();
        burst->Add(size);
        counters.submitted.fetch_add(size, std::memory_order_relaxed);
        for (int i = 0; i < size; ++i) {
          scheduler.Submit(new StressTask(&scheduler, burst, &counters, rng(), 0));
        }
        if (!burst->Wait(kWatchdog)) {
          std::lock_guard<std::mutex> lock(failures_mu);
          failures.push_back("producer " + std::to_string(t) + ": a burst of " +
                             std::to_string(size) + " still has " +
                             std::to_string(burst->pending()) + " task(s) not run after " +
                             std::to_string(kWatchdog.count()) + " s");
          lost = true;
          return;
        }
        bursts.fetch_add(1, std::memory_order_relaxed);
        // A random pause (not synchronisation): none, shorter than the workers' spin, or
        // long enough for them to park.
        switch (rng() % 4) {
          case 0:
            break;
          case 1:
            std::this_thread::yield();
            break;
          case 2:
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
            break;
          default:
            std::this_thread::sleep_for(std::chrono::microseconds(100 + rng() % 2000));
            break;
        }
      }
    });
  }
  for (std::thread& p : producers) p.join();
  // Stop runs whatever a lost wake-up left queued, so the counts below are final.
  const std::int64_t ran_before_stop = counters.ran.load();
  scheduler.Stop();

  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(ran_before_stop, counters.submitted.load())
      << counters.submitted.load() - ran_before_stop << " task(s) had not run when every burst "
      << "was waited for";
  EXPECT_EQ(counters.ran.load(), counters.submitted.load());
  EXPECT_EQ(handler.discarded.load(), 0);
  EXPECT_GT(bursts.load(), 0);
  EXPECT_GT(counters.spawned.load(), 0);
  RecordProperty("bursts", std::to_string(bursts.load()));
  RecordProperty("tasks", std::to_string(counters.ran.load()));
  if (kSanitized) RecordProperty("sanitized", "1");
}

INSTANTIATE_TEST_SUITE_P(Workers, SchedulerStressTest, ::testing::Values(1u, 2u, 8u), WorkersName);

}  // namespace
}  // namespace epos
