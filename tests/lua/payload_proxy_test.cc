// Expressions read container payloads through read-only proxies (src/lua/payload_proxy.h):
// what an expression can observe must match the documented conversion (convert.h).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/lua/script.h"
#include "epos/lua/vm.h"

namespace epos::lua {
namespace {

Result<Value> Eval(Vm& vm, const std::string& expr, const Value& payload) {
  return Script::Expression(expr, "proxy.yaml", 1).Evaluate(vm, payload);
}

Value Order() {
  return Value::Map({{"id", 7},
                     {"price", 9.5},
                     {"name", "alice"},
                     {"gone", Value()},
                     {"ok", true},
                     {"tags", Value::Array({"a", Value(), "c"})},
                     {"user", Value::Map({{"age", 30}, {"city", "Oslo"}})},
                     {"empty", Value::Array(std::vector<Value>{})}});
}

TEST(LuaPayloadProxyTest, FieldsConvertAsDocumented) {
  Vm vm;
  Value p = Order();
  EXPECT_EQ(*Eval(vm, "payload.missing == nil", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.gone == nil", p), Value(true));  // null map entry: nil
  EXPECT_EQ(*Eval(vm, "math.type(payload.id)", p), Value("integer"));
  EXPECT_EQ(*Eval(vm, "math.type(payload.price)", p), Value("float"));
  EXPECT_EQ(*Eval(vm, "payload.id > 6 and payload.id < 7.5 and payload.price >= 9", p),
            Value(true));
  EXPECT_EQ(*Eval(vm, "payload.id == 7.0", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.ok == true", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.name:upper() .. #payload.name", p), Value("ALICE5"));
  EXPECT_EQ(*Eval(vm, "payload.name:sub(1, 1) == 'a' and payload.name:find('ic') == 3", p),
            Value(true));
  EXPECT_EQ(*Eval(vm, "payload[1] == nil and payload.id ~= nil", p), Value(true));
  EXPECT_EQ(*Eval(vm, "type(payload) .. type(payload.user) .. type(payload.id)", p),
            Value("tabletablenumber"));
}

TEST(LuaPayloadProxyTest, NestedAccessAndDeepNesting) {
  Vm vm;
  Value p = Order();
  EXPECT_EQ(*Eval(vm, "payload.user.age > 18 and payload.user.city == 'Oslo'", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.user == payload.user", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.user.missing == nil", p), Value(true));
  Result<Value> through_nil = Eval(vm, "payload.nope.x", p);
  ASSERT_FALSE(through_nil.has_value());
  EXPECT_NE(through_nil.error().message.find("attempt to index a nil value (field 'nope')"),
            std::string::npos)
      << through_nil.error().message;

  // Deeper than a full conversion allows: only the path read is touched.
  Value deep = Value::Map({{"leaf", 42}});
  for (int i = 0; i < 500; ++i) deep = Value::Map({{"next", deep}});
  std::string path = "payload";
  for (int i = 0; i < 500; ++i) path += ".next";
  EXPECT_EQ(*Eval(vm, path + ".leaf", deep), Value(42));
  EXPECT_EQ(*Eval(vm, "payload.next.next ~= nil", deep), Value(true));
  // Converting all of it back still has the depth limit.
  Result<Value> whole = Eval(vm, "payload", deep);
  ASSERT_FALSE(whole.has_value());
  EXPECT_NE(whole.error().message.find("nested deeper than"), std::string::npos);
}

TEST(LuaPayloadProxyTest, ArraysAreOneBasedWithJsonNullHoles) {
  Vm vm;
  Value p = Order();
  EXPECT_EQ(*Eval(vm, "#payload.tags", p), Value(3));
  EXPECT_EQ(*Eval(vm, "payload.tags[1] .. payload.tags[3]", p), Value("ac"));
  EXPECT_EQ(*Eval(vm, "payload.tags[2] == json.null and payload.tags[2] ~= nil", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.tags[0] == nil and payload.tags[4] == nil", p), Value(true));
  EXPECT_EQ(*Eval(vm, "payload.tags[1.0] == 'a' and payload.tags['1'] == nil", p), Value(true));
  EXPECT_EQ(*Eval(vm, "#payload.empty == 0 and #payload.user == 0", p), Value(true));
  Value top = Value::Array({10, Value::Array({20, 30}), Value()});
  EXPECT_EQ(*Eval(vm, "#payload == 3 and payload[2][2] == 30 and payload[3] == json.null", top),
            Value(true));
  EXPECT_EQ(*Eval(vm, "table.concat(payload[2], ',')", top), Value("20,30"));
  EXPECT_EQ(*Eval(vm, "select('#', table.unpack(payload))", top), Value(3));
}

TEST(LuaPayloadProxyTest, PairsIpairsAndNext) {
  Vm vm;
  Value p = Order();
  // Map entries in insertion order, null entries skipped.
  const char* keys =
      "(function() local s = '' for k, v in pairs(payload) do s = s .. k .. ',' end "
      "return s end)()";
  EXPECT_EQ(*Eval(vm, keys, p), Value("id,price,name,ok,tags,user,empty,"));
  const char* next_keys =
      "(function() local s, k = '', nil repeat k = next(payload, k) "
      "if k then s = s .. k .. ',' end until k == nil return s end)()";
  EXPECT_EQ(*Eval(vm, next_keys, p), Value("id,price,name,ok,tags,user,empty,"));
  EXPECT_EQ(*Eval(vm, "next(payload.user)", p), Value("age"));
  const char* values =
      "(function() local n = 0 for i, v in ipairs(payload.tags) do n = n + i end return n end)()";
  EXPECT_EQ(*Eval(vm, values, p), Value(6));  // json.null does not stop ipairs
  const char* array_pairs =
      "(function() local s = '' for i, v in pairs(payload.tags) do "
      "s = s .. i .. (v == json.null and 'null' or v) end return s end)()";
  EXPECT_EQ(*Eval(vm, array_pairs, p), Value("1a2null3c"));
  EXPECT_EQ(*Eval(vm, "rawget(payload, 'id') + rawlen(payload.tags)", p), Value(10));
  const char* none = "(function() for _ in ipairs(payload) do return 'x' end return 'none' end)()";
  EXPECT_EQ(*Eval(vm, none, p), Value("none"));
}

TEST(LuaPayloadProxyTest, WritesFail) {
  Vm vm;
  Value p = Order();
  for (const char* write :
       {"(function() payload.id = 1 end)()", "(function() payload.user.age = 1 end)()",
        "(function() payload.tags[1] = 'z' end)()", "rawset(payload, 'x', 1)",
        "table.insert(payload.tags, 'd')"}) {
    Result<Value> r = Eval(vm, write, p);
    ASSERT_FALSE(r.has_value()) << write;
    EXPECT_NE(r.error().message.find("payload is read-only"), std::string::npos)
        << write << ": " << r.error().message;
  }
  EXPECT_EQ(*Eval(vm, "payload.id", p), Value(7));
  EXPECT_EQ(*Eval(vm, "getmetatable(payload)", p), Value("read-only"));
}

TEST(LuaPayloadProxyTest, ResultsConvertBackAsATableWould) {
  Vm vm;
  Value p = Order();
  EXPECT_EQ(*Eval(vm, "payload.user", p), Value::Map({{"age", 30}, {"city", "Oslo"}}));
  EXPECT_EQ(*Eval(vm, "payload.tags", p), Value::Array({"a", Value(), "c"}));
  Result<Value> empty = Eval(vm, "payload.empty", p);
  EXPECT_TRUE(empty->IsArray());
  EXPECT_EQ(*Eval(vm, "{payload.user, n = payload.id}", p),
            Value::Map({{"1", Value::Map({{"age", 30}, {"city", "Oslo"}})}, {"n", 7}}));
  // Null entries dropped and keys sorted, as through a table.
  Value unsorted = Value::Map({{"b", 1}, {"a", Value()}, {"c", Value::Map({{"z", 1}, {"y", 2}})}});
  EXPECT_EQ(*Eval(vm, "payload", unsorted),
            Value::Map({{"b", 1}, {"c", Value::Map({{"y", 2}, {"z", 1}})}}));
  Value same = Value::Map({{"a", 1}, {"b", Value::Array({1, 2})}});
  Result<Value> shared = Eval(vm, "payload", same);
  EXPECT_TRUE(shared->SharesBodyWith(same));  // nothing to reshape: no copy
}

TEST(LuaPayloadProxyTest, KeptProxiesAreDeadAfterTheirCall) {
  Vm vm;
  Script keep = Script::Expression(
      "(function() kept = payload kept_user = payload.user return true end)()", "k.yaml", 1);
  Script read_user = Script::Expression("kept_user.age", "k.yaml", 2);
  {
    Value p = Order();
    ASSERT_TRUE(keep.EvalCondition(vm, p).has_value());
  }  // p is freed: the kept proxies must not read it
  // Globals are per script, so reach them through the shared string library.
  Script leak = Script::Expression(
      "(function() string.kept_user = payload.user string.kept = payload return 1 end)()", "k.yaml",
      3);
  {
    Value p = Order();
    ASSERT_TRUE(leak.Evaluate(vm, p).has_value());
  }
  Result<Value> late = Eval(vm, "string.kept_user.age", Value::Map({{"x", 1}}));
  ASSERT_FALSE(late.has_value());
  EXPECT_NE(late.error().message.find("payload read after its expression returned"),
            std::string::npos)
      << late.error().message;
  EXPECT_FALSE(Eval(vm, "string.kept", Value::Map({{"x", 1}})).has_value());
  Script snippet =
      Script::Snippet("return function() return string.kept_user.age end", "k.yaml", 4);
  Result<SnippetResult> s = snippet.CallSnippet(vm, Value());
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("payload read after its expression returned"), std::string::npos)
      << s.error().message;
  Script emit =
      Script::Snippet("return function(p, ctx) ctx.emit('out', string.kept) end", "k.yaml", 5);
  EXPECT_FALSE(emit.CallSnippet(vm, Value()).has_value());
  EXPECT_FALSE(read_user.Evaluate(vm, Value::Map({{"x", 1}})).has_value());
  vm.CollectGarbage();
  EXPECT_EQ(*Eval(vm, "payload.n + 1", Value::Map({{"n", 1}})), Value(2));  // still usable
}

TEST(LuaPayloadProxyTest, JsonNullStaysAnOpaqueSentinel) {
  Vm vm;
  Value p = Value::Array({Value()});
  EXPECT_EQ(*Eval(vm, "type(json.null) .. tostring(payload[1] == json.null)", p),
            Value("userdatatrue"));
  Result<Value> index = Eval(vm, "payload[1].x", p);
  ASSERT_FALSE(index.has_value());
  EXPECT_NE(index.error().message.find("attempt to index json.null"), std::string::npos)
      << index.error().message;
  EXPECT_TRUE(Eval(vm, "json.null", p)->IsNull());
  EXPECT_TRUE(Eval(vm, "payload[1]", p)->IsNull());
}

TEST(LuaPayloadProxyTest, SnippetsStillGetAMutableTable) {
  Vm vm;
  Script s = Script::Snippet(
      "return function(p) p.user.age = p.user.age + 1 return type(p) .. p.user.age end", "s.yaml",
      1);
  Result<SnippetResult> r = s.CallSnippet(vm, Order());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->result, Value("table31"));
}

TEST(LuaPayloadProxyTest, ManyContainersInOneCall) {
  Vm vm;
  std::vector<Value> items;
  for (int i = 0; i < 40000; ++i) items.push_back(Value::Map({{"v", i % 3}}));
  Value p = Value::Map({{"items", Value::Array(std::move(items))}});
  const char* count =
      "(function() local n = 0 for _, it in ipairs(payload.items) do "
      "if it.v == 1 then n = n + 1 end end return n end)()";
  EXPECT_EQ(*Eval(vm, count, p), Value(13333));
  EXPECT_EQ(*Eval(vm, count, p), Value(13333));
}

}  // namespace
}  // namespace epos::lua
