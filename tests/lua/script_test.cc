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
  EXPECT_EQ(t.error().message, "t.yaml:2: {\"code\":1}");

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

namespace epos::lua {
namespace {

std::string CheckMessage(const Script& s) {
  Status status = s.Check();
  return status ? std::string("ok") : status.error().message;
}

std::string SnippetError(const Script& s, const Value& payload = Value()) {
  Result<SnippetResult> r = s.CallSnippet(payload);
  return r ? std::string("ok") : r.error().message;
}

std::string GuardError(const Script& s, const Value& payload = Value()) {
  Result<bool> r = s.EvalCondition(payload);
  return r ? std::string("ok") : r.error().message;
}

TEST(LuaScriptLinesTest, CompileErrorsMapToTheSpecLine) {
  const char* code =
      "return function(payload, ctx)\n"
      "  local x = 1\n"
      "  return x +\n"
      "end\n";
  Script s = Script::Snippet(code, "flow.yaml", 40);
  EXPECT_EQ(CheckMessage(s), "flow.yaml:43: unexpected symbol near 'end'");
  // Compiled by the Vm without a Check first: the same message.
  EXPECT_EQ(SnippetError(Script::Snippet(code, "flow.yaml", 40)),
            "flow.yaml:43: unexpected symbol near 'end'");
  // Lines Lua's own text mentions are spec lines too.
  Script unclosed = Script::Snippet(
      "return function()\n"
      "  if true then\n"
      "    return 1\n"
      "end\n"
      "\n",
      "flow.yaml", 40);
  EXPECT_EQ(CheckMessage(unclosed),
            "flow.yaml:43: 'end' expected (to close 'function' at line 40) near <eof>");
}

TEST(LuaScriptLinesTest, EofErrorsStayOnTheScriptsLastLine) {
  // The code block ends with a newline (YAML `|`); <eof> is on the line after it, which is
  // the next spec's line in the file.
  Script s = Script::Snippet("return function()\n  return 1 +\n", "flow.yaml", 40);
  EXPECT_EQ(CheckMessage(s), "flow.yaml:41: unexpected symbol near <eof>");
  Script blank_tail = Script::Snippet("return function()\n  local t = {\n\n\n  \n", "f.yaml", 7);
  EXPECT_EQ(CheckMessage(blank_tail).rfind("f.yaml:8: ", 0), 0u) << CheckMessage(blank_tail);
  // An expression with a trailing comment: the wrapper's `)` is on a line of its own.
  Script comment = Script::Expression("payload.n > -- why\n", "g.yaml", 5);
  EXPECT_EQ(CheckMessage(comment), "g.yaml:5: unexpected symbol near <eof>");
}

TEST(LuaScriptLinesTest, RuntimeErrorsMapToTheSpecLine) {
  Script index = Script::Snippet(
      "return function(payload, ctx)\n"
      "  local customer = payload.customer\n"
      "  return customer.name\n"
      "end\n",
      "flow.yaml", 40);
  EXPECT_EQ(SnippetError(index, Value::Map({})),
            "flow.yaml:42: attempt to index a nil value (local 'customer')");

  Script raise = Script::Snippet(
      "local function check(n)\n"
      "  if n < 0 then error('negative', 2) end\n"
      "end\n"
      "return function(payload)\n"
      "  if payload == 1 then error('one') end\n"
      "  if payload == 2 then error('two', 0) end\n"
      "  check(payload)\n"
      "  if payload == 3 then\n"
      "    local ok, e = pcall(error, 'inner')\n"
      "    local ok2, e2 = pcall(function() error('deep') end)\n"
      "    error(e2)\n"
      "  end\n"
      "  if payload == 4 then error('see flow.yaml:3: for details') end\n"
      "  return payload\n"
      "end\n",
      "flow.yaml", 40);
  EXPECT_EQ(SnippetError(raise, 1), "flow.yaml:44: one");                 // level 1
  EXPECT_EQ(SnippetError(raise, 2), "flow.yaml:45: two");                 // no position: its line
  EXPECT_EQ(SnippetError(raise, -1), "flow.yaml:46: negative");           // level 2: the caller
  EXPECT_EQ(SnippetError(raise, 3), "flow.yaml:50: flow.yaml:49: deep");  // re-raised
  // Only the leading positions are Lua's; the rest is the user's text.
  EXPECT_EQ(SnippetError(raise, 4), "flow.yaml:52: see flow.yaml:3: for details");
  EXPECT_EQ(SnippetError(raise, 5), "ok");

  Script deep = Script::Snippet(
      "local function f(n) return 1 + f(n + 1) end\nreturn function() return f(1) end", "d.yaml",
      40);
  std::string overflow = SnippetError(deep);
  EXPECT_EQ(overflow.rfind("d.yaml:40: ", 0), 0u) << overflow;
  EXPECT_NE(overflow.find("stack overflow"), std::string::npos) << overflow;

  Script guard = Script::Expression("payload.a >\n  payload.b", "g.yaml", 40);
  EXPECT_EQ(GuardError(guard, Value::Map({{"a", 1}})),
            "g.yaml:41: attempt to compare nil with number");  // Lua's line: the second operand
  Script call = Script::Expression("payload.n +\n  string.rep()", "g.yaml", 40);
  EXPECT_EQ(GuardError(call, Value::Map({{"n", 1}})),
            "g.yaml:41: bad argument #1 to 'rep' (string expected, got no value)");
}

TEST(LuaScriptLinesTest, LongFileNamesAreNotShortened) {
  // Lua shortens long chunk names ("...tail:3:"); messages carry the whole name.
  std::string file = "/very/long/path/to/the/spec/directory/of/this/deployment/flows/orders.yaml";
  ASSERT_GT(file.size(), 60u);
  Script s = Script::Snippet("return function()\n  error('boom')\nend", file, 10);
  EXPECT_EQ(SnippetError(s), file + ":11: boom");
  EXPECT_EQ(CheckMessage(Script::Snippet("return function()\n  return 1 +\nend", file, 10)),
            file + ":12: unexpected symbol near 'end'");
}

TEST(LuaScriptExpressionTest, SyntaxErrorsReadAsTheUserWroteThem) {
  EXPECT_EQ(CheckMessage(Script::Expression("payload.n +", "g.yaml", 40)),
            "g.yaml:40: unexpected symbol near <eof>");
  EXPECT_EQ(CheckMessage(Script::Expression("payload.n > > 3", "g.yaml", 40)),
            "g.yaml:40: unexpected symbol near '>'");
  EXPECT_EQ(CheckMessage(Script::Expression("(payload.n > 3", "g.yaml", 40)),
            "g.yaml:40: ')' expected near <eof>");
  EXPECT_EQ(CheckMessage(Script::Expression("payload.n, 2", "g.yaml", 40)),
            "g.yaml:40: ')' expected near ','");
  const std::string kStatement =
      "g.yaml:40: expected an expression (e.g. payload.n > 3), not a statement";
  EXPECT_EQ(CheckMessage(Script::Expression("payload.n = 3", "g.yaml", 40)), kStatement);
  EXPECT_EQ(CheckMessage(Script::Expression("x = 3", "g.yaml", 40)), kStatement);
  EXPECT_EQ(CheckMessage(Script::Expression("local x = 1", "g.yaml", 40)), kStatement);
  EXPECT_EQ(CheckMessage(Script::Expression("return payload.n > 3", "g.yaml", 40)),
            "g.yaml:40: expected an expression without 'return' (e.g. payload.n > 3)");
  for (const char* empty : {"", "   ", "\n\t", "-- nothing", "--[[ nothing ]]  -- at all\n"}) {
    EXPECT_EQ(CheckMessage(Script::Expression(empty, "g.yaml", 40)), "g.yaml:40: empty expression")
        << empty;
  }
  // The Vm, compiling without a Check, gives the same messages.
  EXPECT_EQ(GuardError(Script::Expression("", "g.yaml", 40)), "g.yaml:40: empty expression");
  EXPECT_EQ(GuardError(Script::Expression("payload.n = 3", "g.yaml", 40)), kStatement);
  EXPECT_EQ(GuardError(Script::Expression("payload.n +", "g.yaml", 40)),
            "g.yaml:40: unexpected symbol near <eof>");
  // Still exactly one value.
  Script call = Script::Expression("string.find('abc', 'b')", "g.yaml", 1);
  EXPECT_EQ(*call.Evaluate(Value()), Value(2));
  EXPECT_EQ(CheckMessage(Script::Expression("payload.n > 3 -- comment", "g.yaml", 1)), "ok");
}

TEST(LuaScriptErrorObjectTest, TablesAreWrittenAsJson) {
  Script s = Script::Snippet(
      "return function(payload)\n"
      "  if payload == 1 then error({code = 42}) end\n"
      "  if payload == 2 then error({code = 7, message = 'bad', tags = {'a'}}) end\n"
      "  if payload == 3 then error({f = print}) end\n"
      "  if payload == 4 then error(true) end\n"
      "  if payload == 5 then error() end\n"
      "  if payload == 6 then error(setmetatable({}, {__index = print})) end\n"
      "end\n",
      "flow.yaml", 12);
  EXPECT_EQ(SnippetError(s, 1), "flow.yaml:13: {\"code\":42}");
  EXPECT_EQ(SnippetError(s, 2), "flow.yaml:14: {\"code\":7,\"message\":\"bad\",\"tags\":[\"a\"]}");
  EXPECT_EQ(SnippetError(s, 3), "flow.yaml:15: (error object is a table value)");
  EXPECT_EQ(SnippetError(s, 4), "flow.yaml:16: (error object is a boolean value)");
  EXPECT_EQ(SnippetError(s, 5), "flow.yaml:17: (error object is a nil value)");
  EXPECT_EQ(SnippetError(s, 6), "flow.yaml:18: {}");
  Script guard = Script::Expression("payload.n > 1 or error({n = payload.n})", "g.yaml", 3);
  EXPECT_EQ(GuardError(guard, Value::Map({{"n", 1}})), "g.yaml:3: {\"n\":1}");
}

}  // namespace
}  // namespace epos::lua
