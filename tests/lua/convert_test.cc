#include "epos/lua/convert.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "epos/lua/script.h"
#include "epos/lua/vm.h"

namespace epos::lua {
namespace {

// Evaluates `expr` over `payload` in a private Vm.
Result<Value> Eval(const std::string& expr, const Value& payload = {}) {
  static Vm* vm = new Vm();
  Script script = Script::Expression(expr, "convert_test.yaml", 1);
  return script.Evaluate(*vm, payload);
}

Value RoundTrip(const Value& v) {
  Result<Value> out = Eval("payload", v);
  EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().message);
  return out ? *out : Value("<error>");
}

TEST(LuaConvertTest, ScalarsRoundTrip) {
  EXPECT_TRUE(RoundTrip(Value()).IsNull());
  EXPECT_EQ(RoundTrip(true), Value(true));
  EXPECT_EQ(RoundTrip(false), Value(false));
  EXPECT_EQ(RoundTrip(std::numeric_limits<std::int64_t>::max()),
            Value(std::numeric_limits<long long>::max()));
  EXPECT_EQ(RoundTrip(std::numeric_limits<std::int64_t>::min()),
            Value(std::numeric_limits<long long>::min()));
  EXPECT_EQ(RoundTrip(1.5), Value(1.5));
  Value two = RoundTrip(2.0);
  EXPECT_TRUE(two.IsDouble());  // a float stays a float even when integral
  EXPECT_EQ(RoundTrip("héllo"), Value("héllo"));
  EXPECT_EQ(RoundTrip(std::string("a\0b", 3)), Value(std::string("a\0b", 3)));
}

TEST(LuaConvertTest, IntegersStayIntegersAndFloatsStayFloats) {
  EXPECT_EQ(*Eval("math.type(payload)", 3), Value("integer"));
  EXPECT_EQ(*Eval("math.type(payload)", 3.0), Value("float"));
  EXPECT_EQ(*Eval("payload + 1", std::numeric_limits<long long>::max() - 1),
            Value(std::numeric_limits<long long>::max()));
  EXPECT_TRUE(Eval("7 // 2")->IsInt());
  EXPECT_TRUE(Eval("7 / 2")->IsDouble());
}

TEST(LuaConvertTest, BytesBecomeStringsAndInvalidUtf8BecomesBytes) {
  EXPECT_EQ(*Eval("type(payload)", Value::Bytes("\x01\x02")), Value("string"));
  EXPECT_EQ(*Eval("#payload", Value::Bytes(std::string("\xff\x00\xfe", 3))), Value(3));
  Result<Value> raw = Eval("'\\xff\\xfe'");
  ASSERT_TRUE(raw.has_value());
  EXPECT_TRUE(raw->IsBytes());
  EXPECT_EQ(raw->AsBytes(), "\xff\xfe");
  EXPECT_TRUE(Eval("'\\u{10FFFF}é'")->IsString());
  EXPECT_TRUE(Eval("'\\xed\\xa0\\x80'")->IsBytes());  // a UTF-16 surrogate
  EXPECT_TRUE(Eval("'\\xc0\\x80'")->IsBytes());       // overlong
}

TEST(LuaConvertTest, NestedContainersRoundTrip) {
  Value v = Value::Map({{"a", Value::Array({1, 2, Value::Map({{"b", "x"}})})},
                        {"c", Value::Map(std::vector<MapEntry>{})},
                        {"d", Value::Array(std::vector<Value>{})},
                        {"e", 2.5}});
  Value back = RoundTrip(v);
  EXPECT_EQ(back, v);
  EXPECT_TRUE(back["c"].IsMap());
  EXPECT_TRUE(back["d"].IsArray());
}

TEST(LuaConvertTest, NullIsNilInMapsAndJsonNullInArrays) {
  Value map = Value::Map({{"a", Value()}, {"b", 1}});
  EXPECT_EQ(*Eval("payload.a == nil and payload.b == 1", map), Value(true));
  EXPECT_EQ(RoundTrip(map), Value::Map({{"b", 1}}));  // the null entry is absent

  Value array = Value::Array({1, Value(), 3});
  EXPECT_EQ(*Eval("#payload == 3 and payload[2] == json.null", array), Value(true));
  EXPECT_EQ(RoundTrip(array), array);
  EXPECT_TRUE(Eval("json.null")->IsNull());
  EXPECT_TRUE(Eval("nil")->IsNull());
  EXPECT_EQ(*Eval("payload == nil", Value()), Value(true));
}

TEST(LuaConvertTest, TablesBecomeArraysOrMaps) {
  EXPECT_EQ(*Eval("{1, 'two', 3.5}"), Value::Array({1, "two", 3.5}));
  EXPECT_EQ(*Eval("{[2] = 'b', [1] = 'a'}"), Value::Array({"a", "b"}));
  EXPECT_EQ(*Eval("{x = 1, [1] = 2}"), Value::Map({{"1", 2}, {"x", 1}}));
  EXPECT_EQ(*Eval("{[1] = 1, [3] = 3}"), Value::Map({{"1", 1}, {"3", 3}}));
  EXPECT_EQ(*Eval("{[0] = 0}"), Value::Map({{"0", 0}}));
  Result<Value> empty = Eval("{}");
  EXPECT_TRUE(empty->IsMap());
  EXPECT_EQ(empty->size(), 0u);
  Result<Value> marked = Eval("json.array({})");
  EXPECT_TRUE(marked->IsArray());
  EXPECT_EQ(marked->size(), 0u);
}

TEST(LuaConvertTest, MapKeysAreSorted) {
  Result<Value> v = Eval("{zeta = 1, alpha = 2, mid = 3}");
  ASSERT_TRUE(v.has_value());
  auto entries = v->AsMap();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "alpha");
  EXPECT_EQ(entries[1].key, "mid");
  EXPECT_EQ(entries[2].key, "zeta");
}

TEST(LuaConvertTest, RejectsFunctionsAndOddKeysWithAPath) {
  Result<Value> f = Eval("{items = {1, {f = print}}}");
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(f.error().message.find("value.items[2].f: cannot convert a function"),
            std::string::npos)
      << f.error().message;
  Result<Value> b = Eval("{[true] = 1}");
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find("boolean key"), std::string::npos) << b.error().message;
  Result<Value> fl = Eval("{[1.5] = 1}");
  ASSERT_FALSE(fl.has_value());
  Result<Value> top = Eval("print");
  ASSERT_FALSE(top.has_value());
  EXPECT_NE(top.error().message.find("convert_test.yaml:1: result: value: cannot convert"),
            std::string::npos)
      << top.error().message;
}

TEST(LuaConvertTest, RejectsCyclesButAcceptsSharedTables) {
  Result<Value> cycle = Eval("(function() local t = {a = {}} t.a.up = t return t end)()");
  ASSERT_FALSE(cycle.has_value());
  EXPECT_NE(cycle.error().message.find("value.a.up: cannot convert a table that contains itself"),
            std::string::npos)
      << cycle.error().message;
  Result<Value> shared = Eval("(function() local t = {1} return {a = t, b = t} end)()");
  ASSERT_TRUE(shared.has_value()) << shared.error().message;
  EXPECT_EQ(*shared, Value::Map({{"a", Value::Array({1})}, {"b", Value::Array({1})}}));
}

TEST(LuaConvertTest, BoundsDepthBothWays) {
  Result<Value> deep =
      Eval("(function() local t = {} for i = 1, 1000 do t = {t} end return t end)()");
  ASSERT_FALSE(deep.has_value());
  EXPECT_NE(deep.error().message.find("nested deeper than"), std::string::npos);
  Result<Value> ok = Eval("(function() local t = {} for i = 1, 100 do t = {t} end return t end)()");
  EXPECT_TRUE(ok.has_value());

  Value nested = Value::Array({1});
  for (int i = 0; i < 500; ++i) nested = Value::Array({nested});
  // Expressions read payloads lazily (payload_proxy.h), so only converting the whole payload
  // meets the limit; snippets convert it on entry.
  EXPECT_EQ(*Eval("#payload[1][1][1]", nested), Value(1));
  Result<Value> in = Eval("payload", nested);
  ASSERT_FALSE(in.has_value());
  EXPECT_NE(in.error().message.find("nested deeper than"), std::string::npos) << in.error().message;
  Result<SnippetResult> entry =
      Script::Snippet("return function() return 1 end", "convert_test.yaml", 1).CallSnippet(nested);
  ASSERT_FALSE(entry.has_value());
  EXPECT_NE(entry.error().message.find("nested deeper than"), std::string::npos)
      << entry.error().message;
  EXPECT_EQ(*Eval("1", 0), Value(1));  // the Vm is still usable
}

}  // namespace
}  // namespace epos::lua
