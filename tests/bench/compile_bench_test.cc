// `epos bench compile` at a small size: the generated namespace compiles cleanly (every kind
// of the mix included) and the phases are reported.
#include "compile_bench.h"

#include <string>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"

namespace epos::bench {
namespace {

TEST(CompileBenchTest, GeneratedNamespaceCompilesAndReportsPhases) {
  Result<Value> r = RunCompileBench({.nodes = 47, .repeat = 2});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->Find("graph_nodes")->AsInt(), 47) << ToJson(*r);
  double sum = 0;
  for (const char* phase : {"load_ms", "template_ms", "compile_ms"}) {
    ASSERT_NE(r->Find(phase), nullptr) << phase;
    EXPECT_GE(r->Find(phase)->AsDouble(), 0) << phase;
    sum += r->Find(phase)->AsDouble();
  }
  EXPECT_GE(r->Find("total_ms")->AsDouble(), sum - 1e-9);
  EXPECT_GT(r->Find("yaml_bytes")->AsInt(), 47 * 20);
}

TEST(CompileBenchTest, YamlHoldsEveryKindOfTheMix) {
  const std::string yaml = CompileBenchYaml(20);
  for (const char* kind : {"snippet", "if", "switch", "split", "collect", "sleep", "log"}) {
    EXPECT_NE(yaml.find(std::string("- kind: ") + kind + "\n"), std::string::npos) << kind;
  }
  EXPECT_NE(yaml.find("when:"), std::string::npos);
  EXPECT_NE(yaml.find("{{ .LIMIT }}"), std::string::npos);
}

}  // namespace
}  // namespace epos::bench
