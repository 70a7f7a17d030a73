// Gate (exec/gate.h): admission stops at Close, and WaitUntilEmpty returns when the last
// unit leaves (woken, not polled), or at its deadline.
#include "epos/exec/gate.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kWaitLimit;
using Clock = std::chrono::steady_clock;

TEST(GateTest, RefusesEntryOnceClosed) {
  Gate gate(2);
  ASSERT_TRUE(gate.TryEnter(0));
  EXPECT_EQ(gate.count(), 1);
  gate.Close();
  EXPECT_TRUE(gate.closed());
  EXPECT_FALSE(gate.TryEnter(1));
  EXPECT_EQ(gate.count(), 1) << "a refused entry must not stay counted";
  gate.Leave(gate.shared_shard());  // units may leave on another shard than they entered
  EXPECT_EQ(gate.count(), 0);
  EXPECT_TRUE(gate.WaitUntilEmpty(Clock::now()));
}

TEST(GateTest, WaitEndsWhenTheLastUnitLeaves) {
  Gate gate(1);
  ASSERT_TRUE(gate.TryEnter(0));
  ASSERT_TRUE(gate.TryEnter(0));
  gate.Close();
  std::thread leaver([&] {
    gate.Leave(0);
    gate.Leave(0);
  });
  EXPECT_TRUE(gate.WaitUntilEmpty(Clock::now() + kWaitLimit));
  leaver.join();
}

TEST(GateTest, WaitGivesUpAtTheDeadline) {
  Gate gate(1);
  ASSERT_TRUE(gate.TryEnter(0));
  gate.Close();
  EXPECT_FALSE(gate.WaitUntilEmpty(Clock::now() + 20ms));
  gate.Leave(0);
  EXPECT_TRUE(gate.WaitUntilEmpty(Clock::now()));
}

// Threads enter on the shards they own and leave on the shared one while the gate closes:
// every admitted unit is counted (the wait never ends while one is inside) and the wait
// ends once they left.
TEST(GateTest, CloseRacingEntriesLosesNoUnit) {
  for (int round = 0; round < 50; ++round) {
    constexpr unsigned kThreads = 4;
    Gate gate(kThreads);
    std::atomic<int> inside{0};
    std::atomic<bool> violated{false};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        while (gate.TryEnter(t)) {
          inside.fetch_add(1);
          inside.fetch_sub(1);
          gate.Leave(t % 2 == 0 ? t : gate.shared_shard());
        }
      });
    }
    go = true;
    std::this_thread::yield();
    gate.Close();
    ASSERT_TRUE(gate.WaitUntilEmpty(Clock::now() + kWaitLimit));
    if (inside.load() != 0) violated = true;
    for (std::thread& t : threads) t.join();
    EXPECT_FALSE(violated.load()) << "the wait ended with a unit inside (round " << round << ")";
    EXPECT_EQ(gate.count(), 0);
  }
}

}  // namespace
}  // namespace epos
