// The Lua topologies of `epos bench engine` at small sizes: they run, check their own
// replies, and report sane figures. Speed is measured by bench/run_engine.sh, not here.
#include "engine_bench.h"

#include <string>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"

namespace epos::bench {
namespace {

double Number(const Value& result, std::string_view key) {
  const Value* v = result.Find(key);
  if (v == nullptr) return -1;
  return v->IsInt() ? static_cast<double>(v->AsInt()) : v->AsDouble();
}

EngineBenchOptions Small(std::string topology, unsigned workers) {
  EngineBenchOptions o;
  o.topology = std::move(topology);
  o.nodes = 5;
  o.pulses = 2000;
  o.workers = workers;
  o.window = 64;
  return o;
}

class EngineBenchLuaTest : public testing::TestWithParam<unsigned> {};

TEST_P(EngineBenchLuaTest, LuaChainRepliesNAndCountsEveryHop) {
  Result<Value> r = RunEngineBench(Small("lua-chain", GetParam()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(Number(*r, "failed_traces"), 0) << ToJson(*r);
  EXPECT_EQ(Number(*r, "nodes"), 5);
  EXPECT_EQ(Number(*r, "hops"), 5 * 2000);
  EXPECT_GT(Number(*r, "ns_per_hop"), 0);
  EXPECT_GT(Number(*r, "traces_per_s"), 0);
}

TEST_P(EngineBenchLuaTest, GuardsLetExactlyOneEdgePass) {
  Result<Value> r = RunEngineBench(Small("guards", GetParam()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(Number(*r, "failed_traces"), 0) << ToJson(*r);
  EXPECT_EQ(Number(*r, "hops"), 2 * 2000);  // the source and one leaf
  EXPECT_EQ(Number(*r, "guards_per_trace"), 8);
  EXPECT_GT(Number(*r, "ns_per_guard"), 0);
  EXPECT_GT(Number(*r, "ns_per_guard_reused"), 0);
  EXPECT_GT(Number(*r, "traces_per_s_reused"), 0);
}

INSTANTIATE_TEST_SUITE_P(Workers, EngineBenchLuaTest, testing::Values(1u, 2u));

}  // namespace
}  // namespace epos::bench
