#include "epos/core/json.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos {
namespace {

// Plain GoogleTest (no gMock matchers): the suite links gtest only.
::testing::AssertionResult Contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << '"' << text << "\" does not contain \"" << part << '"';
}

::testing::AssertionResult BeginsWith(const std::string& text, std::string_view prefix) {
  if (text.starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << '"' << text << "\" does not start with \"" << prefix << '"';
}

// Parses `text`, failing the test (and returning null) on an error.
Value Parse(std::string_view text) {
  Result<Value> v = ParseJson(text);
  EXPECT_TRUE(v.has_value()) << "input: " << text << "\nerror: " << v.error().message;
  return v.has_value() ? *v : Value();
}

// The error message for `text`, which must not parse.
std::string ParseErrorMessage(std::string_view text) {
  Result<Value> v = ParseJson(text);
  if (v.has_value()) {
    ADD_FAILURE() << "parsed but should not: " << text;
    return {};
  }
  EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
  return v.error().message;
}

std::string Nested(int depth, std::string_view open, std::string_view close) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += "1";
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

TEST(JsonTest, ParsesScalars) {
  EXPECT_EQ(Parse("null"), Value());
  EXPECT_EQ(Parse("true"), Value(true));
  EXPECT_EQ(Parse("false"), Value(false));
  EXPECT_EQ(Parse("0"), Value(0));
  EXPECT_EQ(Parse("-12"), Value(-12));
  EXPECT_EQ(Parse("1.5"), Value(1.5));
  EXPECT_EQ(Parse("\"text\""), Value("text"));
  EXPECT_EQ(Parse("[]"), Value::Array({}));
  EXPECT_EQ(Parse("{}"), Value::Map({}));
}

TEST(JsonTest, ParsesNestedDocument) {
  Value v = Parse(R"({"name": "order", "lines": [{"sku": "A1", "qty": 2, "price": 9.5},
                      {"sku": "B2", "qty": 1, "price": null}], "paid": false, "meta": {}})");
  ASSERT_TRUE(v.IsMap());
  EXPECT_EQ(v["name"].AsString(), "order");
  ASSERT_EQ(v["lines"].size(), 2u);
  EXPECT_EQ(v["lines"].At(0)["qty"], Value(2));
  EXPECT_EQ(v["lines"].At(0)["price"], Value(9.5));
  EXPECT_TRUE(v["lines"].At(1)["price"].IsNull());
  EXPECT_EQ(v["paid"], Value(false));
  EXPECT_EQ(v["meta"], Value::Map({}));
  EXPECT_EQ(
      v, Value::Map({{"name", "order"},
                     {"lines",
                      Value::Array({Value::Map({{"sku", "A1"}, {"qty", 2}, {"price", 9.5}}),
                                    Value::Map({{"sku", "B2"}, {"qty", 1}, {"price", nullptr}})})},
                     {"paid", false},
                     {"meta", Value::Map({})}}));
}

TEST(JsonTest, RoundTripsNestedDocuments) {
  for (std::string_view text : {
           R"({"a":[1,2.5,"x",null,true,false,{"b":{"c":[[],{}]}}],"d":-7,"e":"\"q\""})",
           R"([[[[1]]],{"z":{"y":{"x":"w"}}},[{"k":[0.1,-0.0,1e300]}]])",
           R"({"keys are kept in order":1,"zz":2,"aa":3,"a\nb":"\u0001"})",
           R"("just a string")",
           "123",
       }) {
    Value v = Parse(text);
    EXPECT_EQ(ToJson(v), text);
    EXPECT_EQ(Parse(ToJson(v)), v) << text;
    EXPECT_EQ(Parse(ToPrettyJson(v)), v) << text;
  }
}

TEST(JsonTest, RoundTripsValues) {
  Value v =
      Value::Map({{"int", 2},
                  {"double", 2.0},
                  {"neg", -0.5},
                  {"s", "caf\xc3\xa9 \"quoted\" \\ \t\n"},
                  {"nested", Value::Array({Value::Map({{"x", nullptr}}), Value::Array({})})}});
  Value back = Parse(ToJson(v));
  EXPECT_EQ(back, v);
  EXPECT_TRUE(back["int"].IsInt());
  EXPECT_TRUE(back["double"].IsDouble());
}

TEST(JsonTest, ParsesInt64Limits) {
  Value min = Parse("-9223372036854775808");
  ASSERT_TRUE(min.IsInt());
  EXPECT_EQ(min.AsInt(), std::numeric_limits<std::int64_t>::min());
  Value max = Parse("9223372036854775807");
  ASSERT_TRUE(max.IsInt());
  EXPECT_EQ(max.AsInt(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Parse("4294967295"), Value(4294967295LL));  // uint32 max
  EXPECT_EQ(Parse("-2147483648"), Value(-2147483648LL));

  EXPECT_EQ(ToJson(min), "-9223372036854775808");
  EXPECT_EQ(ToJson(max), "9223372036854775807");
}

TEST(JsonTest, IntegersBeyondInt64BecomeDoubles) {
  Value above = Parse("9223372036854775808");  // int64 max + 1
  ASSERT_TRUE(above.IsDouble());
  EXPECT_EQ(above.AsDouble(), 9223372036854775808.0);
  Value umax = Parse("18446744073709551615");
  ASSERT_TRUE(umax.IsDouble());
  EXPECT_EQ(umax.AsDouble(), 18446744073709551615.0);
  Value huge = Parse("18446744073709551616");  // beyond uint64
  ASSERT_TRUE(huge.IsDouble());
  EXPECT_EQ(huge.AsDouble(), 18446744073709551616.0);
  Value below = Parse("-9223372036854775809");
  ASSERT_TRUE(below.IsDouble());
  EXPECT_EQ(below.AsDouble(), -9223372036854775809.0);
}

TEST(JsonTest, FractionsAndExponentsAreDoubles) {
  EXPECT_EQ(Parse("1.0"), Value(1.0));
  EXPECT_EQ(Parse("1e2"), Value(100.0));
  EXPECT_EQ(Parse("-0"), Value(0));
  EXPECT_TRUE(std::signbit(Parse("-0.0").AsDouble()));
  EXPECT_EQ(Parse("1E-2"), Value(0.01));
}

TEST(JsonTest, ParsesNumbersWithFullPrecision) {
  for (const char* text :
       {"0.1", "2.2250738585072011e-308", "2.2250738585072012e-308", "1.7976931348623157e308",
        "4.9406564584124654e-324", "0.30000000000000004", "9007199254740993", "1e23", "8.41e21",
        "5.7089907708238395e-308", "0.500000000000000166533453693773481063544750213623046875"}) {
    Value v = Parse(text);
    ASSERT_TRUE(v.IsNumber()) << text;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(v.AsNumber()),
              std::bit_cast<std::uint64_t>(std::strtod(text, nullptr)))
        << text;
  }
}

TEST(JsonTest, RejectsNumbersTooBigForDouble) {
  EXPECT_TRUE(Contains(ParseErrorMessage("1e400"), "Number too big to be stored in double."));
}

TEST(JsonTest, DecodesUnicodeEscapes) {
  EXPECT_EQ(Parse(R"("\u00e9")").AsString(), "\xc3\xa9");
  EXPECT_EQ(Parse(R"("caf\u00E9")").AsString(), "caf\xc3\xa9");
  EXPECT_EQ(Parse(R"("\u20ac")").AsString(), "\xe2\x82\xac");
  // U+1F600 as a UTF-16 surrogate pair.
  EXPECT_EQ(Parse(R"("\ud83d\ude00")").AsString(), "\xf0\x9f\x98\x80");
  // Raw UTF-8 passes through unchanged, in keys too.
  Value m = Parse("{\"cl\xc3\xa9\": \"\xf0\x9f\x98\x80\"}");
  EXPECT_EQ(m["cl\xc3\xa9"].AsString(), "\xf0\x9f\x98\x80");
  // Output keeps UTF-8 as is.
  EXPECT_EQ(ToJson(Value("\xc3\xa9")), "\"\xc3\xa9\"");
}

TEST(JsonTest, RejectsLoneSurrogates) {
  EXPECT_TRUE(Contains(ParseErrorMessage(R"("\ud800")"), "surrogate"));
  EXPECT_TRUE(Contains(ParseErrorMessage(R"("\ud800\u0041")"), "surrogate"));
  EXPECT_TRUE(Contains(ParseErrorMessage(R"("\udc00")"), "surrogate"));
  EXPECT_TRUE(Contains(ParseErrorMessage(R"({"\udfff": 1})"), "surrogate"));
}

TEST(JsonTest, RejectsInvalidUtf8) {
  EXPECT_TRUE(Contains(ParseErrorMessage("\"\xff\""), "Invalid encoding in string."));
  EXPECT_TRUE(Contains(ParseErrorMessage("\"\xc0\xaf\""), "Invalid encoding"));      // overlong
  EXPECT_TRUE(Contains(ParseErrorMessage("\"\xed\xa0\x80\""), "Invalid encoding"));  // surrogate
  EXPECT_TRUE(Contains(ParseErrorMessage("\"\xc3\""), "Invalid encoding"));          // truncated
}

TEST(JsonTest, DecodesStandardEscapes) {
  Value v = Parse(R"("\"\\\/\b\f\n\r\t")");
  EXPECT_EQ(v.AsString(), "\"\\/\b\f\n\r\t");
  Value nul = Parse(R"("a\u0000b")");
  EXPECT_EQ(nul.AsString(), std::string_view("a\0b", 3));
}

TEST(JsonTest, EscapesQuotesAndControlCharactersOnOutput) {
  EXPECT_EQ(ToJson(Value("say \"hi\"")), R"("say \"hi\"")");
  EXPECT_EQ(ToJson(Value("back\\slash")), R"("back\\slash")");
  EXPECT_EQ(ToJson(Value("\b\f\n\r\t")), R"("\b\f\n\r\t")");
  EXPECT_EQ(ToJson(Value(std::string_view("\x01\x1f\0", 3))), R"("\u0001\u001F\u0000")");
  EXPECT_EQ(ToJson(Value("a/b")), R"("a/b")");
  EXPECT_EQ(ToJson(Value::Map({{"k\"ey\n", 1}})), R"({"k\"ey\n":1})");
  // Every control character round-trips.
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\"\\\x7f";
  EXPECT_EQ(Parse(ToJson(Value(all))).AsString(), all);
}

TEST(JsonTest, ErrorNamesLineAndColumn) {
  // The comma between "b" and "c" is missing on line 2; column 8 is the "c".
  Result<Value> r = ParseJson("{\"a\": 1,\n\"b\": 2 \"c\": 3}");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeName(r.error().code), "invalid_argument");
  EXPECT_EQ(r.error().message,
            "invalid JSON at line 2, column 8: Missing a comma or '}' after an object member.");

  EXPECT_EQ(ParseErrorMessage("[1,\n 2,\n 3\n 4]"),
            "invalid JSON at line 4, column 2: Missing a comma or ']' after an array element.");
  EXPECT_EQ(ParseErrorMessage("{\r\n  \"a\" 1}"),
            "invalid JSON at line 2, column 7: Missing a colon after a name of object member.");
}

TEST(JsonTest, ErrorColumnCountsCharactersNotBytes) {
  EXPECT_EQ(ParseErrorMessage("[\"\xc3\xa9\xe2\x82\xac\" x]"),
            "invalid JSON at line 1, column 7: Missing a comma or ']' after an array element.");
}

TEST(JsonTest, RejectsMalformedDocuments) {
  for (std::string_view text : {"",          "   \n ",     "{",        "[",
                                "[1,]",      "{\"a\":1,}", "{'a':1}",  "// comment\n1",
                                "/* c */ 1", "NaN",        "Infinity", "-Infinity",
                                "tru",       "nul",        "1.",       ".5",
                                "+1",        "0x10",       "\"open",   "\"tab\there\"",
                                "{\"a\" 1}", "{1: 2}",     "[1 2]",    "\"\\x\"",
                                "\"\\u12\"", "]",          "{\"a\":}", "[,1]"}) {
    EXPECT_TRUE(BeginsWith(ParseErrorMessage(text), "invalid JSON at line ")) << text;
  }
  EXPECT_EQ(ParseErrorMessage(""), "invalid JSON at line 1, column 1: The document is empty.");
  EXPECT_EQ(ParseErrorMessage("[NaN]"), "invalid JSON at line 1, column 2: Invalid value.");
}

TEST(JsonTest, RejectsTrailingGarbage) {
  EXPECT_EQ(ParseErrorMessage("{} x"),
            "invalid JSON at line 1, column 4: "
            "The document root must not be followed by other values.");
  for (std::string_view text :
       {"1 2", "[1]]", "true false", "\"a\"\"b\"", "{}{}", "01", "null,", "[1]\n\n//"}) {
    EXPECT_TRUE(Contains(ParseErrorMessage(text),
                         "The document root must not be followed by other values."))
        << text;
  }
  // A NUL byte ends the document for RapidJSON's stream, but not for us.
  EXPECT_EQ(ParseErrorMessage(std::string_view("[1]\0[2]", 7)),
            "invalid JSON at line 1, column 4: "
            "The document root must not be followed by other values.");
  EXPECT_TRUE(Contains(ParseErrorMessage(std::string_view("1\0", 2)), "root must not be"));
  EXPECT_TRUE(BeginsWith(ParseErrorMessage(std::string_view("\0", 1)), "invalid JSON"));
}

TEST(JsonTest, AcceptsSurroundingWhitespace) {
  EXPECT_EQ(Parse(" \n\t[1]\r\n "), Value::Array({1}));
}

TEST(JsonTest, ReadsOnlyTheGivenView) {
  const std::string buffer = "[1,2]garbage";
  EXPECT_EQ(Parse(std::string_view(buffer).substr(0, 5)), Value::Array({1, 2}));
}

TEST(JsonTest, LimitsNestingDepth) {
  Value deepest = Parse(Nested(512, "[", "]"));
  EXPECT_TRUE(deepest.IsArray());
  EXPECT_TRUE(Parse(Nested(512, "{\"k\":", "}")).IsMap());

  EXPECT_EQ(ParseErrorMessage(Nested(513, "[", "]")),
            "invalid JSON at line 1, column 513: nesting deeper than 512");
  EXPECT_TRUE(Contains(ParseErrorMessage(Nested(513, "{\"k\":", "}")), "nesting deeper than 512"));
  EXPECT_TRUE(
      Contains(ParseErrorMessage(Nested(300, "[{\"k\":", "}]")), "nesting deeper than 512"));
  // A hostile body: a million open brackets fails fast without exhausting the stack.
  EXPECT_TRUE(Contains(ParseErrorMessage(std::string(1'000'000, '[')), "nesting deeper than 512"));
}

TEST(JsonTest, DuplicateKeysLastWins) {
  Value v = Parse(R"({"a": 1, "b": 2, "a": 3})");
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v["a"], Value(3));
  EXPECT_EQ(ToJson(v), R"({"a":3,"b":2})");
}

TEST(JsonTest, KeepsMemberOrder) {
  EXPECT_EQ(ToJson(Parse(R"({"z": 1, "a": 2, "m": 3})")), R"({"z":1,"a":2,"m":3})");
}

TEST(JsonTest, WritesBytesAsBase64) {
  // RFC 4648 §10 test vectors.
  EXPECT_EQ(ToJson(Value::Bytes("")), R"("")");
  EXPECT_EQ(ToJson(Value::Bytes("f")), R"("Zg==")");
  EXPECT_EQ(ToJson(Value::Bytes("fo")), R"("Zm8=")");
  EXPECT_EQ(ToJson(Value::Bytes("foo")), R"("Zm9v")");
  EXPECT_EQ(ToJson(Value::Bytes("foob")), R"("Zm9vYg==")");
  EXPECT_EQ(ToJson(Value::Bytes("fooba")), R"("Zm9vYmE=")");
  EXPECT_EQ(ToJson(Value::Bytes("foobar")), R"("Zm9vYmFy")");
  // The standard alphabet's last two symbols, and binary bytes.
  EXPECT_EQ(ToJson(Value::Bytes("\xfb\xff")), R"("+/8=")");
  EXPECT_EQ(ToJson(Value::Bytes(std::string_view("\0\0\0", 3))), R"("AAAA")");
  EXPECT_EQ(ToJson(Value::Array({Value::Bytes("hi")})), R"(["aGk="])");
}

TEST(JsonTest, WritesNonFiniteDoublesAsNull) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ToJson(Value(std::numeric_limits<double>::quiet_NaN())), "null");
  EXPECT_EQ(ToJson(Value(inf)), "null");
  EXPECT_EQ(ToJson(Value(-inf)), "null");
  EXPECT_EQ(ToJson(Value::Array({1.5, std::nan(""), inf, 2})), "[1.5,null,null,2]");
  EXPECT_EQ(ToPrettyJson(Value::Map({{"x", -inf}})), "{\n  \"x\": null\n}");
}

TEST(JsonTest, WritesShortestRoundTripDoubles) {
  EXPECT_EQ(ToJson(Value(2.0)), "2.0");
  EXPECT_EQ(ToJson(Value(2)), "2");
  EXPECT_EQ(ToJson(Value(0.1)), "0.1");
  EXPECT_EQ(ToJson(Value(-0.0)), "-0.0");
  EXPECT_EQ(ToJson(Value(1e300)), "1e300");
  EXPECT_EQ(ToJson(Value(1.5e-7)), "1.5e-7");
  EXPECT_EQ(ToJson(Value(123456.789)), "123456.789");
  EXPECT_EQ(ToJson(Value(5e-324)), "5e-324");
  EXPECT_EQ(ToJson(Value(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(ToJson(Value(-1.25)), "-1.25");
  EXPECT_EQ(ToJson(Value(0.001)), "0.001");
  EXPECT_EQ(ToJson(Value(1.5e-6)), "0.0000015");
  EXPECT_EQ(ToJson(Value(1e20)), "100000000000000000000.0");
  EXPECT_EQ(ToJson(Value(1e21)), "1e21");
  EXPECT_EQ(ToJson(Value(-1.2345e-300)), "-1.2345e-300");
  EXPECT_EQ(ToJson(Value(9007199254740993.0)), "9007199254740992.0");
  EXPECT_EQ(ToJson(Value(5e-324)), "5e-324");
  EXPECT_EQ(ToPrettyJson(Value::Array({0.5})), "[\n  0.5\n]");
  EXPECT_EQ(ToJson(Value(std::numeric_limits<double>::max())), "1.7976931348623157e308");

  // Random finite doubles come back bit for bit.
  std::mt19937_64 rng(20240607);
  for (int i = 0; i < 20000; ++i) {
    const double d = std::bit_cast<double>(rng());
    if (!std::isfinite(d)) continue;
    const std::string text = ToJson(Value(d));
    Value back = Parse(text);
    ASSERT_TRUE(back.IsDouble()) << text;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(back.AsDouble()), std::bit_cast<std::uint64_t>(d))
        << text;
  }
}

TEST(JsonTest, PrettyPrintsWithTwoSpaceIndent) {
  Value v = Value::Map({{"a", Value::Array({1, "x"})},
                        {"b", Value::Map({})},
                        {"c", Value::Array({})},
                        {"d", Value::Map({{"e", nullptr}})}});
  EXPECT_EQ(ToPrettyJson(v),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    \"x\"\n"
            "  ],\n"
            "  \"b\": {},\n"
            "  \"c\": [],\n"
            "  \"d\": {\n"
            "    \"e\": null\n"
            "  }\n"
            "}");
  EXPECT_EQ(ToPrettyJson(Value(3)), "3");
}

TEST(JsonTest, AppendJsonAppends) {
  std::string out = "prefix:";
  AppendJson(Value::Array({1, true}), out);
  AppendJson(Value("s"), out);
  EXPECT_EQ(out, R"(prefix:[1,true]"s")");
}

TEST(JsonTest, WritesScalars) {
  EXPECT_EQ(ToJson(Value()), "null");
  EXPECT_EQ(ToJson(Value(true)), "true");
  EXPECT_EQ(ToJson(Value(false)), "false");
  EXPECT_EQ(ToJson(Value(-42)), "-42");
  EXPECT_EQ(ToJson(Value("")), R"("")");
  EXPECT_EQ(ToJson(Value::Array({})), "[]");
  EXPECT_EQ(ToJson(Value::Map({})), "{}");
}

}  // namespace
}  // namespace epos
