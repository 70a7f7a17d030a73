// Tests of the Lua-based nodes (snippet, literal, if, switch, log) and Lua guards, run on a
// real Runtime with 2 workers; and of the snippet timeout in the Vm itself.
//
// Every trace is waited for until it completes (observer's OnComplete), so the side effects
// recorded by its nodes are all in when the checks run.

// epos_nodes_lua links spdlog PRIVATE, so this target does not get spdlog's usage
// requirements: ask for the compiled (shared) library as it does, rather than the header-only
// build, so the test and the node share one logger registry.
#ifndef SPDLOG_COMPILED_LIB
#define SPDLOG_COMPILED_LIB
#endif
#ifndef SPDLOG_SHARED_LIB
#define SPDLOG_SHARED_LIB
#endif
#ifndef SPDLOG_FMT_EXTERNAL
#define SPDLOG_FMT_EXTERNAL
#endif

#include "epos/nodes/lua_nodes.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "epos/core/json.h"
#include "epos/core/value.h"
#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/lua/script.h"
#include "epos/lua/vm.h"
#include "epos/nodes/control.h"
#include "epos/spec/lua_guard.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
using testing_util::kWaitLimit;
using testing_util::Waiter;
using Kind = Outcome::Kind;

std::string J(const Value& v) { return ToJson(v); }

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::shared_ptr<const lua::Script> Snippet(std::string code, int line = 10) {
  return std::make_shared<const lua::Script>(
      lua::Script::Snippet(std::move(code), "flow.yaml", line));
}

std::shared_ptr<const lua::Script> Expr(std::string code, int line = 20) {
  return std::make_shared<const lua::Script>(
      lua::Script::Expression(std::move(code), "flow.yaml", line));
}

Value Env() { return Value::Map({{"GREETING", Value("hello")}, {"LIMIT", Value(3)}}); }

// What sink nodes received, by tag.
class Recorder {
 public:
  std::unique_ptr<Node> Sink(std::string tag) {
    return MakeFunctionNode(
        [this, tag](Context&, PortIndex, Value payload) {
          std::lock_guard<std::mutex> lock(mu_);
          seen_.emplace_back(tag, std::move(payload));
        },
        PortShape{1, 0, false});
  }
  // "tag=json" lines, sorted (pulses on different edges run in parallel).
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> lines;
    for (const auto& [tag, value] : seen_) lines.push_back(tag + "=" + J(value));
    std::sort(lines.begin(), lines.end());
    return lines;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, Value>> seen_;
};

class LuaNodesTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_.Start(); }
  void TearDown() override {
    EXPECT_EQ(runtime_.traces().live(), 0);
    runtime_.Stop();
  }

  struct Ran {
    Outcome outcome;
    TraceSummary summary;
  };
  // Runs one trace from node `entry` (by name) to completion.
  Ran Run(const std::shared_ptr<const Graph>& graph, std::string_view entry, Value payload) {
    EXPECT_NE(graph, nullptr);
    if (graph == nullptr) return {};
    waiters_.push_back(std::make_unique<Waiter>());
    Waiter* w = waiters_.back().get();
    auto id = runtime_.StartTrace(graph, graph->Find(entry), 0, std::move(payload), w);
    EXPECT_TRUE(id) << id.error().message;
    if (!id) return {};
    EXPECT_TRUE(w->WaitComplete()) << "the trace did not complete";
    EXPECT_EQ(w->outcomes(), 1);
    return {w->outcome(), w->summary()};
  }

  static std::shared_ptr<const Graph> Build(GraphBuilder& b) {
    auto graph = b.Build();
    EXPECT_TRUE(graph) << graph.error().message;
    return graph ? *graph : nullptr;
  }

  // Declared before runtime_: destroyed after it.
  std::vector<std::unique_ptr<Waiter>> waiters_;
  Runtime runtime_{RuntimeOptions{2, {}}};
};

std::string ErrorText(const Outcome& o) {
  const Value* e = o.value.Find("error");
  return e != nullptr && e->IsString() ? std::string(e->AsString()) : J(o.value);
}

// --- snippet ------------------------------------------------------------------------

TEST_F(LuaNodesTest, SnippetResultGoesOnOut) {
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload, ctx) return payload.n + 1 end"),
                               Value()));
  auto r = Run(Build(b), "s", Value::Map({{"n", Value(41)}}));
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "42");
}

TEST_F(LuaNodesTest, SnippetSeesEnv) {
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(
                Snippet("return function(payload) return env.GREETING .. ' ' .. payload.name end"),
                Env()));
  auto graph = Build(b);
  for (const char* name : {"ada", "bob", "cy"}) {  // env installed once per Vm, reused
    auto r = Run(graph, "s", Value::Map({{"name", Value(name)}}));
    EXPECT_EQ(r.outcome.kind, Kind::kReply);
    EXPECT_EQ(J(r.outcome.value), "\"hello " + std::string(name) + "\"");
  }
}

TEST_F(LuaNodesTest, SnippetEmitsOnIndexedPortsAndTheResultOnOut) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet(R"(return function(payload, ctx)
    ctx.emit("out[1]", {side = payload.n})
    ctx.emit(2, "two")
    ctx.emit("out", "first on out")
    return payload.n * 2
  end)"),
                               Value()));
  b.AddNode("zero", "sink", rec.Sink("out"));
  b.AddNode("one", "sink", rec.Sink("out[1]"));
  b.AddNode("two", "sink", rec.Sink("out[2]"));
  b.Connect("s", "out", "zero", "in");
  b.Connect("s", "out[1]", "one", "in");
  b.Connect("s", "out[2]", "two", "in");
  auto r = Run(Build(b), "s", Value::Map({{"n", Value(5)}}));
  EXPECT_EQ(r.outcome.kind, Kind::kNoReply);
  EXPECT_EQ(rec.Seen(), (std::vector<std::string>{"out=\"first on out\"", "out=10",
                                                  "out[1]={\"side\":5}", "out[2]=\"two\""}));
  EXPECT_EQ(r.summary.hops, 5u);
}

TEST_F(LuaNodesTest, SnippetEmitsInCallOrderBeforeTheResult) {
  // `out` is a leaf: the first emission on it is the reply, the later ones are counted.
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet(R"(return function(payload, ctx)
    ctx.emit("out", "first")
    ctx.emit("out", "second")
    return "result"
  end)"),
                               Value()));
  auto r = Run(Build(b), "s", Value());
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), "\"first\"");
  EXPECT_EQ(r.summary.late_replies, 2u);
}

TEST_F(LuaNodesTest, SnippetNilResultEmitsNothing) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload, ctx) local x = 1 end"), Value()));
  b.AddNode("next", "sink", rec.Sink("next"));
  b.Connect("s", "out", "next", "in");
  auto r = Run(Build(b), "s", Value(1));
  EXPECT_EQ(r.outcome.kind, Kind::kNoReply);
  EXPECT_TRUE(rec.Seen().empty());
  EXPECT_EQ(r.summary.hops, 1u);
}

TEST_F(LuaNodesTest, SnippetEmitOnErrorFailsTheNode) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet(R"(return function(payload, ctx)
    if payload == 1 then ctx.emit("error", "bad input") end
    if payload == 2 then ctx.emit("error", {error = "custom", code = 7}) end
  end)"),
                               Value()));
  b.AddNode("handler", "sink", rec.Sink("error"));
  b.Connect("s", "error", "handler", "in");
  auto graph = Build(b);
  EXPECT_EQ(Run(graph, "s", Value(1)).outcome.kind, Kind::kNoReply);
  EXPECT_EQ(Run(graph, "s", Value(2)).outcome.kind, Kind::kNoReply);
  EXPECT_EQ(rec.Seen(), (std::vector<std::string>{
                            R"(error={"code":7,"error":"custom","node":"s","kind":"snippet"})",
                            R"(error={"error":"bad input","node":"s","kind":"snippet"})"}));
}

TEST_F(LuaNodesTest, LuaErrorReachesTheConnectedErrorPort) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload, ctx)\n"  // line 10
                                       "  local t = nil\n"                // line 11
                                       "  return t.field\n"               // line 12
                                       "end"),
                               Value()));
  b.AddNode("next", "sink", rec.Sink("out"));
  b.AddNode("handler", "reply", MakeReplyNode());
  b.Connect("s", "out", "next", "in");
  b.Connect("s", "error", "handler", "in");
  auto r = Run(Build(b), "s", Value());
  ASSERT_EQ(r.outcome.kind, Kind::kReply);
  const Value& e = r.outcome.value;
  ASSERT_TRUE(e.IsMap()) << J(e);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "flow.yaml:12:")) << J(e);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "attempt to index")) << J(e);
  EXPECT_EQ(J(e["node"]), "\"s\"");
  EXPECT_EQ(J(e["kind"]), "\"snippet\"");
  EXPECT_TRUE(rec.Seen().empty());
  EXPECT_FALSE(r.summary.failed);
}

TEST_F(LuaNodesTest, LuaErrorWithoutErrorPortFailsTheTrace) {
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload, ctx)\n  error('boom')\nend", 30),
                               Value()));
  auto r = Run(Build(b), "s", Value());
  ASSERT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(ErrorText(r.outcome), "flow.yaml:31: boom");
  EXPECT_EQ(J(r.outcome.value["node"]), "\"s\"");
  EXPECT_EQ(J(r.outcome.value["kind"]), "\"snippet\"");
  EXPECT_TRUE(r.summary.failed);
}

TEST_F(LuaNodesTest, BadEmitPortFailsTheNodeAndEmitsNothing) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet(R"(return function(payload, ctx)
    ctx.emit("out", 1)
    ctx.emit("nowhere", 2)
  end)"),
                               Value()));
  b.AddNode("next", "sink", rec.Sink("out"));
  b.Connect("s", "out", "next", "in");
  auto r = Run(Build(b), "s", Value());
  ASSERT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "flow.yaml:")) << ErrorText(r.outcome);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "nowhere")) << ErrorText(r.outcome);
  EXPECT_TRUE(rec.Seen().empty());  // the emissions of a failed call are discarded
}

TEST_F(LuaNodesTest, SnippetHasAnyOutputPort) {
  auto node = MakeLuaSnippetNode(Snippet("return function() end"), Value());
  EXPECT_EQ(node->ports().outputs, PortShape::kAny);
  EXPECT_TRUE(node->ports().error_port);
}

// The default instruction budget (10M) stops `while true do end` in about as long as 50 ms;
// a large one leaves the timeout to do it.
lua::VmOptions PatientVm() {
  lua::VmOptions options;
  options.instruction_budget = INT32_MAX;
  return options;
}

// Sets the options of the per-thread Vms created while it lives (this test's workers).
class DefaultVmOptions {
 public:
  explicit DefaultVmOptions(lua::VmOptions options) {
    lua::Vm::SetDefaultOptions(std::move(options));
  }
  ~DefaultVmOptions() { lua::Vm::SetDefaultOptions({}); }
};

TEST_F(LuaNodesTest, SnippetTimeoutStopsARunawayLoop) {
  // The workers are new threads and have not used Lua yet: their Vms get these options.
  DefaultVmOptions patient(PatientVm());
  GraphBuilder b("test");
  b.AddNode("loop", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload, ctx)\n  while true do end\nend"),
                               Value(), 50ms));
  b.AddNode("ok", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload) return payload + 1 end"), Value(),
                               50ms));
  auto graph = Build(b);
  auto r = Run(graph, "loop", Value());
  ASSERT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_EQ(ErrorText(r.outcome), "flow.yaml:11: snippet exceeded its timeout of 50ms");
  // The workers' Vms are still usable, with and without a timeout.
  for (int i = 0; i < 8; ++i) {
    auto ok = Run(graph, "ok", Value(i));
    ASSERT_EQ(ok.outcome.kind, Kind::kReply) << ErrorText(ok.outcome);
    EXPECT_EQ(J(ok.outcome.value), std::to_string(i + 1));
  }
}

// --- the Vm's timeout ----------------------------------------------------------------

TEST(LuaNodesVmTimeoutTest, TimeoutBoundsOneCallAndTheVmStaysUsable) {
  lua::Vm vm(PatientVm());
  lua::Script loop =
      lua::Script::Snippet("return function(p)\n  while true do end\nend", "loop.yaml", 4);
  auto start = std::chrono::steady_clock::now();
  auto r = loop.CallSnippet(vm, Value(), Value(), 50ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "loop.yaml:5: snippet exceeded its timeout of 50ms");
  EXPECT_GE(took, 50ms);  // a lower bound only: no timed upper bound in tests

  // A pcall in the script cannot swallow the timeout and go on.
  lua::Script stubborn = lua::Script::Snippet(
      "return function() while true do pcall(function() while true do end end) end end",
      "loop.yaml", 1);
  auto s = stubborn.CallSnippet(vm, Value(), Value(), 20ms);
  ASSERT_FALSE(s.has_value());
  EXPECT_TRUE(Contains(s.error().message, "exceeded its timeout of 20ms")) << s.error().message;

  // The Vm is usable afterwards, with and without a timeout; quick calls finish.
  lua::Script work = lua::Script::Snippet(
      "return function() local s = 0 for i = 1, 100000 do s = s + i end return s end", "w.yaml", 1);
  auto w = work.CallSnippet(vm, Value(), Value(), 10s);
  ASSERT_TRUE(w.has_value()) << w.error().message;
  EXPECT_EQ(*w->result, Value(5000050000LL));
  auto w2 = work.CallSnippet(vm, Value());
  ASSERT_TRUE(w2.has_value()) << w2.error().message;
  lua::Script expr = lua::Script::Expression("payload * 2", "e.yaml", 1);
  auto e = expr.Evaluate(vm, Value(21));
  ASSERT_TRUE(e.has_value()) << e.error().message;
  EXPECT_EQ(*e, Value(42));
}

TEST(LuaNodesVmTimeoutTest, ATimeoutReplacesTheInstructionBudget) {
  // A snippet with a timeout may run longer than the Vm's instruction budget allows; the
  // timeout stops it, and the budget still applies to calls without one.
  lua::VmOptions options;
  options.instruction_budget = 100'500;
  lua::Vm vm(options);
  lua::Script loop =
      lua::Script::Snippet("return function(p)\n  while true do end\nend", "loop.yaml", 1);
  auto timed = loop.CallSnippet(vm, Value(), Value(), 20ms);
  ASSERT_FALSE(timed.has_value());
  EXPECT_EQ(timed.error().message, "loop.yaml:2: snippet exceeded its timeout of 20ms");
  auto untimed = loop.CallSnippet(vm, Value(), Value());
  ASSERT_FALSE(untimed.has_value());
  EXPECT_EQ(untimed.error().message,
            "loop.yaml:2: snippet exceeded its instruction budget (100500 instructions)");
}

TEST(LuaNodesVmTimeoutTest, TimeoutMessageUsesTheLargestExactUnit) {
  lua::Vm vm(PatientVm());
  lua::Script loop = lua::Script::Snippet("return function() while true do end end", "l.yaml", 1);
  auto r = loop.CallSnippet(vm, Value(), Value(), 1500us);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "l.yaml:1: snippet exceeded its timeout of 1500us");
}

// --- literal ---------------------------------------------------------------------------

TEST_F(LuaNodesTest, LiteralEmitsItsValue) {
  GraphBuilder b("test");
  b.AddNode("lit", "snippet", MakeLiteralNode(Value::Map({{"ok", Value(true)}})));
  auto graph = Build(b);
  for (int i = 0; i < 3; ++i) {
    auto r = Run(graph, "lit", Value(i));
    EXPECT_EQ(r.outcome.kind, Kind::kReply);
    EXPECT_EQ(J(r.outcome.value), R"({"ok":true})");
  }
}

// --- if -------------------------------------------------------------------------------

TEST_F(LuaNodesTest, IfRoutesOnTheCondition) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("check", "if", MakeIfNode(Expr("payload.n > env.LIMIT"), Env()));
  b.AddNode("yes", "sink", rec.Sink("true"));
  b.AddNode("no", "sink", rec.Sink("false"));
  b.Connect("check", "out[0]", "yes", "in");
  b.Connect("check", "out[1]", "no", "in");
  auto graph = Build(b);
  for (int n : {1, 3, 4, 10}) {
    EXPECT_EQ(Run(graph, "check", Value::Map({{"n", Value(n)}})).outcome.kind, Kind::kNoReply);
  }
  EXPECT_EQ(rec.Seen(), (std::vector<std::string>{"false={\"n\":1}", "false={\"n\":3}",
                                                  "true={\"n\":10}", "true={\"n\":4}"}));
  EXPECT_EQ(MakeIfNode(Expr("true"), Value())->ports().outputs, 2);
}

TEST_F(LuaNodesTest, IfErrorFailsTheNode) {
  GraphBuilder b("test");
  b.AddNode("check", "if", MakeIfNode(Expr("payload.a.b > 1", 7), Value()));
  b.AddNode("handler", "reply", MakeReplyNode());
  b.Connect("check", "error", "handler", "in");
  auto r = Run(Build(b), "check", Value::Map({}));
  ASSERT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "flow.yaml:7:")) << J(r.outcome.value);
  EXPECT_EQ(J(r.outcome.value["kind"]), "\"if\"");
}

// --- switch ---------------------------------------------------------------------------

TEST_F(LuaNodesTest, SwitchFirstMatchWinsAndNoMatchDrops) {
  Recorder rec;
  std::vector<SwitchCase> cases;
  cases.push_back({Expr("payload > 10"), 2});
  cases.push_back({Expr("payload > 5"), 1});
  cases.push_back({Expr("payload == env.LIMIT"), 0});
  GraphBuilder b("test");
  b.AddNode("sw", "switch", MakeSwitchNode(std::move(cases), Env()));
  b.AddNode("a", "sink", rec.Sink("out[0]"));
  b.AddNode("b", "sink", rec.Sink("out[1]"));
  b.AddNode("c", "sink", rec.Sink("out[2]"));
  b.Connect("sw", "out[0]", "a", "in");
  b.Connect("sw", "out[1]", "b", "in");
  b.Connect("sw", "out[2]", "c", "in");
  auto graph = Build(b);
  for (int n : {20, 7, 3}) {
    EXPECT_EQ(Run(graph, "sw", Value(n)).outcome.kind, Kind::kNoReply);
  }
  // No case holds: the pulse is dropped and the trace completes with no reply.
  auto none = Run(graph, "sw", Value(1));
  EXPECT_EQ(none.outcome.kind, Kind::kNoReply);
  EXPECT_FALSE(none.summary.failed);
  EXPECT_EQ(none.summary.hops, 1u);
  EXPECT_EQ(rec.Seen(), (std::vector<std::string>{"out[0]=3", "out[1]=7", "out[2]=20"}));
}

TEST_F(LuaNodesTest, SwitchPortsAndErrors) {
  std::vector<SwitchCase> cases;
  cases.push_back({Expr("payload.x.y"), 4});
  auto node = MakeSwitchNode(std::move(cases), Value());
  EXPECT_EQ(node->ports().outputs, 5);
  EXPECT_TRUE(node->ports().error_port);
  GraphBuilder b("test");
  b.AddNode("sw", "switch", std::move(node));
  auto r = Run(Build(b), "sw", Value::Map({}));
  ASSERT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "flow.yaml:20:")) << J(r.outcome.value);
}

// --- log ------------------------------------------------------------------------------

// Replaces the default logger with one writing "level|message" to a ring buffer.
class CapturedLog {
 public:
  explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::trace)
      : previous_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    sink_->set_pattern("%l|%v");
    auto logger = std::make_shared<spdlog::logger>("lua_nodes_test", sink_);
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines = sink_->last_formatted();
    for (std::string& line : lines) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    }
    return lines;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TEST_F(LuaNodesTest, LogRendersTheMessageAndPassesThePayloadOn) {
  CapturedLog log;
  GraphBuilder b("test");
  b.AddNode("log", "log",
            MakeLogNode("warn",
                        "user {{ payload.user.name }} ({{payload.user.age}}) first={{ "
                        "payload.items.0 }} items={{ payload.items }} "
                        "missing=[{{ payload.nope.deeper }}] {{ not.payload }} {{payload.items.9}}"
                        " end"));
  auto payload = Value::Map({{"user", Value::Map({{"name", Value("ada")}, {"age", Value(36)}})},
                             {"items", Value::Array({Value("x"), Value(2)})}});
  auto r = Run(Build(b), "log", payload);
  EXPECT_EQ(r.outcome.kind, Kind::kReply);
  EXPECT_EQ(J(r.outcome.value), J(payload));
  EXPECT_EQ(log.Lines(),
            (std::vector<std::string>{"warning|user ada (36) first=x items=[\"x\",2] missing=[] "
                                      "{{ not.payload }}  end"}));
}

TEST_F(LuaNodesTest, LogWholePayloadAndLevels) {
  CapturedLog log(spdlog::level::info);
  GraphBuilder b("test");
  b.AddNode("whole", "log", MakeLogNode("error", "got {{payload}}"));
  b.AddNode("text", "log", MakeLogNode("info", "{{ payload }}"));
  b.AddNode("quiet", "log", MakeLogNode("debug", "not shown {{ payload }}"));
  b.AddNode("odd", "log", MakeLogNode("loud", "unknown level {{ payload"));
  auto graph = Build(b);
  EXPECT_EQ(J(Run(graph, "whole", Value::Map({{"a", Value(1)}})).outcome.value), R"({"a":1})");
  EXPECT_EQ(J(Run(graph, "text", Value("plain")).outcome.value), "\"plain\"");
  EXPECT_EQ(J(Run(graph, "quiet", Value(5)).outcome.value), "5");  // passed on, not logged
  EXPECT_EQ(J(Run(graph, "odd", Value()).outcome.value), "null");
  EXPECT_EQ(log.Lines(), (std::vector<std::string>{"error|got {\"a\":1}", "info|plain",
                                                   "info|unknown level {{ payload"}));
}

// --- guards ---------------------------------------------------------------------------

TEST_F(LuaNodesTest, GuardsRouteOnPayloadFields) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("src", "nop", MakeNopNode());
  b.AddNode("big", "sink", rec.Sink("big"));
  b.AddNode("small", "sink", rec.Sink("small"));
  b.AddNode("vip", "sink", rec.Sink("vip"));
  b.Connect("src", "out", "big", "in", MakeLuaGuard(Expr("payload.n > env.LIMIT"), Env()));
  b.Connect("src", "out", "small", "in", MakeLuaGuard(Expr("payload.n <= env.LIMIT"), Env()));
  b.Connect("src", "out", "vip", "in", MakeLuaGuard(Expr("payload.tags and payload.tags.vip"), {}));
  auto graph = Build(b);
  Run(graph, "src", Value::Map({{"n", Value(1)}}));
  Run(graph, "src", Value::Map({{"n", Value(9)}, {"tags", Value::Map({{"vip", Value(true)}})}}));
  EXPECT_EQ(rec.Seen(),
            (std::vector<std::string>{"big={\"n\":9,\"tags\":{\"vip\":true}}", "small={\"n\":1}",
                                      "vip={\"n\":9,\"tags\":{\"vip\":true}}"}));
}

TEST_F(LuaNodesTest, GuardErrorFailsTheEmitter) {
  Recorder rec;
  GraphBuilder b("test");
  b.AddNode("s", "snippet",
            MakeLuaSnippetNode(Snippet("return function(payload) return payload end"), Value()));
  b.AddNode("next", "sink", rec.Sink("next"));
  b.Connect("s", "out", "next", "in", MakeLuaGuard(Expr("payload.a.b > 1", 42), Value()));
  auto r = Run(Build(b), "s", Value::Map({}));
  ASSERT_EQ(r.outcome.kind, Kind::kError);
  EXPECT_TRUE(Contains(ErrorText(r.outcome), "flow.yaml:42:")) << J(r.outcome.value);
  EXPECT_EQ(J(r.outcome.value["node"]), "\"s\"");
  EXPECT_TRUE(rec.Seen().empty());
}

TEST(LuaNodesGuardTest, HoldsIsTruthinessAndTextIsTheSource) {
  auto guard = MakeLuaGuard(Expr("payload.n"), Value());
  EXPECT_EQ(guard->text(), "payload.n");
  EXPECT_TRUE(guard->Holds(Value::Map({{"n", Value(0)}})));  // 0 is true in Lua
  EXPECT_FALSE(guard->Holds(Value::Map({{"n", Value(false)}})));
  EXPECT_FALSE(guard->Holds(Value::Map({})));
  auto bad = MakeLuaGuard(Expr("payload.n.m", 3), Value());
  EXPECT_THROW((void)bad->Holds(Value::Map({})), std::runtime_error);
}

}  // namespace
}  // namespace epos
