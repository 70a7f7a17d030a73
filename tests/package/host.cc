// tests/package: a program built outside EPOS against the installed package (epos::epos).
// Runs the README's "Running a graph from C++" example, then loads the plugin built beside
// it (shout_plugin.cc) into the standard scheme, compiles shout.yaml and calls it.
// Exits 0 when both answer as expected, 1 with the reason on stderr otherwise.
#include <iostream>
#include <string>
#include <vector>

#include "epos/core/json.h"
#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"
#include "epos/spec/plugin.h"
#include "epos/spec/template.h"

namespace {

bool Fail(const std::string& what) {
  std::cerr << "package_host: " << what << "\n";
  return false;
}

std::string Describe(const epos::Outcome& outcome) {
  const char* kind = outcome.kind == epos::Outcome::Kind::kReply     ? "reply"
                     : outcome.kind == epos::Outcome::Kind::kNoReply ? "no reply"
                                                                     : "error";
  return std::string(kind) + " " + epos::ToJson(outcome.value);
}

// The README example, as written there: split → function (x2) → collect.
bool RunReadmeExample() {
  epos::Runtime runtime;
  runtime.Start();
  epos::GraphBuilder b;
  auto split = b.AddNode("split", "split", epos::MakeSplitNode());
  auto twice = b.AddNode("twice", "function",
                         epos::MakeFunctionNode([](epos::Context& ctx, epos::PortIndex,
                                                   epos::Value v) { ctx.Emit(0, v.AsInt() * 2); }));
  auto gather = b.AddNode("gather", "collect", epos::MakeCollectNode());
  b.Connect(split, 0, twice, 0);
  b.Connect(twice, 0, gather, 0);
  auto graph = b.Build();
  if (!graph) return Fail("README example: " + graph.error().message);
  auto outcome = runtime.Call(*graph, split, 0, epos::Value::Array({1, 2, 3})).get();
  runtime.Stop();
  if (outcome.kind != epos::Outcome::Kind::kReply ||
      outcome.value != epos::Value::Array({2, 4, 6})) {
    return Fail("README example: expected reply [2,4,6], got " + Describe(outcome));
  }
  std::cout << "README example: " << epos::ToJson(outcome.value) << "\n";
  return true;
}

// The standard kinds plus the plugin's, then shout.yaml from "hello".
bool RunPluginWorkflow() {
  epos::Scheme scheme = epos::StandardScheme();
  if (epos::Status s = epos::LoadPlugin(scheme, SHOUT_PLUGIN_PATH); !s) {
    return Fail(s.error().message);
  }
  epos::Diagnostics diags;
  std::vector<epos::Spec> specs = epos::LoadSpecFile(SHOUT_FLOW_PATH, diags);
  epos::TemplateBindings bindings;
  for (epos::Spec& spec : specs) epos::ExpandTemplates(spec, bindings, diags);
  epos::CompileOutput compiled = epos::Compile(specs, scheme, diags);
  if (!diags.empty()) return Fail(diags.ToString());
  const auto& graph = compiled.graphs.at("default");

  epos::Runtime runtime(epos::RuntimeOptions{.workers = 2});
  runtime.Start();
  auto outcome = runtime.Call(graph, graph->Find("shout"), 0, epos::Value("hello")).get();
  runtime.Stop();
  if (outcome.kind != epos::Outcome::Kind::kReply ||
      outcome.value["text"] != epos::Value("HELLO!") || outcome.value["length"] != epos::Value(6)) {
    return Fail("plugin workflow: expected reply {length: 6, text: \"HELLO!\"}, got " +
                Describe(outcome));
  }
  std::cout << "plugin workflow: " << epos::ToJson(outcome.value) << "\n";
  return true;
}

}  // namespace

int main() {
  bool ok = RunReadmeExample();
  ok = RunPluginWorkflow() && ok;
  return ok ? 0 : 1;
}
