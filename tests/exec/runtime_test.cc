// Tests of the execution semantics (DESIGN.md §4) through Runtime, at 1, 2 and 8
// workers. Every test waits for its traces to complete (an observer's OnComplete) and
// then checks that completion freed everything: no live trace, no state entry.
#include "epos/exec/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"
#include "epos/exec/context.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kSanitized;
using testing_util::kWaitLimit;
using testing_util::Latch;
using testing_util::Waiter;
using Clock = std::chrono::steady_clock;
using Kind = Outcome::Kind;

std::string J(const Value& v) { return ToJson(v); }

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string ErrorText(const Outcome& o) {
  const Value* e = o.value.Find("error");
  return e != nullptr && e->IsString() ? std::string(e->AsString()) : std::string();
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kReply:
      return "reply";
    case Kind::kNoReply:
      return "no reply";
    case Kind::kError:
      return "error";
  }
  return "?";
}

// --- Observers and helpers ----------------------------------------------------------

// Hands AsyncOps from nodes to the test thread.
class OpBox {
 public:
  void Put(AsyncOp op) {
    std::lock_guard<std::mutex> lock(mu_);
    ops_.push_back(std::move(op));
    cv_.notify_all();
  }
  // A disarmed op when none arrived in time.
  AsyncOp Take(std::chrono::nanoseconds limit = kWaitLimit) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, limit, [&] { return !ops_.empty(); })) return AsyncOp();
    AsyncOp op = std::move(ops_.front());
    ops_.pop_front();
    return op;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AsyncOp> ops_;
};

// Keeps an armed op from ever being delivered or abandoned, without a heap leak: used
// only on failure paths where the trace is already gone and touching it would be a
// use-after-free.
void Quarantine(AsyncOp op) {
  alignas(AsyncOp) static unsigned char storage[8][sizeof(AsyncOp)];
  static std::atomic<int> next{0};
  int slot = next.fetch_add(1) % 8;
  new (storage[slot]) AsyncOp(std::move(op));  // never destroyed, on purpose
}

// Builds test graphs by name.
class G {
 public:
  explicit G(std::uint64_t version = 1) : b_("test", version) {}
  NodeId Add(const std::string& name, const std::string& kind, std::unique_ptr<Node> node) {
    return b_.AddNode(name, kind, std::move(node));
  }
  NodeId Fn(const std::string& name, NodeFunction fn, PortShape shape = {}) {
    return b_.AddNode(name, "fn", MakeFunctionNode(std::move(fn), shape));
  }
  // A node emitting f(payload) on out.
  NodeId Map(const std::string& name, std::function<Value(const Value&)> f) {
    return Fn(name, [f](Context& ctx, PortIndex, Value p) { ctx.Emit(0, f(p)); });
  }
  void Connect(std::string_view from, std::string_view out, std::string_view to,
               std::string_view in, std::unique_ptr<Guard> guard = nullptr) {
    b_.Connect(from, out, to, in, std::move(guard));
  }
  std::shared_ptr<const Graph> Build() {
    auto g = b_.Build();
    EXPECT_TRUE(g) << g.error().message;
    return g ? *g : nullptr;
  }

 private:
  GraphBuilder b_;
};

std::unique_ptr<Guard> When(std::function<bool(const Value&)> f, std::string text = "test") {
  return MakeGuard(std::move(f), std::move(text));
}

Value Plus(const Value& v, std::int64_t n) { return Value(v.AsInt() + n); }

Value Ints(std::initializer_list<std::int64_t> xs) {
  std::vector<Value> v;
  for (auto x : xs) v.emplace_back(Value(x));
  return Value::Array(std::move(v));
}

class RuntimeTest : public ::testing::TestWithParam<unsigned> {
 protected:
  void SetUp() override { NewRuntime({}); }

  void TearDown() override {
    if (!runtime_) return;  // a test that destroyed it checked it first
    // Completion frees all state.
    ExpectQuiet();
    runtime_->Stop();
    EXPECT_EQ(rt().traces().live(), 0);
  }

  void NewRuntime(BlockingPoolOptions blocking) {
    if (runtime_) runtime_->Stop();
    runtime_ = std::make_unique<Runtime>(RuntimeOptions{GetParam(), blocking});
    runtime_->Start();
  }

  Runtime& rt() { return *runtime_; }

  void ExpectQuiet() {
    EXPECT_EQ(rt().traces().live(), 0) << "a trace is still live";
    EXPECT_EQ(rt().traces().state_entries(), 0) << "trace state was not freed";
  }

  // Starts a trace observed by a Waiter owned by the fixture (it outlives the runtime's
  // last call to it).
  Waiter* Start(const std::shared_ptr<const Graph>& graph, NodeId entry, Value payload,
                const TraceOptions& options = {}, PortIndex port = 0) {
    waiters_.push_back(std::make_unique<Waiter>());
    Waiter* w = waiters_.back().get();
    auto id = rt().StartTrace(graph, entry, port, std::move(payload), w, options);
    EXPECT_TRUE(id) << id.error().message;
    return w;
  }

  struct Ran {
    Outcome outcome;
    TraceSummary summary;
  };
  // Runs one trace to completion and checks it left nothing behind.
  // (expect_quiet: false when other traces are meant to be in flight.)
  Ran Run(const std::shared_ptr<const Graph>& graph, NodeId entry, Value payload,
          const TraceOptions& options = {}, bool expect_quiet = true) {
    Waiter* w = Start(graph, entry, std::move(payload), options);
    EXPECT_TRUE(w->WaitComplete()) << "the trace did not complete";
    EXPECT_EQ(w->outcomes(), 1);
    EXPECT_EQ(w->completes(), 1);
    EXPECT_FALSE(w->out_of_order()) << "OnComplete came before OnOutcome";
    if (expect_quiet) ExpectQuiet();
    return {w->outcome(), w->summary()};
  }

  // Declared before runtime_: destroyed after it.
  std::vector<std::unique_ptr<Waiter>> waiters_;
  std::unique_ptr<Runtime> runtime_;
};

std::string WorkersName(const ::testing::TestParamInfo<unsigned>& info) {
  return "Workers" + std::to_string(info.param);
}

// --- Replies ------------------------------------------------------------------------

TEST_P(RuntimeTest, LeafOutPortRepliesWithItsPayload) {
  G g;
  g.Map("a", [](const Value& v) { return Plus(v, 1); });
  g.Map("b", [](const Value& v) { return Value(v.AsInt() * 2); });
  g.Map("c", [](const Value& v) { return Plus(v, 3); });
  g.Connect("a", "out", "b", "in");
  g.Connect("b", "out", "c", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("a"), Value(5));
  EXPECT_EQ(r.outcome.kind, Kind::kReply) << KindName(r.outcome.kind);
  EXPECT_EQ(J(r.outcome.value), "15");
  EXPECT_EQ(r.summary.hops, 3u);
  EXPECT_EQ(r.summary.late_replies, 0u);
  EXPECT_FALSE(r.summary.failed);
}

TEST_P(RuntimeTest, ContextDescribesTheRunningPulse) {
  std::promise<std::string> seen;
  std::atomic<TraceId> seen_id{0};
  G g;
  g.Fn("who", [&](Context& ctx, PortIndex port, Value) {
    seen_id = ctx.trace_id();
    seen.set_value(ctx.node_name() + "/" + ctx.node_kind() + "/" + std::to_string(ctx.node()) +
                   "/" + std::to_string(port) + "/" + std::to_string(ctx.frame_index()) + "/" +
                   std::to_string(ctx.frame_count()) + "/" + std::to_string(ctx.frame_depth()) +
                   "/" + std::string(ctx.graph().name_space()));
  });
  auto graph = g.Build();
  Waiter* w = Start(graph, 0, Value());
  ASSERT_TRUE(w->WaitComplete());
  EXPECT_EQ(seen.get_future().get(), "who/fn/0/0/0/0/0/test");
  EXPECT_EQ(seen_id.load(), w->id());
  EXPECT_EQ(w->summary().id, w->id());
  EXPECT_EQ(w->outcome().kind, Kind::kNoReply);
}

TEST_P(RuntimeTest, ReplyNodeAnswersAndTheTraceRunsOn) {
  std::atomic<int> after{0};
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("reply", "reply", MakeReplyNode());
  g.Fn("after", [&](Context&, PortIndex, Value) { ++after; });
  g.Connect("src", "out", "reply", "in");
  g.Connect("src", "out", "after", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("src"), Value("hello"));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "\"hello\"");
  EXPECT_EQ(after.load(), 1);
  EXPECT_EQ(r.summary.hops, 3u);
}

TEST_P(RuntimeTest, FirstReplyWinsAndLaterOnesAreCounted) {
  G g;
  g.Fn("chatty", [](Context& ctx, PortIndex, Value) {
    ctx.Reply("first");
    ctx.Reply("second");
    ctx.Emit(0, "leaf");  // an unconnected out: a third reply
  });
  auto graph = g.Build();
  const std::uint64_t before = rt().late_replies();
  auto r = Run(graph, 0, Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "\"first\"");
  EXPECT_EQ(r.summary.late_replies, 2u);
  EXPECT_EQ(rt().late_replies() - before, 2u);
}

TEST_P(RuntimeTest, ConcurrentRepliesAnswerOnce) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  for (int i = 0; i < 4; ++i) {
    std::string name = "r" + std::to_string(i);
    g.Map(name, [i](const Value&) { return Value(i); });
    g.Connect("src", "out", name, "in");
  }
  auto graph = g.Build();
  const std::uint64_t before = rt().late_replies();
  auto r = Run(graph, graph->Find("src"), Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  ASSERT_TRUE(r.outcome.value.IsInt());
  EXPECT_GE(r.outcome.value.AsInt(), 0);
  EXPECT_LT(r.outcome.value.AsInt(), 4);
  EXPECT_EQ(r.summary.late_replies, 3u);
  EXPECT_EQ(rt().late_replies() - before, 3u);
}

TEST_P(RuntimeTest, NoReplyWhenNothingAnswers) {
  G g;
  g.Fn("silent", [](Context&, PortIndex, Value) {});
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kNoReply);
  EXPECT_TRUE(r.outcome.value.IsNull());
  EXPECT_FALSE(r.summary.failed);
  EXPECT_EQ(r.summary.hops, 1u);
}

// --- Errors -------------------------------------------------------------------------

TEST_P(RuntimeTest, ConnectedErrorPortReceivesTheErrorMap) {
  G g;
  g.Add("thrower", "throw", MakeThrowNode("boom"));
  g.Map("catcher", [](const Value& v) { return v; });
  g.Connect("thrower", "error", "catcher", "in");
  auto graph = g.Build();
  const std::uint64_t failed_before = rt().traces().failed();
  auto r = Run(graph, graph->Find("thrower"), Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kReply) << KindName(r.outcome.kind);
  EXPECT_EQ(J(r.outcome.value), R"({"error":"boom","node":"thrower","kind":"throw"})");
  EXPECT_FALSE(r.summary.failed);
  EXPECT_EQ(rt().traces().failed(), failed_before);
}

TEST_P(RuntimeTest, UnconnectedErrorPortFailsTheTrace) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("thrower", "throw", MakeThrowNode("boom"));
  g.Connect("src", "out", "thrower", "in");
  auto graph = g.Build();
  const std::uint64_t failed_before = rt().traces().failed();
  auto r = Run(graph, graph->Find("src"), Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kError) << KindName(r.outcome.kind);
  EXPECT_EQ(J(r.outcome.value), R"({"error":"boom","node":"thrower","kind":"throw"})");
  EXPECT_TRUE(r.summary.failed);
  EXPECT_EQ(rt().traces().failed(), failed_before + 1);
}

TEST_P(RuntimeTest, CxxExceptionIsANodeFailure) {
  for (bool connected : {false, true}) {
    SCOPED_TRACE(connected ? "error port connected" : "error port unconnected");
    G g;
    g.Fn("explode", [](Context&, PortIndex, Value) -> void { throw std::runtime_error("kaput"); });
    g.Map("catcher", [](const Value& v) { return v; });
    if (connected) g.Connect("explode", "error", "catcher", "in");
    auto graph = g.Build();
    auto r = Run(graph, graph->Find("explode"), Value());
    EXPECT_EQ(r.outcome.kind, connected ? Kind::kReply : Kind::kError);
    EXPECT_EQ(J(r.outcome.value), R"({"error":"kaput","node":"explode","kind":"fn"})");
    EXPECT_EQ(r.summary.failed, !connected);
  }
}

// node.h: "Exceptions thrown by OnPulse/OnQuiescent are caught at the node boundary and
// become a failure of the node (`error` port, or the trace fails)" — whatever is thrown.
TEST_P(RuntimeTest, NonStandardExceptionGoesToTheErrorPort) {
  G g;
  g.Fn("explode", [](Context&, PortIndex, Value) -> void { throw 42; });
  g.Map("catcher", [](const Value& v) { return v; });
  g.Connect("explode", "error", "catcher", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("explode"), Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply)
      << "got " << KindName(r.outcome.kind) << " " << J(r.outcome.value);
  EXPECT_EQ(ErrorText(r.outcome), "unknown exception");
  EXPECT_FALSE(r.summary.failed);
}

// Work that becomes runnable after the trace failed is dropped: a sleep's completion.
TEST_P(RuntimeTest, FailureDropsPulsesQueuedAfterIt) {
  std::atomic<int> counter{0};
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("thrower", "throw", MakeThrowNode("boom"));
  g.Add("sleep", "sleep", MakeSleepNode(50ms));
  g.Fn("counter", [&](Context&, PortIndex, Value) { ++counter; });
  g.Connect("src", "out", "thrower", "in");
  g.Connect("src", "out", "sleep", "in");
  g.Connect("sleep", "out", "counter", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("src"), Value());
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(ErrorText(r.outcome), "boom");
  EXPECT_EQ(counter.load(), 0) << "a pulse of a failed trace ran";
}

// The same, made certain: the async completion is delivered only after the origin saw
// the failure.
TEST_P(RuntimeTest, FailureDropsAsyncCompletionsDeliveredAfterIt) {
  OpBox box;
  std::atomic<int> resumed{0}, counter{0};
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("thrower", "throw", MakeThrowNode("boom"));
  // Starts the operation, then sends the pulse on to the thrower (out[1]).
  g.Fn(
      "hold",
      [&](Context& ctx, PortIndex port, Value p) {
        if (port == kResumePort) {
          ++resumed;
          ctx.Emit(0, std::move(p));
          return;
        }
        box.Put(ctx.BeginAsync());
        ctx.Emit(1, std::move(p));
      },
      PortShape{1, 2, true});
  g.Fn("counter", [&](Context&, PortIndex, Value) { ++counter; });
  g.Connect("src", "out", "hold", "in");
  g.Connect("hold", "out[1]", "thrower", "in");
  g.Connect("hold", "out", "counter", "in");
  auto graph = g.Build();
  Waiter* w = Start(graph, graph->Find("src"), Value());
  AsyncOp op = box.Take();
  ASSERT_TRUE(op.armed());
  ASSERT_TRUE(w->WaitOutcome());
  EXPECT_EQ(w->outcome().kind, Kind::kError);
  EXPECT_EQ(w->completes(), 0) << "the trace completed with an async operation pending";
  op.Resume(Value(1));
  ASSERT_TRUE(w->WaitComplete());
  EXPECT_TRUE(w->summary().failed);
  EXPECT_EQ(resumed.load(), 0);
  EXPECT_EQ(counter.load(), 0);
}

TEST_P(RuntimeTest, OneTraceFailingDoesNotAffectAnother) {
  G g;
  g.Fn("route", [](Context& ctx, PortIndex, Value p) {
    if (p.AsInt() % 2 != 0) throw std::runtime_error("odd " + std::to_string(p.AsInt()));
    ctx.Emit(0, std::move(p));
  });
  g.Add("sleep", "sleep", MakeSleepNode(20ms));
  g.Map("double", [](const Value& v) { return Value(v.AsInt() * 2); });
  g.Connect("route", "out", "sleep", "in");
  g.Connect("sleep", "out", "double", "in");
  auto graph = g.Build();
  const std::uint64_t failed_before = rt().traces().failed();
  std::vector<Waiter*> ws;
  for (int i = 0; i < 40; ++i) ws.push_back(Start(graph, 0, Value(i)));
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(ws[i]->WaitComplete()) << i;
    Outcome o = ws[i]->outcome();
    if (i % 2 == 0) {
      EXPECT_EQ(o.kind, Kind::kReply) << i;
      EXPECT_EQ(J(o.value), std::to_string(2 * i));
    } else {
      EXPECT_EQ(o.kind, Kind::kError) << i;
      EXPECT_EQ(ErrorText(o), "odd " + std::to_string(i));
    }
  }
  EXPECT_EQ(rt().traces().failed() - failed_before, 20u);
  ExpectQuiet();
}

// --- Guards -------------------------------------------------------------------------

TEST_P(RuntimeTest, GuardPassesOrBlocks) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Map("big", [](const Value& v) { return Value("big " + std::to_string(v.AsInt())); });
  g.Connect("src", "out", "big", "in",
            When([](const Value& v) { return v.AsInt() > 3; }, "payload > 3"));
  auto graph = g.Build();
  auto pass = Run(graph, graph->Find("src"), Value(5));
  EXPECT_EQ(pass.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(pass.outcome.value), "\"big 5\"");
  auto block = Run(graph, graph->Find("src"), Value(1));
  EXPECT_EQ(block.outcome.kind, Kind::kNoReply);
  EXPECT_EQ(block.summary.hops, 1u);
}

TEST_P(RuntimeTest, GuardedFanOut) {
  std::mutex mu;
  std::multiset<std::string> ran;
  auto record = [&](std::string name) {
    return [&, name](Context&, PortIndex, Value) {
      std::lock_guard<std::mutex> lock(mu);
      ran.insert(name);
    };
  };
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Fn("even", record("even"));
  g.Fn("odd", record("odd"));
  g.Fn("all", record("all"));
  g.Connect("src", "out", "even", "in", When([](const Value& v) { return v.AsInt() % 2 == 0; }));
  g.Connect("src", "out", "odd", "in", When([](const Value& v) { return v.AsInt() % 2 != 0; }));
  g.Connect("src", "out", "all", "in");
  auto graph = g.Build();
  EXPECT_EQ(Run(graph, 0, Value(4)).outcome.kind, Kind::kNoReply);
  EXPECT_EQ(ran, (std::multiset<std::string>{"all", "even"}));
  ran.clear();
  EXPECT_EQ(Run(graph, 0, Value(3)).outcome.kind, Kind::kNoReply);
  EXPECT_EQ(ran, (std::multiset<std::string>{"all", "odd"}));
}

TEST_P(RuntimeTest, ThrowingGuardFailsTheEmittingNode) {
  for (bool connected : {true, false}) {
    SCOPED_TRACE(connected ? "error port connected" : "error port unconnected");
    std::atomic<int> target_ran{0};
    G g;
    g.Map("src", [](const Value& v) { return v; });
    g.Fn("target", [&](Context&, PortIndex, Value) { ++target_ran; });
    g.Map("catcher", [](const Value& v) { return v; });
    g.Connect("src", "out", "target", "in",
              When([](const Value&) -> bool { throw std::runtime_error("bad guard"); }));
    if (connected) g.Connect("src", "error", "catcher", "in");
    auto graph = g.Build();
    auto r = Run(graph, graph->Find("src"), Value(1));
    EXPECT_EQ(r.outcome.kind, connected ? Kind::kReply : Kind::kError);
    EXPECT_EQ(J(r.outcome.value), R"({"error":"bad guard","node":"src","kind":"fn"})");
    EXPECT_EQ(target_ran.load(), 0);
  }
}

// --- Cycles and the hop budget ------------------------------------------------------

TEST_P(RuntimeTest, EndlessLoopFailsWithTheHopBudget) {
  G g;
  g.Map("loop", [](const Value& v) { return Plus(v, 1); });
  g.Connect("loop", "out", "loop", "in");
  auto graph = g.Build();

  TraceOptions small;
  small.hop_budget = 1000;
  auto r = Run(graph, 0, Value(0), small);
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "hop budget of 1000")) << J(r.outcome.value);
  EXPECT_EQ(J(r.outcome.value["node"]), "\"loop\"");
  EXPECT_TRUE(r.summary.failed);

  auto d = Run(graph, 0, Value(0));
  EXPECT_EQ(d.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(d.outcome), "hop budget of 100000")) << J(d.outcome.value);
}

TEST_P(RuntimeTest, FanOutLoopFailsWithTheHopBudget) {
  G g;
  g.Add("loop", "nop", MakeNopNode());
  g.Add("a", "nop", MakeNopNode());
  g.Add("b", "nop", MakeNopNode());
  g.Connect("loop", "out", "a", "in");
  g.Connect("loop", "out", "b", "in");
  g.Connect("a", "out", "loop", "in");
  g.Connect("b", "out", "loop", "in");
  auto graph = g.Build();
  TraceOptions small;
  small.hop_budget = 2000;
  auto r = Run(graph, 0, Value(0), small);
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "hop budget of 2000")) << J(r.outcome.value);
}

// A loop through a split: every round runs in a new, deeper split frame. The budget is
// the trace's, so it must stop this loop like any other. (The node gives up by itself
// after 100k rounds, so a runtime that misses the budget fails the test instead of
// running forever.)
TEST_P(RuntimeTest, LoopThroughASplitFailsWithTheHopBudget) {
  std::atomic<int> rounds{0};
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("again", [&](Context& ctx, PortIndex, Value p) {
    if (rounds.fetch_add(1) >= 100000) return;
    ctx.Emit(0, Value::Array({p}));
  });
  g.Connect("split", "out", "again", "in");
  g.Connect("again", "out", "split", "in");
  auto graph = g.Build();
  TraceOptions small;
  small.hop_budget = 1000;
  auto r = Run(graph, 0, Ints({1}), small);
  EXPECT_EQ(r.outcome.kind, Kind::kError)
      << KindName(r.outcome.kind) << " after " << rounds.load() << " rounds";
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "hop budget of 1000")) << J(r.outcome.value);
  EXPECT_LE(rounds.load(), 1000);
}

// TraceSummary::hops is "pulses processed": a trace stopped by its hop budget processed
// about that many.
TEST_P(RuntimeTest, FailedTraceSummaryCountsItsHops) {
  G g;
  g.Map("loop", [](const Value& v) { return Plus(v, 1); });
  g.Connect("loop", "out", "loop", "in");
  auto graph = g.Build();
  TraceOptions small;
  small.hop_budget = 1000;
  auto r = Run(graph, 0, Value(0), small);
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_GE(r.summary.hops, 1000u)
      << "a trace that hit a budget of 1000 reports " << r.summary.hops << " hops";
  EXPECT_LE(r.summary.hops, 1001u);
}

TEST_P(RuntimeTest, BoundedLoopCompletes) {
  G g;
  g.Fn(
      "count",
      [](Context& ctx, PortIndex, Value p) {
        if (p.AsInt() < 50) {
          ctx.Emit(0, Plus(p, 1));
        } else {
          ctx.Emit(1, std::move(p));  // unconnected: the reply
        }
      },
      PortShape{1, 2, true});
  g.Connect("count", "out", "count", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(0));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "50");
  EXPECT_EQ(r.summary.hops, 51u);
}

// --- Deadlines ----------------------------------------------------------------------

TEST_P(RuntimeTest, DeadlineFailsASlowTrace) {
  G g;
  g.Add("slow", "sleep", MakeSleepNode(5s));
  auto graph = g.Build();
  TraceOptions options;
  options.timeout = 100ms;
  const auto start = Clock::now();
  std::future<Outcome> f = rt().Call(graph, 0, 0, Value(), options);
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready) << "the deadline did not fail the trace";
  EXPECT_LT(Clock::now() - start, 3s);
  Outcome o = f.get();
  EXPECT_EQ(o.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(o), "deadline")) << J(o.value);
  EXPECT_TRUE(Contains(ErrorText(o), "100ms")) << J(o.value);
  EXPECT_EQ(J(o.value["node"]), "\"slow\"");
  // The failure cancelled the sleep, so the trace finishes by itself: a stop has nothing
  // to abort.
  StopReport report = rt().Stop(10s);
  EXPECT_EQ(report.aborted, 0u);
  ExpectQuiet();
}

// A failed trace does not sit on its sleeps: its timers are cancelled, so it completes
// and frees its state right after the deadline, not when the sleep would have ended.
TEST_P(RuntimeTest, DeadlineCancelsTheSleepsOfTheFailedTrace) {
  G g;
  g.Add("slow", "sleep", MakeSleepNode(30s));
  auto graph = g.Build();
  TraceOptions options;
  options.timeout = 50ms;
  const auto start = Clock::now();
  Waiter* w = Start(graph, 0, Value(), options);
  ASSERT_TRUE(w->WaitComplete(10s)) << "the failed trace waited for its sleep";
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(w->outcome().kind, Kind::kError);
  EXPECT_EQ(rt().timers().pending(), 0u);
  ExpectQuiet();
}

TEST_P(RuntimeTest, FastTraceWithADeadlineCompletesNormally) {
  G g;
  g.Map("a", [](const Value& v) { return Plus(v, 1); });
  g.Add("sleep", "sleep", MakeSleepNode(5ms));
  g.Connect("a", "out", "sleep", "in");
  auto graph = g.Build();
  TraceOptions options;
  options.timeout = 10s;
  auto r = Run(graph, 0, Value(1), options);
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "2");
  EXPECT_FALSE(r.summary.failed);
  EXPECT_EQ(rt().timers().pending(), 0u) << "the deadline timer outlived its trace";
}

// The deadline fires on the timer thread while the trace's last pulse runs on a worker.
// TraceObserver promises OnOutcome then OnComplete, never overlapping ("both are called
// exactly once, in that order"); with Call() the observer deletes itself in OnComplete.
class SlowOutcomeObserver final : public TraceObserver {
 public:
  std::atomic<bool> outcome_started{false};
  void OnOutcome(TraceId, Outcome outcome) override {
    outcome_started.store(true);
    std::unique_lock<std::mutex> lock(mu_);
    // Give a wrong implementation room to report completion meanwhile.
    cv_.wait_for(lock, 300ms, [&] { return completed_; });
    if (completed_) completed_during_outcome_ = true;
    outcome_ = std::move(outcome);
    outcome_done_ = true;
    cv_.notify_all();
  }
  void OnComplete(const TraceSummary&) override {
    std::lock_guard<std::mutex> lock(mu_);
    completed_ = true;
    cv_.notify_all();
  }
  bool WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, [&] { return completed_ && outcome_done_; });
  }
  bool completed_during_outcome() {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_during_outcome_;
  }
  Outcome outcome() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcome_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool completed_ = false;
  bool outcome_done_ = false;
  bool completed_during_outcome_ = false;
  Outcome outcome_;
};

TEST_P(RuntimeTest, DeadlineRacingCompletionStillReportsOutcomeBeforeCompletion) {
  SlowOutcomeObserver observer;
  G g;
  g.Fn("busy", [&](Context&, PortIndex, Value) {
    // Still running when the deadline fires; returns (completing the trace) while the
    // deadline's outcome is being delivered.
    const auto limit = Clock::now() + kWaitLimit;
    while (!observer.outcome_started.load() && Clock::now() < limit) std::this_thread::yield();
  });
  auto graph = g.Build();
  TraceOptions options;
  options.timeout = 20ms;
  ASSERT_TRUE(rt().StartTrace(graph, 0, 0, Value(), &observer, options));
  ASSERT_TRUE(observer.WaitDone());
  EXPECT_EQ(observer.outcome().kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(observer.outcome()), "deadline"));
  EXPECT_FALSE(observer.completed_during_outcome())
      << "OnComplete ran while the deadline's OnOutcome was still running";
  ExpectQuiet();
}

// The deadline callback is taken off the timer's list (so CompleteTrace cannot cancel
// it) but has not run yet when the trace completes and the last pin of its graph goes:
// the callback must then leave the trace alone. Orchestrated on the timer thread: a
// first timer blocks it until both the trace's deadline and a second timer (due just
// before the deadline) are due; the second one lets the trace finish and waits for its
// completion, and the deadline callback runs right after it, in the same batch.
TEST_P(RuntimeTest, DeadlineFiringAfterCompletionLeavesTheFreedGraphAlone) {
  std::promise<void> release_timer;
  std::shared_future<void> timer_released = release_timer.get_future().share();
  std::promise<void> timer_blocked;
  rt().timers().After(0ms, [&](bool) {
    timer_blocked.set_value();
    timer_released.wait_for(kWaitLimit);
  });
  ASSERT_EQ(timer_blocked.get_future().wait_for(kWaitLimit), std::future_status::ready);

  std::promise<void> finish;
  std::shared_future<void> finished = finish.get_future().share();
  auto alive = std::make_shared<int>(0);
  G g;
  g.Fn("busy", [finished, alive](Context&, PortIndex, Value) { finished.wait_for(kWaitLimit); });
  auto graph = g.Build();
  TraceOptions options;
  options.timeout = 20ms;
  const auto before = Clock::now();
  Waiter* w = Start(graph, 0, Value(), options);
  graph.reset();  // the trace's pin is all that keeps the graph
  rt().timers().Schedule(before + 19ms, [&](bool) {
    finish.set_value();
    w->WaitComplete();  // graph unpinned and freed; the deadline callback runs next
  });
  testing_util::Latch after_deadline(1);
  rt().timers().Schedule(before + 40ms, [&](bool) { after_deadline.CountDown(); });
  while (Clock::now() < before + 50ms) std::this_thread::yield();  // all three are due
  release_timer.set_value();
  ASSERT_TRUE(after_deadline.Wait());
  ASSERT_TRUE(w->WaitComplete());
  EXPECT_EQ(w->outcomes(), 1);
  ExpectQuiet();
  rt().FlushRetiredGraphs();  // deleted on the runtime's reaper thread
  EXPECT_EQ(alive.use_count(), 1) << "the graph outlived its last trace";
}

// --- Split and collect --------------------------------------------------------------

// A node that delays each element by `delay(element)` and then emits `after(element)`.
NodeFunction Delay(std::function<std::chrono::nanoseconds(const Value&)> delay,
                   std::function<Value(const Value&)> after) {
  return [delay, after](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) {
      ctx.Emit(0, after(p));
    } else {
      ctx.StartTimer(delay(p), std::move(p));
    }
  };
}

TEST_P(RuntimeTest, CollectKeepsSplitOrderWhenItemsFinishOutOfOrder) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("work", Delay([](const Value& v) { return (8 - v.AsInt()) * 5ms; },
                     [](const Value& v) { return Value(v.AsInt() * 10); }));
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "work", "in");
  g.Connect("work", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("split"), Ints({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[0,10,20,30,40,50,60,70]");
  EXPECT_EQ(r.summary.late_replies, 0u);
}

TEST_P(RuntimeTest, CollectAfterAGuardKeepsOrderWithItemsMissing) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("work", Delay([](const Value& v) { return (7 - v.AsInt()) * 5ms; },
                     [](const Value& v) { return Value(v.AsInt() * 10); }));
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "work", "in",
            When([](const Value& v) { return v.AsInt() % 2 == 0; }, "even"));
  g.Connect("work", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("split"), Ints({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[20,40,60]");
  EXPECT_EQ(r.summary.late_replies, 0u);
}

TEST_P(RuntimeTest, CollectAfterErrorsKeepsTheRest) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("work", [](Context& ctx, PortIndex, Value p) {
    if (p.AsInt() == 2) {
      ctx.Fail("two is bad");
      return;
    }
    ctx.Emit(0, std::move(p));
  });
  g.Fn("swallow", [](Context&, PortIndex, Value) {});
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "work", "in");
  g.Connect("work", "out", "collect", "in");
  g.Connect("work", "error", "swallow", "in");
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("split"), Ints({1, 2, 3}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[1,3]");
}

TEST_P(RuntimeTest, NestedSplitsAndCollects) {
  const Value input = Value::Array({Ints({1, 2}), Ints({3})});
  {
    SCOPED_TRACE("inner arrays");
    std::atomic<int> bad_depth{0};
    G g;
    g.Add("outer", "split", MakeSplitNode());
    g.Add("inner", "split", MakeSplitNode());
    g.Fn("x10", [&](Context& ctx, PortIndex, Value p) {
      if (ctx.frame_depth() != 2) ++bad_depth;
      ctx.Emit(0, Value(p.AsInt() * 10));
    });
    g.Add("collect_inner", "collect", MakeCollectNode());
    g.Add("collect_outer", "collect", MakeCollectNode());
    g.Connect("outer", "out", "inner", "in");
    g.Connect("inner", "out", "x10", "in");
    g.Connect("x10", "out", "collect_inner", "in");
    g.Connect("collect_inner", "out", "collect_outer", "in");
    auto graph = g.Build();
    auto r = Run(graph, graph->Find("outer"), input);
    EXPECT_EQ(r.outcome.kind, Kind::kReply);
    EXPECT_EQ(J(r.outcome.value), "[[10,20],[30]]");
    EXPECT_EQ(bad_depth.load(), 0);
  }
  {
    SCOPED_TRACE("inner sums");
    G g;
    g.Add("outer", "split", MakeSplitNode());
    g.Add("inner", "split", MakeSplitNode());
    g.Fn("delay", Delay([](const Value& v) { return (4 - v.AsInt()) * 5ms; },
                        [](const Value& v) { return v; }));
    g.Add("collect_inner", "collect", MakeCollectNode());
    g.Fn("sum", [](Context& ctx, PortIndex, Value p) {
      if (ctx.frame_depth() != 1) throw std::runtime_error("sum runs in the outer frame");
      std::int64_t s = 0;
      for (const Value& v : p.AsArray()) s += v.AsInt();
      ctx.Emit(0, Value(s));
    });
    g.Add("collect_outer", "collect", MakeCollectNode());
    g.Connect("outer", "out", "inner", "in");
    g.Connect("inner", "out", "delay", "in");
    g.Connect("delay", "out", "collect_inner", "in");
    g.Connect("collect_inner", "out", "sum", "in");
    g.Connect("sum", "out", "collect_outer", "in");
    auto graph = g.Build();
    auto r = Run(graph, graph->Find("outer"), input);
    EXPECT_EQ(r.outcome.kind, Kind::kReply) << J(r.outcome.value);
    EXPECT_EQ(J(r.outcome.value), "[3,3]");
  }
}

TEST_P(RuntimeTest, SplitOfANonArrayFails) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(7));
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(J(r.outcome.value),
            R"({"error":"split expects an array, got int","node":"split","kind":"split"})");
}

TEST_P(RuntimeTest, SplitOfAnEmptyArrayEmitsNothing) {
  std::atomic<int> ran{0};
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("work", [&](Context& ctx, PortIndex, Value p) {
    ++ran;
    ctx.Emit(0, std::move(p));
  });
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "work", "in");
  g.Connect("work", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Value::Array({}));
  EXPECT_EQ(r.outcome.kind, Kind::kNoReply);
  EXPECT_EQ(ran.load(), 0);
}

TEST_P(RuntimeTest, CollectOutsideASplitGathersAtQuiescence) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("collect", "collect", MakeCollectNode());
  for (int i = 0; i < 3; ++i) {
    std::string name = "b" + std::to_string(i);
    g.Map(name, [i](const Value& v) { return Plus(v, i); });
    g.Connect("src", "out", name, "in");
    g.Connect(name, "out", "collect", "in");
  }
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(10));
  ASSERT_EQ(r.outcome.kind, Kind::kReply);
  ASSERT_TRUE(r.outcome.value.IsArray());
  std::vector<std::int64_t> got;
  for (const Value& v : r.outcome.value.AsArray()) got.push_back(v.AsInt());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::int64_t>{10, 11, 12}));
}

// --- Join ---------------------------------------------------------------------------

TEST_P(RuntimeTest, JoinEmitsInPortOrder) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Fn("b0", Delay([](const Value&) { return 30ms; }, [](const Value& v) { return v; }));
  g.Fn("b1", Delay([](const Value&) { return 15ms; }, [](const Value& v) { return Plus(v, 1); }));
  g.Map("b2", [](const Value& v) { return Plus(v, 2); });
  g.Add("join", "join", MakeJoinNode());
  g.Connect("src", "out", "b0", "in");
  g.Connect("src", "out", "b1", "in");
  g.Connect("src", "out", "b2", "in");
  g.Connect("b0", "out", "join", "in[0]");
  g.Connect("b1", "out", "join", "in[1]");
  g.Connect("b2", "out", "join", "in[2]");
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(10));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[10,11,12]");
}

TEST_P(RuntimeTest, JoinPairsRepeatedPulsesRoundByRound) {
  G g;
  g.Fn(
      "twice",
      [](Context& ctx, PortIndex, Value) {
        ctx.Emit(0, "a");
        ctx.Emit(0, "a");
        ctx.Emit(1, "b");
        ctx.Emit(1, "b");
      },
      PortShape{1, 2, true});
  g.Add("join", "join", MakeJoinNode());
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("twice", "out[0]", "join", "in[0]");
  g.Connect("twice", "out[1]", "join", "in[1]");
  g.Connect("join", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), R"([["a","b"],["a","b"]])");
}

std::shared_ptr<const Graph> IncompleteJoinGraph(bool error_connected) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Map("a", [](const Value& v) { return v; });
  g.Map("b", [](const Value& v) { return v; });
  g.Map("c", [](const Value& v) { return v; });
  g.Add("join", "join", MakeJoinNode());
  g.Map("catcher", [](const Value& v) { return v; });
  g.Connect("src", "out", "a", "in");
  g.Connect("src", "out", "b", "in", When([](const Value&) { return false; }, "never"));
  g.Connect("src", "out", "c", "in");
  g.Connect("a", "out", "join", "in[0]");
  g.Connect("b", "out", "join", "in[1]");
  g.Connect("c", "out", "join", "in[2]");
  if (error_connected) g.Connect("join", "error", "catcher", "in");
  return g.Build();
}

TEST_P(RuntimeTest, IncompleteJoinEmitsOnItsErrorPort) {
  auto graph = IncompleteJoinGraph(true);
  auto r = Run(graph, 0, Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kReply) << KindName(r.outcome.kind);
  EXPECT_EQ(J(r.outcome.value),
            R"({"error":"join incomplete","missing":[1],"node":"join","kind":"join"})");
  EXPECT_FALSE(r.summary.failed);
}

TEST_P(RuntimeTest, IncompleteJoinFailsTheTraceWhenErrorIsUnconnected) {
  auto graph = IncompleteJoinGraph(false);
  auto r = Run(graph, 0, Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(J(r.outcome.value),
            R"({"error":"join incomplete","missing":[1],"node":"join","kind":"join"})");
  EXPECT_TRUE(r.summary.failed);
}

TEST_P(RuntimeTest, JoinInsideASplitJoinsPerElement) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Fn("a", Delay([](const Value& v) { return v.AsInt() * 5ms; },
                  [](const Value& v) { return Value(v.AsInt() * 2); }));
  g.Map("b", [](const Value& v) { return Plus(v, 100); });
  g.Add("join", "join", MakeJoinNode());
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "a", "in");
  g.Connect("split", "out", "b", "in");
  g.Connect("a", "out", "join", "in[0]");
  g.Connect("b", "out", "join", "in[1]");
  g.Connect("join", "out", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Ints({1, 2, 3}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[[2,101],[4,102],[6,103]]");
}

// An element whose join is incomplete fails alone: its error goes out in its own frame,
// the others are collected in order.
TEST_P(RuntimeTest, IncompleteJoinInsideASplitFailsOnlyItsElement) {
  std::mutex mu;
  std::vector<std::string> errors;
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Map("a", [](const Value& v) { return Value(v.AsInt() * 2); });
  g.Map("b", [](const Value& v) { return Plus(v, 100); });
  g.Add("join", "join", MakeJoinNode());
  g.Add("collect", "collect", MakeCollectNode());
  g.Fn("catcher", [&](Context& ctx, PortIndex, Value p) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(std::to_string(ctx.frame_index()) + "/" + std::to_string(ctx.frame_count()) +
                     " " + J(p["missing"]));
  });
  g.Connect("split", "out", "a", "in");
  g.Connect("split", "out", "b", "in", When([](const Value& v) { return v.AsInt() != 2; }));
  g.Connect("a", "out", "join", "in[0]");
  g.Connect("b", "out", "join", "in[1]");
  g.Connect("join", "out", "collect", "in");
  g.Connect("join", "error", "catcher", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Ints({1, 2, 3}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[[2,101],[6,103]]");
  EXPECT_EQ(errors, (std::vector<std::string>{"1/3 [1]"}));
}

// A join's error in a split frame that leads to the frame's collect: §4 says quiescence
// makes every incomplete join emit its error and every waiting collect emit what it has,
// "so no trace ever hangs". A user expects the error to take its element's slot in the
// one collected array, not a second array (a late reply) after the first.
TEST_P(RuntimeTest, IncompleteJoinErrorInsideASplitIsCollectedWithItsFrame) {
  G g;
  g.Add("split", "split", MakeSplitNode());
  g.Map("a", [](const Value& v) { return Value(v.AsInt() * 2); });
  g.Map("b", [](const Value& v) { return Plus(v, 100); });
  g.Add("join", "join", MakeJoinNode());
  g.Add("collect", "collect", MakeCollectNode());
  g.Connect("split", "out", "a", "in");
  g.Connect("split", "out", "b", "in", When([](const Value& v) { return v.AsInt() != 2; }));
  g.Connect("a", "out", "join", "in[0]");
  g.Connect("b", "out", "join", "in[1]");
  g.Connect("join", "out", "collect", "in");
  g.Connect("join", "error", "collect", "in");
  auto graph = g.Build();
  auto r = Run(graph, 0, Ints({1, 2, 3}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value),
            R"([[2,101],{"error":"join incomplete","missing":[1],"node":"join","kind":"join"},)"
            R"([6,103]])");
  EXPECT_EQ(r.summary.late_replies, 0u) << "the collect emitted more than once for one split";
}

TEST_P(RuntimeTest, ParallelSleepsFinishTogether) {
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("join", "join", MakeJoinNode());
  for (int i = 0; i < 8; ++i) {
    std::string name = "sleep" + std::to_string(i);
    g.Add(name, "sleep", MakeSleepNode(200ms));
    g.Connect("src", "out", name, "in");
    g.Connect(name, "out", "join", "in[" + std::to_string(i) + "]");
  }
  auto graph = g.Build();
  const auto start = Clock::now();
  auto r = Run(graph, graph->Find("src"), Value(1));
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "[1,1,1,1,1,1,1,1]");
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1200ms) << "the sleeps ran one after another";
}

// --- Asynchronous operations --------------------------------------------------------

TEST_P(RuntimeTest, RunBlockingResumesWithTheResult) {
  std::atomic<int> on_worker{0}, off_worker{0};
  G g;
  g.Fn("blocking", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) {
      ctx.Emit(0, std::move(p));
      return;
    }
    Runtime* runtime = &ctx.runtime();
    Status s = ctx.RunBlocking([p, runtime, &on_worker, &off_worker]() -> Result<Value> {
      (runtime->scheduler().CurrentWorker() == nullptr ? off_worker : on_worker)++;
      return Value(p.AsInt() * 2);
    });
    if (!s) throw std::runtime_error(s.error().message);
  });
  auto graph = g.Build();
  auto r = Run(graph, 0, Value(21));
  EXPECT_EQ(r.outcome.kind, Kind::kReply) << J(r.outcome.value);
  EXPECT_EQ(J(r.outcome.value), "42");
  EXPECT_EQ(off_worker.load(), 1);
  EXPECT_EQ(on_worker.load(), 0) << "blocking work ran on a worker";
}

TEST_P(RuntimeTest, RunBlockingErrorResumesOnTheErrorPort) {
  G g;
  g.Fn("blocking", [](Context& ctx, PortIndex port, Value p) {
    if (port == kResumeErrorPort) {
      ctx.Fail(p.AsString());
      return;
    }
    if (port == kResumePort) {
      ctx.Emit(0, "unexpected success");
      return;
    }
    Status s = ctx.RunBlocking(
        []() -> Result<Value> { return MakeError(ErrorCode::kInternal, "disk on fire"); });
    if (!s) throw std::runtime_error(s.error().message);
  });
  auto graph = g.Build();
  auto r = Run(graph, 0, Value());
  EXPECT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(J(r.outcome.value), R"({"error":"disk on fire","node":"blocking","kind":"fn"})");
}

TEST_P(RuntimeTest, RunBlockingReportsBackpressureWhenThePoolIsFull) {
  NewRuntime(BlockingPoolOptions{1, 1});
  std::mutex mu;
  std::vector<std::string> resumed;
  G g;
  g.Fn("submit", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) {
      std::lock_guard<std::mutex> lock(mu);
      resumed.emplace_back(p.AsString());
      return;
    }
    auto release = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    auto started = std::make_shared<std::atomic<bool>>(false);
    std::vector<Value> codes;
    auto code = [](const Status& s) {
      return s ? Value("ok") : Value(std::string(ErrorCodeName(s.error().code)));
    };
    // The first task occupies the only thread; the second waits in the queue (capacity
    // 1); the third finds the queue full.
    codes.push_back(code(ctx.RunBlocking([started, released]() -> Result<Value> {
      started->store(true);
      released.wait_for(kWaitLimit);
      return Value("one");
    })));
    const auto limit = Clock::now() + kWaitLimit;
    while (!started->load() && Clock::now() < limit) std::this_thread::yield();
    codes.push_back(code(ctx.RunBlocking([]() -> Result<Value> { return Value("two"); })));
    codes.push_back(code(ctx.RunBlocking([]() -> Result<Value> { return Value("three"); })));
    release->set_value();
    ctx.Reply(Value::Array(std::move(codes)));
  });
  auto graph = g.Build();
  auto r = Run(graph, 0, Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value),
            "[\"ok\",\"ok\",\"" + std::string(ErrorCodeName(ErrorCode::kBackpressure)) + "\"]");
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(resumed, (std::vector<std::string>{"one", "two"}));
}

TEST_P(RuntimeTest, AbandonedAsyncOpLetsTheTraceComplete) {
  std::atomic<int> resumes{0};
  std::mutex mu;
  std::vector<std::thread> threads;
  G g;
  g.Fn("abandon", [&](Context& ctx, PortIndex port, Value p) {
    if (port != 0) {
      ++resumes;
      return;
    }
    AsyncOp here = ctx.BeginAsync();
    EXPECT_TRUE(here.armed());
    if (p.AsInt() == 1) {
      // Dropped on another thread.
      AsyncOp there = ctx.BeginAsync();
      std::lock_guard<std::mutex> lock(mu);
      threads.emplace_back([op = std::move(there)]() mutable { AsyncOp dropped = std::move(op); });
    }
  });  // `here` is destroyed armed: abandoned
  auto graph = g.Build();
  for (int variant : {0, 1}) {
    auto r = Run(graph, 0, Value(variant));
    EXPECT_EQ(r.outcome.kind, Kind::kNoReply);
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(resumes.load(), 0) << "an abandoned operation delivered a pulse to its node";
}

TEST_P(RuntimeTest, AsyncOpResumedFromAnotherThread) {
  std::mutex mu;
  std::vector<std::thread> threads;
  G g;
  g.Fn("async", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) {
      ctx.Emit(0, Value::Map({{"ok", p}}));
      return;
    }
    if (port == kResumeErrorPort) {
      ctx.Emit(0, Value::Map({{"failed", p}}));
      return;
    }
    AsyncOp op = ctx.BeginAsync();
    std::lock_guard<std::mutex> lock(mu);
    threads.emplace_back([op = std::move(op), p]() mutable {
      if (p.AsInt() > 0) {
        op.Resume(Plus(p, 1));
      } else {
        op.ResumeError("negative");
      }
      EXPECT_FALSE(op.armed());
    });
  });
  auto graph = g.Build();
  EXPECT_EQ(J(Run(graph, 0, Value(41)).outcome.value), R"({"ok":42})");
  EXPECT_EQ(J(Run(graph, 0, Value(-1)).outcome.value), R"({"failed":"negative"})");
  for (std::thread& t : threads) t.join();
}

// A node that starts an async operation from OnQuiescent (e.g. a batch writer flushing
// what it gathered): the operation is pending, so the trace is not complete (§4: the
// active count includes asynchronous operations pending).
class FlushAtQuiescence final : public Node {
 public:
  explicit FlushAtQuiescence(OpBox* box) : box_(box) {}
  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    if (port == kResumePort) {
      ctx.Emit(0, std::move(payload));
      return;
    }
    auto lock = ctx.LockState();
    if (lock.Find<Batch>(StateKey::kScope) == nullptr) lock.Emplace<Batch>(StateKey::kScope);
  }
  void OnQuiescent(Context& ctx, std::unique_ptr<NodeState>) override {
    box_->Put(ctx.BeginAsync());
  }

 private:
  struct Batch final : NodeState {};
  OpBox* box_;
};

TEST_P(RuntimeTest, AsyncStartedAtQuiescenceKeepsTheTraceAlive) {
  OpBox box;
  G g;
  g.Add("flush", "flush", std::make_unique<FlushAtQuiescence>(&box));
  auto graph = g.Build();
  Waiter* w = Start(graph, 0, Value());
  AsyncOp op = box.Take();
  ASSERT_TRUE(op.armed()) << "OnQuiescent never ran";
  // Must not complete while the flush is pending.
  if (w->WaitComplete(300ms)) {
    ADD_FAILURE() << "the trace completed with an async operation pending (outcome "
                  << KindName(w->outcome().kind) << ")";
    Quarantine(std::move(op));  // resuming it now would touch the freed trace
    return;
  }
  op.Resume("flushed");
  ASSERT_TRUE(w->WaitComplete());
  EXPECT_EQ(w->outcome().kind, Kind::kReply);
  EXPECT_EQ(J(w->outcome().value), "\"flushed\"");
  ExpectQuiet();
}

// A node that holds state and throws from OnQuiescent: like OnPulse, whatever is thrown
// is a failure of the node, so it goes to the connected error port (node.h).
class ThrowAtQuiescence final : public Node {
 public:
  explicit ThrowAtQuiescence(bool standard) : standard_(standard) {}
  void OnPulse(Context& ctx, PortIndex, Value) override {
    auto lock = ctx.LockState();
    if (lock.Find<Held>(StateKey::kScope) == nullptr) lock.Emplace<Held>(StateKey::kScope);
  }
  void OnQuiescent(Context&, std::unique_ptr<NodeState>) override {
    if (standard_) throw std::runtime_error("flush failed");
    throw 42;
  }

 private:
  struct Held final : NodeState {};
  bool standard_;
};

TEST_P(RuntimeTest, ExceptionFromOnQuiescentGoesToTheErrorPort) {
  for (bool standard : {true, false}) {
    SCOPED_TRACE(standard ? "std::exception" : "int");
    G g;
    g.Add("flush", "flush", std::make_unique<ThrowAtQuiescence>(standard));
    g.Map("catcher", [](const Value& v) { return v; });
    g.Connect("flush", "error", "catcher", "in");
    auto graph = g.Build();
    auto r = Run(graph, 0, Value());
    EXPECT_EQ(r.outcome.kind, Kind::kReply)
        << KindName(r.outcome.kind) << " " << J(r.outcome.value);
    EXPECT_EQ(ErrorText(r.outcome), standard ? "flush failed" : "unknown exception");
    EXPECT_EQ(J(r.outcome.value["node"]), "\"flush\"");
  }
}

// An observer may start the next trace from OnOutcome (it is never called under a
// runtime lock).
TEST_P(RuntimeTest, ObserverMayStartTracesFromOnOutcome) {
  G g;
  g.Map("inc", [](const Value& v) { return Plus(v, 1); });
  auto graph = g.Build();
  struct Relay final : TraceObserver {
    Runtime* runtime = nullptr;
    std::shared_ptr<const Graph> graph;
    testing_util::Latch done{20};
    std::atomic<std::int64_t> last{0};
    std::atomic<int> start_errors{0};
    void OnOutcome(TraceId, Outcome o) override {
      last = o.value.AsInt();
      if (o.value.AsInt() < 20 && !runtime->StartTrace(graph, 0, 0, o.value, this)) ++start_errors;
    }
    void OnComplete(const TraceSummary&) override { done.CountDown(); }
  } relay;
  relay.runtime = &rt();
  relay.graph = graph;
  ASSERT_TRUE(rt().StartTrace(graph, 0, 0, Value(0), &relay));
  ASSERT_TRUE(relay.done.Wait());
  EXPECT_EQ(relay.last.load(), 20);
  EXPECT_EQ(relay.start_errors.load(), 0);
  // The last completion may still be returning from OnComplete; Stop joins every thread.
  rt().Stop();
  ExpectQuiet();
}

// --- Stop ---------------------------------------------------------------------------

TEST_P(RuntimeTest, StopOfANeverStartedRuntimeEndsItsQueuedTraces) {
  Runtime idle(RuntimeOptions{GetParam(), {}});
  G g;
  g.Add("n", "nop", MakeNopNode());
  auto graph = g.Build();
  Waiter w;
  ASSERT_TRUE(idle.StartTrace(graph, 0, 0, Value(1), &w));
  StopReport report = idle.Stop(10ms);
  ASSERT_EQ(w.completes(), 1);
  EXPECT_EQ(w.outcome().kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(w.outcome()), "runtime stopped")) << J(w.outcome().value);
  EXPECT_EQ(report.aborted, 1u);
  EXPECT_EQ(idle.traces().live(), 0);
}

TEST_P(RuntimeTest, StopDrainsTracesInFlight) {
  G g;
  g.Add("sleep", "sleep", MakeSleepNode(100ms));
  auto graph = g.Build();
  std::vector<Waiter*> ws;
  for (int i = 0; i < 4; ++i) ws.push_back(Start(graph, 0, Value(i)));
  StopReport report = rt().Stop(5s);
  EXPECT_EQ(report.drained, 4u);
  EXPECT_EQ(report.aborted, 0u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(ws[i]->completes(), 1);
    EXPECT_EQ(ws[i]->outcome().kind, Kind::kReply);
    EXPECT_EQ(J(ws[i]->outcome().value), std::to_string(i));
  }
  ExpectQuiet();

  Waiter late;
  auto refused = rt().StartTrace(graph, 0, 0, Value(), &late);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(late.outcomes(), 0);
  std::future<Outcome> f = rt().Call(graph, 0, 0, Value());
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(f.get().kind, Kind::kError);
}

TEST_P(RuntimeTest, StopWithAShortDrainAbortsTheTrace) {
  G g;
  g.Add("slow", "sleep", MakeSleepNode(5s));
  auto graph = g.Build();
  Waiter* w = Start(graph, 0, Value());
  const auto start = Clock::now();
  StopReport report = rt().Stop(50ms);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(report.aborted, 1u);
  ASSERT_TRUE(w->WaitComplete(1s));
  EXPECT_EQ(w->outcome().kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(w->outcome()), "runtime stopped")) << J(w->outcome().value);
  EXPECT_TRUE(w->summary().failed);
  ExpectQuiet();
}

// Stop "fails what is left" once the drain deadline passes: the origin of a trace that
// still waits on an operation outside the runtime (an HTTP call, a process) gets its
// error outcome then, not only when (if ever) the operation returns.
TEST_P(RuntimeTest, StopFailsATraceWaitingOnAnOutsideOperation) {
  OpBox box;
  G g;
  g.Fn("external", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) {
      ctx.Emit(0, std::move(p));
      return;
    }
    box.Put(ctx.BeginAsync());
  });
  auto graph = g.Build();
  Waiter* w = Start(graph, 0, Value());
  AsyncOp op = box.Take();
  ASSERT_TRUE(op.armed());
  constexpr auto kDrain = 400ms;
  std::atomic<bool> outcome_before_resume{false};
  // The operation returns 1.5 drains after Stop began: after the drain deadline, within
  // Stop's second wait, so the trace completes either way.
  std::thread outside([&] {
    outcome_before_resume = w->WaitOutcome(kDrain + kDrain / 2);
    op.Resume("late");
  });
  StopReport report = rt().Stop(kDrain);
  outside.join();
  EXPECT_TRUE(outcome_before_resume.load())
      << "past the drain deadline the origin still had no outcome";
  ASSERT_TRUE(w->WaitComplete(1s));
  EXPECT_EQ(w->outcome().kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(w->outcome()), "runtime stopped")) << J(w->outcome().value);
  EXPECT_EQ(report.aborted, 1u);
  ExpectQuiet();
}

// Traces started from several threads while Stop runs: each start is either refused
// (kUnavailable, and its observer never called) or admitted, and every admitted trace gets
// exactly one outcome and one completion before Stop returns; nothing is left live.
TEST_P(RuntimeTest, StartsRacingStopAreAdmittedOrRefusedNeverLost) {
  G g;
  g.Add("n", "nop", MakeNopNode());
  auto graph = g.Build();
  constexpr int kThreads = 4;
  struct Counting final : TraceObserver {
    std::atomic<int> outcomes{0}, completes{0};
    void OnOutcome(TraceId, Outcome) override { ++outcomes; }
    void OnComplete(const TraceSummary&) override { ++completes; }
  } counting;
  std::atomic<int> admitted{0}, refused{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> starters;
  for (int i = 0; i < kThreads; ++i) {
    starters.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (;;) {
        auto id = rt().StartTrace(graph, 0, 0, Value(1), &counting);
        if (!id) {
          EXPECT_EQ(id.error().code, ErrorCode::kUnavailable);
          ++refused;
          return;
        }
        ++admitted;
      }
    });
  }
  go = true;
  while (admitted.load() < 1000) std::this_thread::yield();
  StopReport report = rt().Stop(10s);
  for (std::thread& t : starters) t.join();
  EXPECT_EQ(refused.load(), kThreads);
  EXPECT_EQ(counting.outcomes.load(), admitted.load());
  EXPECT_EQ(counting.completes.load(), admitted.load());
  EXPECT_EQ(report.aborted, 0u);
  EXPECT_EQ(rt().live_traces(), 0);
  ExpectQuiet();
}

// Past the drain deadline Stop cancels what the traces wait for: the operation's stop
// token is requested (so an HTTP request closes its connection), the trace fails at once,
// and a result that arrives after the runtime is gone is dropped without touching it.
TEST_P(RuntimeTest, StopCancelsPendingOperationsAndOutlivesTheirLateResults) {
  OpBox box;
  std::mutex mu;
  std::stop_token token;
  G g;
  g.Fn("external", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) return ctx.Emit(0, std::move(p));
    AsyncOp op = ctx.BeginAsync();
    {
      std::lock_guard<std::mutex> lock(mu);
      token = op.stop_token();
    }
    box.Put(std::move(op));
  });
  auto graph = g.Build();
  Waiter* w = Start(graph, 0, Value());
  AsyncOp op = box.Take();
  ASSERT_TRUE(op.armed());
  std::stop_token seen;
  {
    std::lock_guard<std::mutex> lock(mu);
    seen = token;
  }
  EXPECT_FALSE(seen.stop_requested());
  const auto start = Clock::now();
  StopReport report = rt().Stop(50ms);
  EXPECT_LT(Clock::now() - start, 50ms + Runtime::kAbortGrace) << "Stop waited on the operation";
  EXPECT_TRUE(seen.stop_requested());
  EXPECT_EQ(report.cancelled_ops, 1u);
  EXPECT_EQ(report.aborted, 1u);
  EXPECT_EQ(report.stuck, 0u);
  ASSERT_EQ(w->completes(), 1);
  EXPECT_TRUE(Contains(ErrorText(w->outcome()), "runtime stopped")) << J(w->outcome().value);
  ExpectQuiet();
  runtime_.reset();       // the runtime is gone; the handle still is not
  op.Resume("too late");  // dropped (ASan checks it touches nothing freed)
  EXPECT_FALSE(op.armed());
}

// A blocking job that never returns by the deadline is left on its thread: Stop (and the
// destructor) return, the report says so, and the job's late result goes nowhere.
TEST_P(RuntimeTest, StopLeavesAHungBlockingJobBehind) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Latch entered(1);
  Latch finished(1);
  G g;
  g.Fn("query", [&](Context& ctx, PortIndex port, Value p) {
    if (port == kResumePort) return ctx.Emit(0, std::move(p));
    Status s = ctx.RunBlocking([&]() -> Result<Value> {
      entered.CountDown();
      released.wait_for(kWaitLimit);
      finished.CountDown();
      return Value("rows");
    });
    if (!s) ctx.Fail(s.error().message);
  });
  // A second job that never starts: the pool has one thread.
  NewRuntime(BlockingPoolOptions{1, 8});
  auto graph = g.Build();
  Waiter* first = Start(graph, 0, Value());
  ASSERT_TRUE(entered.Wait());
  Waiter* second = Start(graph, 0, Value());
  while (rt().blocking_pool().queued() == 0) std::this_thread::yield();
  StopReport report = rt().Stop(50ms);
  EXPECT_EQ(report.aborted, 2u);
  EXPECT_EQ(report.cancelled_ops, 2u);
  EXPECT_EQ(report.blocking_cancelled, 1u);
  EXPECT_EQ(report.blocking_abandoned, 1u);
  for (Waiter* w : {first, second}) {
    ASSERT_EQ(w->completes(), 1);
    EXPECT_TRUE(Contains(ErrorText(w->outcome()), "runtime stopped")) << J(w->outcome().value);
  }
  runtime_.reset();
  release.set_value();
  ASSERT_TRUE(finished.Wait());  // its result is dropped on the detached thread
}

// --- Starting traces ----------------------------------------------------------------

TEST_P(RuntimeTest, StartTraceRejectsABadNode) {
  G g;
  g.Add("only", "nop", MakeNopNode());
  auto graph = g.Build();
  Waiter w;
  auto bad_node = rt().StartTrace(graph, 99, 0, Value(), &w);
  ASSERT_FALSE(bad_node);
  EXPECT_EQ(bad_node.error().code, ErrorCode::kInvalidArgument);
  auto no_graph = rt().StartTrace(nullptr, 0, 0, Value(), &w);
  ASSERT_FALSE(no_graph);
  EXPECT_EQ(no_graph.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.outcomes(), 0);
  std::future<Outcome> f = rt().Call(graph, 99, 0, Value());
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(f.get().kind, Kind::kError);
  ExpectQuiet();
}

// runtime.h: "Errors: ... kInvalidArgument for a bad node/port."
TEST_P(RuntimeTest, StartTraceRejectsABadPort) {
  G g;
  g.Add("only", "nop", MakeNopNode());  // one input: in
  auto graph = g.Build();
  for (PortIndex port : {PortIndex{3}, kResumePort, kAbandonPort}) {
    SCOPED_TRACE("port " + std::to_string(port));
    Waiter* w = waiters_.emplace_back(std::make_unique<Waiter>()).get();
    auto id = rt().StartTrace(graph, 0, port, Value(), w);
    EXPECT_FALSE(id) << "a trace was started on an input port the node does not have";
    if (id) {
      EXPECT_TRUE(w->WaitComplete());
    } else {
      EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
    }
  }
  ExpectQuiet();
}

TEST_P(RuntimeTest, TraceIdsAreUniqueAndCountersAdd) {
  G g;
  g.Add("n", "nop", MakeNopNode());
  auto graph = g.Build();
  const auto started = rt().traces().started();
  const auto completed = rt().traces().completed();
  std::vector<Waiter*> ws;
  for (int i = 0; i < 100; ++i) ws.push_back(Start(graph, 0, Value(i)));
  std::set<TraceId> ids;
  for (Waiter* w : ws) {
    ASSERT_TRUE(w->WaitComplete());
    ids.insert(w->id());
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(rt().traces().started() - started, 100u);
  EXPECT_EQ(rt().traces().completed() - completed, 100u);
  ExpectQuiet();
}

// --- Many traces --------------------------------------------------------------------

// Counts outcomes of many traces; wakes the starter every so often.
class TallyObserver final : public TraceObserver {
 public:
  void OnOutcome(TraceId, Outcome o) override {
    if (o.kind == Kind::kReply && o.value.IsInt()) {
      replies_.fetch_add(1, std::memory_order_relaxed);
      sum_.fetch_add(o.value.AsInt(), std::memory_order_relaxed);
    } else {
      others_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void OnComplete(const TraceSummary&) override {
    // Counted under the lock: a waiter that sees the last completion may destroy this
    // observer at once, so nothing here may touch it after the unlock.
    std::lock_guard<std::mutex> lock(mu_);
    std::uint64_t n = completed_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (n % 1024 == 0 || n == target_.load(std::memory_order_relaxed)) cv_.notify_all();
  }
  void set_target(std::uint64_t n) { target_ = n; }
  // Waits until at most `in_flight` of `started` are still running.
  bool WaitBelow(std::uint64_t started, std::uint64_t in_flight) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, [&] {
      return started - completed_.load(std::memory_order_acquire) <= in_flight;
    });
  }
  std::uint64_t replies() const { return replies_.load(); }
  std::uint64_t others() const { return others_.load(); }
  std::int64_t sum() const { return sum_.load(); }

 private:
  std::atomic<std::uint64_t> replies_{0}, others_{0}, completed_{0}, target_{0};
  std::atomic<std::int64_t> sum_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

TEST_P(RuntimeTest, MillionTracesThroughFanOutAndJoinLeaveNothingBehind) {
  const std::uint64_t total = kSanitized ? 100000 : 1000000;
  constexpr std::uint64_t kWindow = 8192;
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("join", "join", MakeJoinNode());
  g.Fn("sum", [](Context& ctx, PortIndex, Value p) {
    std::int64_t s = 0;
    for (const Value& v : p.AsArray()) s += v.AsInt();
    ctx.Emit(0, Value(s));
  });
  for (int i = 0; i < 3; ++i) {
    std::string name = "b" + std::to_string(i);
    g.Map(name, [i](const Value& v) { return Plus(v, i + 1); });
    g.Connect("src", "out", name, "in");
    g.Connect(name, "out", "join", "in[" + std::to_string(i) + "]");
  }
  g.Connect("join", "out", "sum", "in");
  auto graph = g.Build();

  TallyObserver tally;
  tally.set_target(total);
  std::uint64_t started = 0;
  bool stalled = false;
  for (; started < total; ++started) {
    if (started % 1024 == 0 && !tally.WaitBelow(started, kWindow)) {
      stalled = true;
      break;
    }
    if (!rt().StartTrace(graph, 0, 0, Value(static_cast<std::int64_t>(started)), &tally)) break;
  }
  if (stalled || started < total || !tally.WaitBelow(total, 0)) {
    rt().Stop();  // `tally` must outlive every trace that uses it
    FAIL() << "stalled at " << started << " of " << total << " traces";
  }
  EXPECT_EQ(tally.replies(), total);
  EXPECT_EQ(tally.others(), 0u);
  const auto n = static_cast<std::int64_t>(total);
  EXPECT_EQ(tally.sum(), 3 * (n * (n - 1) / 2) + 6 * n);  // Σ (i+1)+(i+2)+(i+3)
  ExpectQuiet();
}

// --- Payloads are shared, never copied ----------------------------------------------

TEST_P(RuntimeTest, FanOutNeverCopiesThePayload) {
  const Value input = Value::Array({Value(std::string(1000, 'x')), Value(1)});
  std::atomic<int> shared{0}, copied{0};
  G g;
  g.Add("src", "nop", MakeNopNode());
  g.Add("chain", "nop", MakeNopNode());
  g.Add("join", "join", MakeJoinNode());
  g.Connect("src", "out", "chain", "in");
  for (int i = 0; i < 4; ++i) {
    std::string name = "b" + std::to_string(i);
    g.Fn(name, [&](Context& ctx, PortIndex, Value p) {
      (p.SharesBodyWith(input) ? shared : copied)++;
      ctx.Emit(0, std::move(p));
    });
    g.Connect("chain", "out", name, "in");
    g.Connect(name, "out", "join", "in[" + std::to_string(i) + "]");
  }
  auto graph = g.Build();
  auto r = Run(graph, graph->Find("src"), input);
  EXPECT_EQ(shared.load(), 4);
  EXPECT_EQ(copied.load(), 0);
  ASSERT_EQ(r.outcome.kind, Kind::kReply);
  ASSERT_EQ(r.outcome.value.size(), 4u);
  for (const Value& v : r.outcome.value.AsArray()) EXPECT_TRUE(v.SharesBodyWith(input));
}

// --- Versions (hot reload) ----------------------------------------------------------

TEST_P(RuntimeTest, TracesFinishOnTheGraphVersionTheyStartedOn) {
  OpBox box;
  // `alive` is held by a node of the graph: its use count tells whether the graph lives.
  auto make = [&](std::uint64_t version, bool gated, std::shared_ptr<int> alive) {
    G g(version);
    g.Fn("entry", [&box, gated, alive](Context& ctx, PortIndex port, Value p) {
      if (port == kResumePort || !gated) {
        ctx.Emit(0, std::move(p));
        return;
      }
      box.Put(ctx.BeginAsync());  // hold the trace in flight
    });
    g.Fn("report", [](Context& ctx, PortIndex, Value) {
      ctx.Emit(0, Value(static_cast<std::int64_t>(ctx.graph().version())));
    });
    g.Connect("entry", "out", "report", "in");
    return g.Build();
  };
  auto v1_alive = std::make_shared<int>(1);
  std::shared_ptr<const Graph> current = make(1, true, v1_alive);
  Waiter* old_trace = Start(current, 0, Value());
  AsyncOp op = box.Take();
  ASSERT_TRUE(op.armed());

  current = make(2, false, nullptr);  // the swap: only the trace still uses v1
  EXPECT_EQ(v1_alive.use_count(), 2) << "v1 was freed while a trace still runs on it";
  auto r = Run(current, 0, Value(), {}, /*expect_quiet=*/false);
  EXPECT_EQ(J(r.outcome.value), "2");

  EXPECT_EQ(old_trace->completes(), 0);
  op.Resume("go");
  ASSERT_TRUE(old_trace->WaitComplete());
  EXPECT_EQ(J(old_trace->outcome().value), "1");
  rt().FlushRetiredGraphs();  // deleted on the runtime's reaper thread
  EXPECT_EQ(v1_alive.use_count(), 1) << "the old version outlived its last trace";
  EXPECT_EQ(rt().graphs_reaped(), 1u);
  ExpectQuiet();
}

INSTANTIATE_TEST_SUITE_P(RuntimeTest, RuntimeTest, ::testing::Values(1u, 2u, 8u), WorkersName);

}  // namespace
}  // namespace epos
