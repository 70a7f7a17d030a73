// BlockingPool: FIFO tasks on bounded threads, backpressure when full, and a Stop that is
// bounded by its deadline whatever the tasks do.
#include "epos/exec/blocking_pool.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kWaitLimit;
using testing_util::Latch;
using Clock = BlockingPool::Clock;

// A task that blocks until the test releases it.
struct Gatekeeper {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Latch started{1};
  BlockingPool::Task Task() {
    return [this] {
      started.CountDown();
      released.wait_for(kWaitLimit);
    };
  }
};

TEST(BlockingPoolTest, RunsTasksInFifoOrder) {
  BlockingPool pool(BlockingPoolOptions{1, 100});
  pool.Start();
  std::mutex mu;
  std::vector<int> order;
  Latch done(50);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.Submit([&, i] {
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      done.CountDown();
    }));
  }
  ASSERT_TRUE(done.Wait());
  BlockingPool::StopReport report = pool.Stop(Clock::now() + kWaitLimit);
  EXPECT_EQ(report.cancelled, 0u);
  EXPECT_EQ(report.abandoned, 0u);
  ASSERT_EQ(order.size(), 50u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(BlockingPoolTest, BackpressureWhenFull) {
  BlockingPool pool(BlockingPoolOptions{1, 2});
  EXPECT_EQ(pool.capacity(), 2u);
  pool.Start();
  Gatekeeper gate;
  ASSERT_TRUE(pool.Submit(gate.Task()));
  ASSERT_TRUE(gate.started.Wait());
  EXPECT_EQ(pool.running(), 1u);

  std::atomic<int> ran{0};
  Latch both(2);
  ASSERT_TRUE(pool.Submit([&] {
    ++ran;
    both.CountDown();
  }));
  ASSERT_TRUE(pool.Submit([&] {
    ++ran;
    both.CountDown();
  }));
  EXPECT_EQ(pool.queued(), 2u);
  auto token = std::make_shared<int>(0);
  Status full = pool.Submit([&ran, token] { ran += 100; });
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kBackpressure);
  EXPECT_EQ(token.use_count(), 1) << "a refused task must be destroyed";
  EXPECT_EQ(pool.queued(), 2u);

  gate.release.set_value();
  ASSERT_TRUE(both.Wait());
  EXPECT_EQ(ran.load(), 2);
  (void)pool.Stop(Clock::now() + kWaitLimit);
}

TEST(BlockingPoolTest, UnavailableAfterStop) {
  BlockingPool pool(BlockingPoolOptions{2, 8});
  pool.Start();
  (void)pool.Stop(Clock::now() + kWaitLimit);
  auto token = std::make_shared<int>(0);
  Status s = pool.Submit([token] {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(token.use_count(), 1);
  BlockingPool::StopReport again = pool.Stop(Clock::now());  // idempotent
  EXPECT_EQ(again.cancelled + again.abandoned, 0u);
}

// Stop drops the tasks that did not start (destroyed unrun, so what they own, such as an
// AsyncOp, is released) and waits for the running one.
TEST(BlockingPoolTest, StopCancelsQueuedTasksAndWaitsForTheRunningOne) {
  BlockingPool pool(BlockingPoolOptions{1, 16});
  pool.Start();
  Gatekeeper gate;
  std::atomic<bool> finished{false};
  ASSERT_TRUE(pool.Submit([&] {
    gate.Task()();
    finished = true;
  }));
  ASSERT_TRUE(gate.started.Wait());
  std::atomic<int> ran{0};
  auto token = std::make_shared<int>(0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Submit([&ran, token] { ++ran; }));
  BlockingPool::StopReport report;
  std::thread stopper([&] { report = pool.Stop(Clock::now() + kWaitLimit); });
  // Stop has taken the queue once the tasks are destroyed; then release the running one.
  while (token.use_count() > 1) std::this_thread::yield();
  gate.release.set_value();
  stopper.join();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(report.cancelled, 5u);
  EXPECT_EQ(report.abandoned, 0u);
}

// A task that outlives the deadline is left to finish on its own thread: Stop returns at
// the deadline and says so, and the task may still touch the pool's shared state safely
// after the pool object is gone (checked under ASan).
TEST(BlockingPoolTest, StopIsBoundedByItsDeadline) {
  Gatekeeper gate;
  Latch finished(1);
  BlockingPool::StopReport report;
  {
    BlockingPool pool(BlockingPoolOptions{2, 16});
    pool.Start();
    ASSERT_TRUE(pool.Submit([&] {
      gate.Task()();
      finished.CountDown();
    }));
    ASSERT_TRUE(gate.started.Wait());
    const auto start = Clock::now();
    report = pool.Stop(start + 50ms);
    EXPECT_LT(Clock::now() - start, kWaitLimit / 2) << "Stop waited past its deadline";
  }
  EXPECT_EQ(report.abandoned, 1u);
  EXPECT_EQ(report.cancelled, 0u);
  gate.release.set_value();
  ASSERT_TRUE(finished.Wait());
}

TEST(BlockingPoolTest, NeverStartedPoolDropsItsQueue) {
  auto token = std::make_shared<int>(0);
  BlockingPool pool(BlockingPoolOptions{1, 4});
  ASSERT_TRUE(pool.Submit([token] {}));
  BlockingPool::StopReport report = pool.Stop(Clock::now());
  EXPECT_EQ(report.cancelled, 1u);
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace
}  // namespace epos
