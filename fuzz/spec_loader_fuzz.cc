// libFuzzer target for the spec pipeline behind `epos validate` (EPOS_BUILD_FUZZ=ON,
// clang++): any bytes are loaded as a spec file, the specs that load have their templates
// expanded and are compiled with the standard scheme, and each graph that compiles is drawn
// as DOT and Mermaid. Diagnostics are expected results; a crash, a sanitizer report, a hang
// or unbounded memory is a bug.
//
//   make fuzz FUZZ_SECONDS=60     (or by hand, over a scratch copy of the corpus:)
//   build-fuzz/epos_spec_loader_fuzz -max_total_time=60 -rss_limit_mb=2048 -max_len=4096 \
//       CORPUS_COPY fuzz/corpus/spec_loader
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "epos/graph/picture.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/loader.h"
#include "epos/spec/scheme.h"
#include "epos/spec/template.h"

namespace {

// What `epos run -e PORT=8080 --values ...` would bind, so `{{ .PORT }}` and env entries
// `{name: api-token}` in the corpus resolve and the compiler sees expanded fields.
const epos::TemplateBindings& Bindings() {
  static const epos::TemplateBindings bindings = [] {
    epos::TemplateBindings b;
    b.SetOverride("PORT", "8080");
    b.SetOverride("GREETING", "hello");
    auto values = epos::LoadValuesText(
        "- {name: api-token, data: secret}\n- {name: limits, data: {n: 3}}\n", "values.yaml");
    if (!values || !b.AddValues(*values)) std::abort();
    return b;
  }();
  return bindings;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The control kinds only: sql.pool would create database files wherever an input says.
  static const epos::Scheme scheme = [] {
    epos::Scheme s;
    if (!epos::RegisterControlKinds(s)) std::abort();
    return s;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  epos::Diagnostics diags;
  std::vector<epos::Spec> specs = epos::LoadSpecText(text, "fuzz.yaml", diags);
  for (epos::Spec& spec : specs) epos::ExpandTemplates(spec, Bindings(), diags);
  epos::CompileOutput out = epos::Compile(specs, scheme, diags);
  for (const auto& [name, graph] : out.graphs) {
    // A namespace either compiles or fails, never both.
    if (graph == nullptr || out.failed.contains(name)) std::abort();
    std::string pictures = epos::RenderDot(*graph) + epos::RenderMermaid(*graph);
    (void)pictures;
  }
  std::string report = diags.ToString();
  (void)report;
  return 0;
}
