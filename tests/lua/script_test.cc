#include "epos/lua/script.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace epos::lua {
namespace {

TEST(LuaScriptTest, GuardIsTruthinessOfTheExpression) {
  Script guard = Script::Expression("payload.n > 3", "orders.yaml", 12);
  EXPECT_TRUE(guard.Check().has_value());
  EXPECT_EQ(*guard.EvalCondition(Value::Map({{"n", 5}})), true);
  EXPECT_EQ(*guard.EvalCondition(Value::Map({{"n", 3}})), false);
  Script nil = Script::Expression("payload.missing", "orders.yaml", 1);
  EXPECT_EQ(*nil.EvalCondition(Value::Map({{"n", 5}})), false);
  Script zero = Script::Expression("0", "orders.yaml", 1);
  EXPECT_EQ(*zero.EvalCondition(Value()), true);  // Lua truthiness
  Script env = Script::Expression("payload == env.WANT", "orders.yaml", 1);
  EXPECT_EQ(*env.EvalCondition(Value("a"), Value::Map({{"WANT", "a"}})), true);
}

TEST(LuaScriptTest, GuardsOnTheSamePayloadAgree) {
  // Conditions on one payload body share its converted table; results stay right when the
  // payload changes.
  Script gt = Script::Expression("payload.n > 3", "g.yaml", 1);
  Script even = Script::Expression("payload.n % 2 == 0", "g.yaml", 2);
  for (int n = 0; n < 10; ++n) {
    Value p = Value::Map({{"n", n}});
    EXPECT_EQ(*gt.EvalCondition(p), n > 3);
    EXPECT_EQ(*even.EvalCondition(p), n % 2 == 0);
    EXPECT_EQ(*gt.EvalCondition(p), n > 3);
  }
}

TEST(LuaScriptTest, CheckReportsSyntaxErrorsAtTheSpecLine) {
  Status bad = Script::Expression("payload.n >", "orders.yaml", 12).Check();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message.rfind("orders.yaml:12:", 0), 0u) << bad.error().message;

  Status statement = Script::Expression("x = 1", "orders.yaml", 3).Check();
  EXPECT_FALSE(statement.has_value());  // an expression, not a statement

  Status snippet = Script::Snippet(
                       "return function(payload, ctx)\n"
                       "  local x = 1\n"
                       "  return x +\n"
                       "end\n",
                       "orders.yaml", 13)
                       .Check();
  ASSERT_FALSE(snippet.has_value());
  EXPECT_EQ(snippet.error().message, "orders.yaml:16: unexpected symbol near 'end'");
  EXPECT_TRUE(Script::Expression("payload.n > 3 -- comment", "o.yaml", 1).Check().has_value());
  EXPECT_TRUE(Script::Snippet("return function() end", "o.yaml", 1).Check().has_value());
}

TEST(LuaScriptTest, RuntimeErrorsCarryTheSpecLine) {
  Script snippet = Script::Snippet(
      "return function(payload, ctx)\n"
      "  local a = 1\n"
      "  return payload.x.y\n"
      "end\n",
      "orders.yaml", 13);
  Result<SnippetResult> r = snippet.CallSnippet(Value::Map({{"n", 1}}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "orders.yaml:15: attempt to index a nil value (field 'x')");

  Script guard = Script::Expression("payload.n > 3", "orders.yaml", 40);
  Result<bool> g = guard.EvalCondition(Value::Map({{"m", 1}}));
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().message, "orders.yaml:40: attempt to compare number with nil");

  Script thrown = Script::Snippet("return function() error({code = 1}) end", "t.yaml", 2);
  Result<SnippetResult> t = thrown.CallSnippet(Value());
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().message, "t.yaml:2: (error object is a table value)");

  Script raised = Script::Snippet("return function()\n  error('boom')\nend", "t.yaml", 2);
  EXPECT_EQ(raised.CallSnippet(Value()).error().message, "t.yaml:3: boom");
}

TEST(LuaScriptTest, SnippetReturnsItsValue) {
  Script inc = Script::Snippet("return function(p) return p + 1 end", "s.yaml", 1);
  Result<SnippetResult> r = inc.CallSnippet(41);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->result, std::optional<Value>(Value(42)));
  EXPECT_TRUE(r->emitted.empty());

  Script none = Script::Snippet("return function(p) end", "s.yaml", 1);
  EXPECT_FALSE(none.CallSnippet(1)->result.has_value());

  Script greet = Script::Snippet(
      "return function(payload, ctx) return env.GREETING .. ' ' .. payload.name end", "s.yaml", 1);
  Value env = Value::Map({{"GREETING", "hello"}});
  EXPECT_EQ(*greet.CallSnippet(Value::Map({{"name", "bob"}}), env)->result, Value("hello bob"));
  Value env2 = Value::Map({{"GREETING", "hi"}});
  EXPECT_EQ(*greet.CallSnippet(Value::Map({{"name", "ann"}}), env2)->result, Value("hi ann"));
}

TEST(LuaScriptTest, SnippetMayModifyItsOwnCopyOfThePayload) {
  Script bump = Script::Snippet("return function(p) p.n = p.n + 1 return p end", "s.yaml", 1);
  Value payload = Value::Map({{"n", 1}, {"tag", "x"}});
  for (int i = 0; i < 3; ++i) {
    Result<SnippetResult> r = bump.CallSnippet(payload);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(*r->result, Value::Map({{"n", 2}, {"tag", "x"}}));
  }
  EXPECT_EQ(payload["n"], Value(1));  // the Value itself is immutable
}

TEST(LuaScriptTest, SnippetCodeMustReturnAFunction) {
  Script five = Script::Snippet("return 5", "s.yaml", 9);
  Result<SnippetResult> r = five.CallSnippet(Value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "s.yaml:9: snippet code must return a function (it returned number)");
}

TEST(LuaScriptTest, CtxEmitCollectsEmissionsInOrder) {
  Script s = Script::Snippet(
      "return function(payload, ctx)\n"
      "  ctx.emit('out', payload)\n"
      "  ctx.emit(2, 'two')\n"
      "  ctx.emit('error', {error = 'bad'})\n"
      "  ctx.emit('out[0]', true)\n"
      "  ctx.emit('out[11]', {1, 2})\n"
      "  return 'done'\n"
      "end",
      "emit.yaml", 1);
  Result<SnippetResult> r = s.CallSnippet(7);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->result, Value("done"));
  ASSERT_EQ(r->emitted.size(), 5u);
  EXPECT_EQ(r->emitted[0], (std::pair<std::string, Value>("out", 7)));
  EXPECT_EQ(r->emitted[1], (std::pair<std::string, Value>("out[2]", "two")));
  EXPECT_EQ(r->emitted[2],
            (std::pair<std::string, Value>("error", Value::Map({{"error", "bad"}}))));
  EXPECT_EQ(r->emitted[3], (std::pair<std::string, Value>("out", true)));
  EXPECT_EQ(r->emitted[4], (std::pair<std::string, Value>("out[11]", Value::Array({1, 2}))));
}

TEST(LuaScriptTest, CtxEmitRejectsBadPortsAndValues) {
  Script port = Script::Snippet("return function(p, ctx)\n  ctx.emit('oops', 1)\nend", "e.yaml", 1);
  Result<SnippetResult> r = port.CallSnippet(Value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.rfind("e.yaml:2: ctx.emit: unknown port \"oops\"", 0), 0u)
      << r.error().message;

  Script value = Script::Snippet(
      "return function(p, ctx)\n  ctx.emit('out', 1)\n  ctx.emit('out', {f = print})\nend",
      "e.yaml", 1);
  Result<SnippetResult> v = value.CallSnippet(Value());
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message, "e.yaml:3: ctx.emit: value.f: cannot convert a function");

  Script index = Script::Snippet("return function(p, ctx) ctx.emit(-1, 1) end", "e.yaml", 1);
  EXPECT_FALSE(index.CallSnippet(Value()).has_value());
  Script write = Script::Snippet("return function(p, ctx) ctx.emit = nil end", "e.yaml", 1);
  EXPECT_FALSE(write.CallSnippet(Value()).has_value());

  // A ctx kept past its call cannot emit.
  Script keep = Script::Snippet("return function(p, ctx) saved = ctx end", "k.yaml", 1);
  Script late = Script::Snippet("return function(p, ctx) return 1 end", "k.yaml", 1);
  ASSERT_TRUE(keep.CallSnippet(Value()).has_value());
  ASSERT_TRUE(late.CallSnippet(Value()).has_value());
}

TEST(LuaScriptTest, ChunkRunsOncePerThread) {
  Script counter = Script::Snippet(
      "local calls = 0\nreturn function() calls = calls + 1 return calls end", "c.yaml", 1);
  EXPECT_EQ(*counter.CallSnippet(Value())->result, Value(1));
  EXPECT_EQ(*counter.CallSnippet(Value())->result, Value(2));
  std::thread other([&counter] {
    // Another thread has its own Vm: the chunk runs again there.
    EXPECT_EQ(*counter.CallSnippet(Value())->result, Value(1));
  });
  other.join();
  EXPECT_EQ(*counter.CallSnippet(Value())->result, Value(3));
}

TEST(LuaScriptTest, DestroyedScriptsLeaveTheCache) {
  Vm vm;
  for (int i = 0; i < 1000; ++i) {
    Script s = Script::Expression("payload + " + std::to_string(i), "d.yaml", 1);
    EXPECT_EQ(*s.Evaluate(vm, 1), Value(1 + i));
  }
  EXPECT_LE(vm.cached_scripts(), 128u);
}

void RunConcurrently(int threads) {
  auto guard = std::make_shared<Script>(Script::Expression("payload.n % 3 == 0", "c.yaml", 1));
  auto snippet = std::make_shared<Script>(
      Script::Snippet("return function(p, ctx) if p.n % 2 == 0 then ctx.emit('out[1]', p.n) end "
                      "return p.n * 2 end",
                      "c.yaml", 5));
  std::vector<std::thread> workers;
  std::vector<int> failures(static_cast<std::size_t>(threads), 0);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int& bad = failures[static_cast<std::size_t>(t)];
      for (int i = 0; i < 10000; ++i) {
        Value p = Value::Map({{"n", i + t}});
        Result<bool> g = guard->EvalCondition(p);
        if (!g || *g != ((i + t) % 3 == 0)) ++bad;
        Result<SnippetResult> s = snippet->CallSnippet(p);
        if (!s || !s->result || *s->result != Value(2 * (i + t)) ||
            s->emitted.size() != ((i + t) % 2 == 0 ? 1u : 0u)) {
          ++bad;
        }
      }
      if (Vm::ForThisThread().cached_scripts() < 2) ++bad;
    });
  }
  for (std::thread& w : workers) w.join();
  for (int t = 0; t < threads; ++t) EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << t;
}

TEST(LuaScriptTest, PerThreadCachingConcurrent1) { RunConcurrently(1); }
TEST(LuaScriptTest, PerThreadCachingConcurrent2) { RunConcurrently(2); }
TEST(LuaScriptTest, PerThreadCachingConcurrent4) { RunConcurrently(4); }

}  // namespace
}  // namespace epos::lua

namespace epos::lua {
namespace {

TEST(LuaScriptTest, ErrorsWithoutAPositionNameTheScript) {
  Script s = Script::Snippet("return function() error('plain', 0) end", "p.yaml", 8);
  EXPECT_EQ(s.CallSnippet(Value()).error().message, "p.yaml:8: plain");
  Script n = Script::Snippet("return function() error(42) end", "p.yaml", 8);
  EXPECT_EQ(n.CallSnippet(Value()).error().message, "p.yaml:8: 42");
}

}  // namespace
}  // namespace epos::lua
