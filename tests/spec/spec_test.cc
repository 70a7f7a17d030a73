#include "epos/spec/spec.h"

#include <gtest/gtest.h>

#include "epos/spec/diagnostics.h"

namespace epos {
namespace {

TEST(SpecTest, ValidatesNames) {
  EXPECT_TRUE(IsValidSpecName("a"));
  EXPECT_TRUE(IsValidSpecName("Order_v2.pricing-1"));
  EXPECT_FALSE(IsValidSpecName(""));
  EXPECT_FALSE(IsValidSpecName("a b"));
  EXPECT_FALSE(IsValidSpecName("a/b"));
  EXPECT_FALSE(IsValidSpecName("é"));

  EXPECT_TRUE(IsValidEnvName("_A1"));
  EXPECT_TRUE(IsValidEnvName("token"));
  EXPECT_FALSE(IsValidEnvName(""));
  EXPECT_FALSE(IsValidEnvName("1A"));
  EXPECT_FALSE(IsValidEnvName("A-B"));
  EXPECT_FALSE(IsValidEnvName("A.B"));

  EXPECT_TRUE(IsValidUuid("0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e"));
  EXPECT_TRUE(IsValidUuid("0190C2A4-7B1E-7CC3-98D4-1C2A3B4C5D6E"));
  EXPECT_FALSE(IsValidUuid("0190c2a47b1e7cc398d41c2a3b4c5d6e"));
  EXPECT_FALSE(IsValidUuid("0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6g"));
  EXPECT_FALSE(IsValidUuid("0190c2a4-7b1e-7cc3-98d41-c2a3b4c5d6e"));
}

TEST(SpecTest, FormatsPositionsAndDiagnostics) {
  EXPECT_EQ((SourcePos{"orders.yaml", 12, 7}).ToString(), "orders.yaml:12:7");
  EXPECT_EQ((SourcePos{"orders.yaml", 0, 0}).ToString(), "orders.yaml");
  EXPECT_EQ((Diagnostic{{"orders.yaml", 12, 7}, "pricing", "kind", "required"}).ToString(),
            R"(orders.yaml:12:7: spec "pricing": field "kind": required)");
  EXPECT_EQ((Diagnostic{{"o.yaml", 1, 2}, "p", "", "boom"}).ToString(),
            R"(o.yaml:1:2: spec "p": boom)");
  EXPECT_EQ((Diagnostic{{"o.yaml", 1, 2}, "", "", "boom"}).ToString(), "o.yaml:1:2: boom");

  Diagnostics a;
  a.Add({"a.yaml", 1, 1}, "x", "kind", "required");
  Diagnostics b;
  b.Add(Diagnostic{{"b.yaml", 2, 3}, "y", "name", "required"});
  a.Append(b);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.ToString(),
            "a.yaml:1:1: spec \"x\": field \"kind\": required\n"
            "b.yaml:2:3: spec \"y\": field \"name\": required");
}

TEST(SpecTest, PosOfFallsBackToAncestors) {
  Spec spec;
  spec.pos = {"s.yaml", 1, 3};
  spec.field_pos["routes"] = {"s.yaml", 2, 3};
  spec.field_pos["routes.0.path"] = {"s.yaml", 3, 9};
  EXPECT_EQ(spec.PosOf("routes.0.path").line, 3);
  EXPECT_EQ(spec.PosOf("routes.0.method").line, 2);
  EXPECT_EQ(spec.PosOf("other").line, 1);
  EXPECT_EQ(spec.PosOf("").line, 1);
  EXPECT_EQ(spec.Label(), "");
  spec.id = "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e";
  EXPECT_EQ(spec.Label(), "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e");
  spec.name = "n";
  EXPECT_EQ(spec.Label(), "n");
}

}  // namespace
}  // namespace epos
