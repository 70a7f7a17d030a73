#include "epos/lua/vm.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/lua/script.h"

namespace epos::lua {
namespace {

Result<Value> Eval(Vm& vm, const std::string& expr) {
  return Script::Expression(expr, "sandbox.yaml", 1).Evaluate(vm, Value());
}

TEST(LuaSandboxTest, DangerousLibrariesAreAbsent) {
  Vm vm;
  for (const char* name : {"io", "os", "debug", "package", "require", "load", "loadfile", "dofile",
                           "collectgarbage", "loadstring", "coroutine"}) {
    Result<Value> v = Eval(vm, std::string(name) + " == nil");
    ASSERT_TRUE(v.has_value()) << name << ": " << v.error().message;
    EXPECT_EQ(*v, Value(true)) << name << " is reachable";
  }
  EXPECT_EQ(*Eval(vm, "string.dump == nil"), Value(true));
  EXPECT_EQ(*Eval(vm, "getmetatable('').__index.dump == nil"), Value(true));
}

TEST(LuaSandboxTest, SafeLibrariesArePresent) {
  Vm vm;
  EXPECT_EQ(*Eval(vm, "string.upper('a') .. ('b'):rep(2)"), Value("Abb"));
  EXPECT_EQ(*Eval(vm, "math.floor(2.5) + math.maxinteger - math.maxinteger"), Value(2));
  EXPECT_EQ(*Eval(vm, "table.concat({1, 2, 3}, ',')"), Value("1,2,3"));
  EXPECT_EQ(*Eval(vm, "utf8.len('héllo')"), Value(5));
  EXPECT_EQ(*Eval(vm, "select('#', pcall(error, 'x'))"), Value(2));
  EXPECT_EQ(*Eval(vm, "tostring(tonumber('12')) .. type({})"), Value("12table"));
}

TEST(LuaSandboxTest, StringRepBombHitsTheMemoryLimit) {
  VmOptions options;
  options.memory_limit_bytes = 4 << 20;
  Vm vm(options);
  Script bomb = Script::Snippet(
      "return function(p)\n  return #string.rep('x', 64 * 1024 * 1024)\nend", "bomb.yaml", 7);
  Result<SnippetResult> r = bomb.CallSnippet(vm, Value());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("bomb.yaml:7: snippet exceeded its memory limit"),
            std::string::npos)
      << r.error().message;
  EXPECT_LE(vm.memory_in_use(), options.memory_limit_bytes);

  Script tables = Script::Snippet(
      "return function() local t = {} for i = 1, 1e9 do t[i] = {i} end end", "bomb.yaml", 1);
  ASSERT_FALSE(tables.CallSnippet(vm, Value()).has_value());
  // The Vm is still usable.
  EXPECT_EQ(*Eval(vm, "1 + 1"), Value(2));
  vm.CollectGarbage();
  EXPECT_LT(vm.memory_in_use(), std::size_t{1} << 20);
}

TEST(LuaSandboxTest, RunawayLoopHitsTheInstructionBudget) {
  VmOptions options;
  options.instruction_budget = 100'000;
  Vm vm(options);
  Script loop = Script::Snippet("return function(p)\n  while true do end\nend", "loop.yaml", 20);
  Result<SnippetResult> r = loop.CallSnippet(vm, Value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "loop.yaml:21: snippet exceeded its instruction budget (100000 "
            "instructions)");
  // Again: the budget is per call, and the Vm is usable afterwards.
  EXPECT_FALSE(loop.CallSnippet(vm, Value()).has_value());
  EXPECT_EQ(*Eval(vm, "2 * 21"), Value(42));

  // A pcall in the script cannot swallow the budget error and keep going.
  Script stubborn = Script::Snippet(
      "return function() while true do pcall(function() while true do end end) end end",
      "loop.yaml", 1);
  Result<SnippetResult> s = stubborn.CallSnippet(vm, Value());
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("instruction budget"), std::string::npos) << s.error().message;

  // Guards are bounded too.
  Script guard = Script::Expression("(function() while true do end end)()", "loop.yaml", 3);
  EXPECT_FALSE(guard.EvalCondition(vm, Value()).has_value());
  // A call just under the budget succeeds.
  Script work = Script::Snippet(
      "return function() local s = 0 for i = 1, 10000 do s = s + i end return s end", "loop.yaml",
      1);
  Result<SnippetResult> w = work.CallSnippet(vm, Value());
  ASSERT_TRUE(w.has_value()) << w.error().message;
  EXPECT_EQ(*w->result, Value(50005000));
}

TEST(LuaSandboxTest, PrintGoesToTheHook) {
  std::vector<std::string> lines;
  VmOptions options;
  options.print = [&lines](std::string_view line) { lines.emplace_back(line); };
  Vm vm(options);
  Script s = Script::Snippet("return function(p) print('n', p, nil, true) end", "p.yaml", 1);
  ASSERT_TRUE(s.CallSnippet(vm, 3).has_value());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "n\t3\tnil\ttrue");
}

TEST(LuaSandboxTest, ScriptsHaveTheirOwnGlobals) {
  Vm vm;
  Script a = Script::Snippet("return function() counter = (counter or 0) + 1 return counter end",
                             "a.yaml", 1);
  Script b = Script::Snippet("return function() return counter end", "b.yaml", 1);
  EXPECT_EQ(*a.CallSnippet(vm, Value())->result, Value(1));
  EXPECT_EQ(*a.CallSnippet(vm, Value())->result, Value(2));
  EXPECT_FALSE(b.CallSnippet(vm, Value())->result.has_value());
  // Writing a library name shadows it for this script only.
  Script c = Script::Snippet("return function() string = nil return 1 end", "c.yaml", 1);
  ASSERT_TRUE(c.CallSnippet(vm, Value()).has_value());
  EXPECT_EQ(*Eval(vm, "string.lower('A')"), Value("a"));
}

TEST(LuaSandboxTest, EnvIsReadOnly) {
  Vm vm;
  Value env = Value::Map({{"GREETING", "hello"}, {"N", 2}});
  Script write = Script::Snippet("return function() env.GREETING = 'x' end", "env.yaml", 4);
  Result<SnippetResult> w = write.CallSnippet(vm, Value(), env);
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().message, "env.yaml:4: env is read-only");
  Script read = Script::Snippet(
      "return function()\n"
      "  local keys = {}\n"
      "  for k in pairs(env) do keys[#keys + 1] = k end\n"
      "  table.sort(keys)\n"
      "  return table.concat(keys, ',') .. ':' .. env.GREETING\n"
      "end",
      "env.yaml", 1);
  Result<SnippetResult> r = read.CallSnippet(vm, Value(), env);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->result, Value("GREETING,N:hello"));
  EXPECT_EQ(*Eval(vm, "getmetatable(env)"), Value("read-only"));
}

}  // namespace
}  // namespace epos::lua

namespace epos::lua {
namespace {

TEST(LuaSandboxTest, SmallVmsWork) {
  VmOptions options;
  options.memory_limit_bytes = 256 << 10;
  Vm vm(options);
  EXPECT_LT(vm.memory_in_use(), std::size_t{64} << 10);
  EXPECT_EQ(*Eval(vm, "#string.rep('ab', 1000)"), Value(2000));
  EXPECT_FALSE(Eval(vm, "#string.rep('ab', 1000000)").has_value());
  EXPECT_EQ(*Eval(vm, "'still' .. ' fine'"), Value("still fine"));
}

}  // namespace
}  // namespace epos::lua

namespace epos::lua {
namespace {

TEST(LuaSandboxTest, ATimeoutReplacesTheInstructionBudget) {
  VmOptions options;
  options.instruction_budget = 100'000;
  Vm vm(options);
  // About a million instructions: over the budget, well under the timeout.
  Script work = Script::Snippet(
      "return function() local s = 0 for i = 1, 300000 do s = s + i end return s end", "w.yaml", 1);
  Result<SnippetResult> bounded = work.CallSnippet(vm, Value());
  ASSERT_FALSE(bounded.has_value());
  EXPECT_EQ(bounded.error().message,
            "w.yaml:1: snippet exceeded its instruction budget (100000 instructions)");
  Result<SnippetResult> timed = work.CallSnippet(vm, Value(), Value(), std::chrono::hours(1));
  ASSERT_TRUE(timed.has_value()) << timed.error().message;
  EXPECT_EQ(*timed->result, Value(45000150000LL));
  // The next call without a timeout has the budget again.
  EXPECT_FALSE(work.CallSnippet(vm, Value()).has_value());
  // The timeout still stops a runaway loop.
  Script loop = Script::Snippet("return function()\n  while true do end\nend", "l.yaml", 30);
  Result<SnippetResult> r = loop.CallSnippet(vm, Value(), Value(), std::chrono::milliseconds(20));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "l.yaml:31: snippet exceeded its timeout of 20ms");
}

}  // namespace
}  // namespace epos::lua
