#include "epos/core/value.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace epos {
namespace {

TEST(ValueTest, DefaultIsNull) {
  Value v;
  EXPECT_EQ(v.kind(), ValueKind::kNull);
  EXPECT_TRUE(v.IsNull());
  EXPECT_EQ(Value(nullptr), v);
  EXPECT_EQ(v.size(), 0u);
  EXPECT_EQ(v.HeapBytes(), 0u);
}

TEST(ValueTest, ConstructsScalars) {
  EXPECT_TRUE(Value(true).AsBool());
  EXPECT_FALSE(Value(false).AsBool());
  EXPECT_EQ(Value(true).kind(), ValueKind::kBool);

  EXPECT_EQ(Value(42).AsInt(), 42);
  EXPECT_EQ(Value(-7L).AsInt(), -7);
  EXPECT_EQ(Value(9LL).AsInt(), 9);
  EXPECT_EQ(Value(std::int64_t{5}).kind(), ValueKind::kInt);
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).AsInt(),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::max()).AsInt(),
            std::numeric_limits<std::int64_t>::max());

  EXPECT_EQ(Value(1.5).kind(), ValueKind::kDouble);
  EXPECT_EQ(Value(1.5).AsDouble(), 1.5);
  EXPECT_EQ(Value(2.0f).AsDouble(), 2.0);
  EXPECT_EQ(Value(3).AsNumber(), 3.0);
  EXPECT_EQ(Value(0.25).AsNumber(), 0.25);
  EXPECT_TRUE(Value(3).IsNumber());
  EXPECT_TRUE(Value(0.25).IsNumber());
  EXPECT_FALSE(Value("3").IsNumber());
}

TEST(ValueTest, ConstructsStringsAndBytes) {
  const std::string s = "from std::string";
  EXPECT_EQ(Value("literal").AsString(), "literal");
  EXPECT_EQ(Value(std::string_view("view")).AsString(), "view");
  EXPECT_EQ(Value(s).AsString(), s);
  EXPECT_EQ(Value("").AsString(), "");
  EXPECT_TRUE(Value("x").IsString());

  const std::string binary("a\0b\xff", 4);
  Value bytes = Value::Bytes(binary);
  EXPECT_TRUE(bytes.IsBytes());
  EXPECT_FALSE(bytes.IsString());
  EXPECT_EQ(bytes.AsBytes(), binary);
  EXPECT_EQ(bytes.AsBytes().size(), 4u);
  // Strings keep embedded NULs too.
  EXPECT_EQ(Value(std::string_view(binary)).AsString().size(), 4u);
}

TEST(ValueTest, ConstructsArrays) {
  Value empty = Value::Array({});
  EXPECT_TRUE(empty.IsArray());
  EXPECT_EQ(empty.size(), 0u);

  Value a = Value::Array({1, "two", 3.0, nullptr, Value::Array({true})});
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a.AsArray()[0].AsInt(), 1);
  EXPECT_EQ(a.At(1).AsString(), "two");
  EXPECT_EQ(a.At(2).AsDouble(), 3.0);
  EXPECT_TRUE(a.At(3).IsNull());
  EXPECT_TRUE(a.At(4).At(0).AsBool());

  std::vector<Value> items = {Value("x"), Value("y")};
  Value b = Value::Array(std::move(items));
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.At(1).AsString(), "y");
}

TEST(ValueTest, ConstructsMapsInInsertionOrder) {
  Value m = Value::Map({{"zeta", 1}, {"alpha", "a"}, {"mid", Value::Map({{"x", 2.5}})}});
  EXPECT_TRUE(m.IsMap());
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.AsMap()[0].key, "zeta");
  EXPECT_EQ(m.AsMap()[1].key, "alpha");
  EXPECT_EQ(m.AsMap()[2].key, "mid");
  EXPECT_EQ(m["zeta"].AsInt(), 1);
  EXPECT_EQ(m["alpha"].AsString(), "a");
  EXPECT_EQ(m["mid"]["x"].AsDouble(), 2.5);

  std::vector<MapEntry> entries;
  entries.push_back(MapEntry{"k", Value(1)});
  Value n = Value::Map(std::move(entries));
  EXPECT_EQ(n["k"].AsInt(), 1);
  EXPECT_EQ(Value::Map({}).size(), 0u);
}

TEST(ValueTest, KindNames) {
  EXPECT_EQ(ValueKindName(ValueKind::kNull), "null");
  EXPECT_EQ(ValueKindName(ValueKind::kBool), "bool");
  EXPECT_EQ(ValueKindName(ValueKind::kInt), "int");
  EXPECT_EQ(ValueKindName(ValueKind::kDouble), "double");
  EXPECT_EQ(ValueKindName(ValueKind::kString), "string");
  EXPECT_EQ(ValueKindName(ValueKind::kBytes), "bytes");
  EXPECT_EQ(ValueKindName(ValueKind::kArray), "array");
  EXPECT_EQ(ValueKindName(ValueKind::kMap), "map");
}

TEST(ValueTest, CopiesShareBodies) {
  Value s("a string long enough to matter");
  Value b = Value::Bytes("blob");
  Value a = Value::Array({1, 2, 3});
  Value m = Value::Map({{"k", a}});

  Value s2 = s;
  Value b2 = b;
  Value a2 = a;
  Value m2 = m;
  EXPECT_TRUE(s2.SharesBodyWith(s));
  EXPECT_TRUE(b2.SharesBodyWith(b));
  EXPECT_TRUE(a2.SharesBodyWith(a));
  EXPECT_TRUE(m2.SharesBodyWith(m));
  // Elements are shared, not copied, when put into a container or read back out.
  EXPECT_TRUE(m["k"].SharesBodyWith(a));
  EXPECT_TRUE(m.Find("k")->SharesBodyWith(a));

  // Equal contents built separately do not share.
  Value s3("a string long enough to matter");
  EXPECT_EQ(s3, s);
  EXPECT_FALSE(s3.SharesBodyWith(s));
  EXPECT_FALSE(Value(1).SharesBodyWith(Value(1.0)));
}

TEST(ValueTest, CopyOutlivesOriginal) {
  auto original = std::make_unique<Value>(
      Value::Map({{"name", "pulse"}, {"items", Value::Array({"a", Value::Bytes("b")})}}));
  Value copy = *original;
  Value items = (*original)["items"];
  original.reset();  // the copies now hold the only references; ASan checks the rest
  EXPECT_EQ(copy["name"].AsString(), "pulse");
  EXPECT_EQ(copy["items"].At(0).AsString(), "a");
  EXPECT_EQ(items.At(1).AsBytes(), "b");
  EXPECT_TRUE(copy["items"].SharesBodyWith(items));
}

TEST(ValueTest, AssignmentAndMoveKeepCountsRight) {
  Value a = Value::Array({"x"});
  Value b("y");
  b = a;  // releases "y", shares a
  EXPECT_TRUE(b.SharesBodyWith(a));
  const Value& alias = b;
  b = alias;  // self-assignment
  EXPECT_EQ(b.At(0).AsString(), "x");

  Value c = std::move(b);
  EXPECT_TRUE(b.IsNull());  // NOLINT(bugprone-use-after-move): moved-from is null
  EXPECT_TRUE(c.SharesBodyWith(a));
  Value d("z");
  d = std::move(c);
  EXPECT_TRUE(d.SharesBodyWith(a));
  Value& self = d;
  d = std::move(self);  // self-move keeps the value
  EXPECT_TRUE(d.SharesBodyWith(a));
  a = Value();
  EXPECT_EQ(d.At(0).AsString(), "x");

  Value e(1);
  Value f("f");
  e.Swap(f);
  EXPECT_EQ(e.AsString(), "f");
  EXPECT_EQ(f.AsInt(), 1);
}

TEST(ValueTest, ScalarEquality) {
  EXPECT_EQ(Value(), Value());
  EXPECT_EQ(Value(true), Value(true));
  EXPECT_NE(Value(true), Value(false));
  EXPECT_EQ(Value(7), Value(7LL));
  EXPECT_NE(Value(7), Value(8));
  EXPECT_EQ(Value(0.5), Value(0.5));
  EXPECT_EQ(Value(0.0), Value(-0.0));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(Value(nan), Value(nan));
  // Kinds differ, so no numeric coercion.
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_NE(Value(0), Value(false));
  EXPECT_NE(Value(), Value(0));
  EXPECT_NE(Value(), Value(false));
  EXPECT_NE(Value("1"), Value(1));
}

TEST(ValueTest, ContainerEquality) {
  EXPECT_EQ(Value("abc"), Value("abc"));
  EXPECT_NE(Value("abc"), Value("abd"));
  EXPECT_NE(Value("abc"), Value::Bytes("abc"));
  EXPECT_EQ(Value::Bytes("abc"), Value::Bytes("abc"));

  EXPECT_EQ(Value::Array({1, "a", Value::Array({2.5})}),
            Value::Array({1, "a", Value::Array({2.5})}));
  EXPECT_NE(Value::Array({1, 2}), Value::Array({2, 1}));
  EXPECT_NE(Value::Array({1, 2}), Value::Array({1, 2, 3}));
  EXPECT_NE(Value::Array({1}), Value::Array({1.0}));
  EXPECT_NE(Value::Array({}), Value::Map({}));

  // Maps compare as sets of entries: order does not matter.
  Value m1 = Value::Map({{"a", 1}, {"b", Value::Map({{"x", 1}, {"y", 2}})}});
  Value m2 = Value::Map({{"b", Value::Map({{"y", 2}, {"x", 1}})}, {"a", 1}});
  EXPECT_EQ(m1, m2);
  EXPECT_NE(m1, Value::Map({{"a", 1}}));
  EXPECT_NE(Value::Map({{"a", 1}}), Value::Map({{"a", 1}, {"b", 2}}));
  EXPECT_NE(Value::Map({{"a", 1}}), Value::Map({{"b", 1}}));
  EXPECT_NE(Value::Map({{"a", 1}}), Value::Map({{"a", 1.0}}));
  // A value equals its shared copy.
  Value copy = m1;
  EXPECT_EQ(copy, m1);
}

TEST(ValueTest, LookupOnMissingKeysAndWrongKinds) {
  Value m = Value::Map({{"a", 1}});
  EXPECT_EQ(m.Find("missing"), nullptr);
  EXPECT_TRUE(m["missing"].IsNull());
  EXPECT_TRUE(m["a"]["deeper"].IsNull());  // operator[] on an int
  EXPECT_TRUE(m["missing"]["deeper"].IsNull());
  EXPECT_TRUE(m.At(0).IsNull());  // At on a map

  Value a = Value::Array({"x"});
  EXPECT_EQ(a.Find("x"), nullptr);
  EXPECT_TRUE(a["x"].IsNull());
  EXPECT_TRUE(a.At(1).IsNull());
  EXPECT_TRUE(a.At(static_cast<std::size_t>(-1)).IsNull());

  for (const Value& v :
       {Value(), Value(true), Value(3), Value(1.5), Value("s"), Value::Bytes("b")}) {
    EXPECT_EQ(v.Find("k"), nullptr) << ValueKindName(v.kind());
    EXPECT_TRUE(v["k"].IsNull()) << ValueKindName(v.kind());
    EXPECT_TRUE(v.At(0).IsNull()) << ValueKindName(v.kind());
    EXPECT_EQ(v.size(), 0u) << ValueKindName(v.kind());
  }
}

TEST(ValueTest, DuplicateKeysLastWinsAtFirstPosition) {
  Value m = Value::Map({{"a", 1}, {"b", 2}, {"a", 3}});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.AsMap()[0].key, "a");
  EXPECT_EQ(m.AsMap()[0].value.AsInt(), 3);
  EXPECT_EQ(m.AsMap()[1].key, "b");

  // More than 16 entries takes the hashed path.
  std::vector<MapEntry> entries;
  for (int i = 0; i < 40; ++i) entries.push_back(MapEntry{"k" + std::to_string(i % 20), i});
  Value big = Value::Map(std::move(entries));
  ASSERT_EQ(big.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(big.AsMap()[i].key, "k" + std::to_string(i));
    EXPECT_EQ(big.AsMap()[i].value.AsInt(), i + 20);
  }

  // 17 unique entries (hashed path, no duplicates) keep their order.
  std::vector<MapEntry> unique;
  for (int i = 0; i < 17; ++i) unique.push_back(MapEntry{std::to_string(i), i});
  Value u = Value::Map(std::move(unique));
  ASSERT_EQ(u.size(), 17u);
  EXPECT_EQ(u.AsMap()[16].key, "16");
}

TEST(ValueTest, TruthyAsInLua) {
  EXPECT_FALSE(Value().Truthy());
  EXPECT_FALSE(Value(false).Truthy());
  EXPECT_TRUE(Value(true).Truthy());
  EXPECT_TRUE(Value(0).Truthy());
  EXPECT_TRUE(Value(0.0).Truthy());
  EXPECT_TRUE(Value("").Truthy());
  EXPECT_TRUE(Value::Bytes("").Truthy());
  EXPECT_TRUE(Value::Array({}).Truthy());
  EXPECT_TRUE(Value::Map({}).Truthy());
}

TEST(ValueTest, HeapBytesCountsContents) {
  EXPECT_EQ(Value(1).HeapBytes(), 0u);
  EXPECT_EQ(Value(true).HeapBytes(), 0u);
  const std::size_t small = Value("ab").HeapBytes();
  EXPECT_GT(small, 0u);
  EXPECT_EQ(Value("abcd").HeapBytes(), small + 2);
  Value s(std::string(1000, 'x'));
  EXPECT_GE(s.HeapBytes(), 1000u);
  EXPECT_GT(Value::Array({s}).HeapBytes(), s.HeapBytes());
  EXPECT_GT(Value::Map({{"k", s}}).HeapBytes(), s.HeapBytes());
}

// Each thread copies and destroys elements of one shared array; the atomic reference
// counts must neither free a body early (ASan) nor race (TSan).
void CopyAcrossThreads(int threads, int iterations) {
  Value shared = Value::Array(
      {Value("alpha"), Value::Map({{"k", Value::Array({1, 2})}}), Value::Bytes("beta"), Value(3)});
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&shared, iterations] {
      for (int i = 0; i < iterations; ++i) {
        Value copy = shared;
        Value element = copy.At(static_cast<std::size_t>(i) % copy.size());
        Value again = element;
        Value nested = shared.At(1)["k"];
        (void)again;
        (void)nested;
      }
    });
  }
  for (std::thread& w : workers) w.join();

  ASSERT_EQ(shared.size(), 4u);
  EXPECT_EQ(shared.At(0).AsString(), "alpha");
  EXPECT_EQ(shared.At(1)["k"], Value::Array({1, 2}));
  EXPECT_EQ(shared.At(2).AsBytes(), "beta");
  EXPECT_EQ(shared.At(3).AsInt(), 3);
  // The array must still be alive and sole-owned by `shared`: dropping it here must free
  // it exactly once (ASan/LSan report a leak or double free otherwise).
  Value last = std::move(shared);
  EXPECT_EQ(last.At(0).AsString(), "alpha");
}

TEST(ValueTest, CopiesAcrossThreads1) { CopyAcrossThreads(1, 100000); }
TEST(ValueTest, CopiesAcrossThreads2) { CopyAcrossThreads(2, 100000); }
TEST(ValueTest, CopiesAcrossThreads4) { CopyAcrossThreads(4, 100000); }

}  // namespace
}  // namespace epos
