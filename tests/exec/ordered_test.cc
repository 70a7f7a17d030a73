// `ordered: true` (DESIGN.md §4 Ordering): an ordered node runs the pulses of one trace
// one at a time, in the order they were emitted; other traces run in parallel.
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using testing_util::Waiter;

// What the ordered node saw: element indices in call order, and whether two calls of the
// same trace ever overlapped.
struct Record {
  std::mutex mu;
  std::vector<std::int64_t> seen;
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
};

// split → (ordered) record → collect; the record node spins a little so that, unordered,
// several workers would run it at once and out of order.
std::shared_ptr<const Graph> SplitIntoRecorder(Record& record, bool ordered) {
  GraphBuilder b;
  NodeId split = b.AddNode("split", "split", MakeSplitNode());
  NodeId rec = b.AddNode("record", "function",
                         MakeFunctionNode([&record](Context& ctx, PortIndex, Value payload) {
                           if (record.running.fetch_add(1) != 0) record.overlapped = true;
                           {
                             std::lock_guard<std::mutex> lock(record.mu);
                             record.seen.push_back(payload.AsInt());
                           }
                           for (volatile int i = 0; i < 2000; i = i + 1) {
                           }
                           record.running.fetch_sub(1);
                           ctx.Emit(0, std::move(payload));
                         }));
  NodeId collect = b.AddNode("collect", "collect", MakeCollectNode());
  if (ordered) b.SetOrdered(rec);
  b.Connect(split, 0, rec, 0);
  b.Connect(rec, 0, collect, 0);
  auto graph = b.Build();
  EXPECT_TRUE(graph.has_value());
  return *graph;
}

Value Range(int n) {
  std::vector<Value> items;
  for (int i = 0; i < n; ++i) items.emplace_back(i);
  return Value::Array(std::move(items));
}

class OrderedTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(OrderedTest, RunsOneTracesPulsesOneAtATimeInEmissionOrder) {
  Runtime runtime(RuntimeOptions{.workers = GetParam()});
  runtime.Start();
  Record record;
  auto graph = SplitIntoRecorder(record, /*ordered=*/true);
  constexpr int kItems = 2000;
  Waiter waiter;
  ASSERT_TRUE(runtime.StartTrace(graph, 0, 0, Range(kItems), &waiter));
  ASSERT_TRUE(waiter.WaitComplete());
  EXPECT_FALSE(record.overlapped);
  std::vector<std::int64_t> expected(kItems);
  for (int i = 0; i < kItems; ++i) expected[i] = i;
  EXPECT_EQ(record.seen, expected);
  ASSERT_EQ(waiter.outcome().kind, Outcome::Kind::kReply);
  EXPECT_EQ(waiter.outcome().value.size(), static_cast<std::size_t>(kItems));
  EXPECT_EQ(runtime.traces().live(), 0u);
  EXPECT_EQ(runtime.traces().state_entries(), 0u);
}

TEST_P(OrderedTest, TracesDoNotWaitForEachOther) {
  // Two traces into the same ordered node: each is ordered on its own, and both finish.
  Runtime runtime(RuntimeOptions{.workers = GetParam()});
  runtime.Start();
  std::atomic<int> calls{0};
  GraphBuilder b;
  NodeId split = b.AddNode("split", "split", MakeSplitNode());
  NodeId rec = b.AddNode("count", "function",
                         MakeFunctionNode([&calls](Context& ctx, PortIndex, Value payload) {
                           calls.fetch_add(1);
                           ctx.Emit(0, std::move(payload));
                         }));
  NodeId collect = b.AddNode("collect", "collect", MakeCollectNode());
  b.SetOrdered(rec);
  b.Connect(split, 0, rec, 0);
  b.Connect(rec, 0, collect, 0);
  auto graph = *b.Build();
  constexpr int kTraces = 50;
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < kTraces; ++i) {
    waiters.push_back(std::make_unique<Waiter>());
    ASSERT_TRUE(runtime.StartTrace(graph, split, 0, Range(100), waiters.back().get()));
  }
  for (auto& w : waiters) {
    ASSERT_TRUE(w->WaitComplete());
    ASSERT_EQ(w->outcome().kind, Outcome::Kind::kReply);
    EXPECT_EQ(ToJson(w->outcome().value), ToJson(Range(100)));
  }
  EXPECT_EQ(calls.load(), kTraces * 100);
  EXPECT_EQ(runtime.traces().live(), 0u);
}

TEST_P(OrderedTest, AFailingTraceDropsItsWaitingPulses) {
  // The 3rd element fails the trace (no error port): the pulses still waiting for the
  // ordered node are dropped and everything is freed.
  Runtime runtime(RuntimeOptions{.workers = GetParam()});
  runtime.Start();
  std::atomic<int> calls{0};
  GraphBuilder b;
  NodeId split = b.AddNode("split", "split", MakeSplitNode());
  NodeId rec = b.AddNode("fail-at-2", "function",
                         MakeFunctionNode(
                             [&calls](Context& ctx, PortIndex, Value payload) {
                               calls.fetch_add(1);
                               if (payload.AsInt() == 2) {
                                 ctx.Fail("two");
                                 return;
                               }
                               ctx.Emit(0, std::move(payload));
                             },
                             PortShape{1, 1, true}));
  NodeId collect = b.AddNode("collect", "collect", MakeCollectNode());
  b.SetOrdered(rec);
  b.Connect(split, 0, rec, 0);
  b.Connect(rec, 0, collect, 0);
  auto graph = *b.Build();
  Waiter waiter;
  ASSERT_TRUE(runtime.StartTrace(graph, split, 0, Range(1000), &waiter));
  ASSERT_TRUE(waiter.WaitComplete());
  EXPECT_EQ(waiter.outcome().kind, Outcome::Kind::kError);
  // Elements after the failing one may already have been dequeued and dropped, never run:
  // in order, the node ran exactly 0, 1 and 2.
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(runtime.traces().live(), 0u);
  EXPECT_EQ(runtime.traces().state_entries(), 0u);
}

TEST_P(OrderedTest, ALoopThroughAnOrderedNodeKeepsItsHopBudget) {
  Runtime runtime(RuntimeOptions{.workers = GetParam()});
  runtime.Start();
  GraphBuilder b;
  NodeId loop = b.AddNode("loop", "nop", MakeNopNode());
  b.SetOrdered(loop);
  b.Connect(loop, 0, loop, 0);
  auto graph = *b.Build();
  Waiter waiter;
  ASSERT_TRUE(
      runtime.StartTrace(graph, loop, 0, Value(1), &waiter, TraceOptions{.hop_budget = 500}));
  ASSERT_TRUE(waiter.WaitComplete());
  ASSERT_EQ(waiter.outcome().kind, Outcome::Kind::kError);
  EXPECT_NE(ToJson(waiter.outcome().value).find("hop budget of 500"), std::string::npos);
  EXPECT_EQ(runtime.traces().live(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, OrderedTest, ::testing::Values(1u, 2u, 8u),
                         [](const auto& info) { return std::to_string(info.param) + "w"; });

TEST(OrderedTest, WithoutOrderedTheNodeRunsInParallel) {
  // The control: unordered, 8 workers run the recorder concurrently at least once in a
  // few attempts (on a 1-core machine this could fail, so only look for overlap or
  // disorder, not a particular amount).
  Runtime runtime(RuntimeOptions{.workers = 8});
  runtime.Start();
  bool parallel = false;
  for (int attempt = 0; attempt < 20 && !parallel; ++attempt) {
    Record record;
    auto graph = SplitIntoRecorder(record, /*ordered=*/false);
    Waiter waiter;
    ASSERT_TRUE(runtime.StartTrace(graph, 0, 0, Range(2000), &waiter));
    ASSERT_TRUE(waiter.WaitComplete());
    parallel = record.overlapped || !std::is_sorted(record.seen.begin(), record.seen.end());
  }
  EXPECT_TRUE(parallel);
}

}  // namespace
}  // namespace epos
