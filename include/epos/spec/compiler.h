// Compiler: specs → one immutable Graph per namespace (DESIGN.md §2, §3).
//
// Input: specs whose templates are expanded (template.h). For each namespace the compiler
// builds the symbol table (names and ids → specs), compiles each spec with its kind from
// the Scheme, resolves every connection of `ports` to a target node and input port,
// compiles guards (`when:`, Lua expressions) and hands the result to GraphBuilder.
//
// Every problem is reported, all at once, as a Diagnostic at the offending field:
//   orders.yaml:14:15: spec "price": field "ports.out.0.name": target "totl" not found in
//   namespace "default"; did you mean "total"?
// `ordered: true` (any kind) makes the node ordered (GraphBuilder::SetOrdered).
// Checked: unknown kind (did you mean), unknown or misspelled fields (did you mean), each
// kind's own field checks, duplicate name or id in a namespace, output ports the kind does
// not have or that do not parse, unknown targets (did you mean), input ports the target
// does not have, duplicate connections, and guards that do not compile.
// A namespace with any problem produces no graph (it is "not activated"); the other
// namespaces still compile.
//
// Thread-safety: Compile is reentrant; the Scheme is only read.
#ifndef EPOS_SPEC_COMPILER_H_
#define EPOS_SPEC_COMPILER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "epos/graph/graph.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/scheme.h"
#include "epos/spec/spec.h"
#include "epos/spec/template.h"

namespace epos {

struct CompileOutput {
  // Graphs of the namespaces that compiled cleanly, by namespace.
  std::map<std::string, std::shared_ptr<const Graph>> graphs;
  // Namespaces with at least one problem (no graph).
  std::set<std::string> failed;
};

struct CompileOptions {
  std::uint64_t version = 1;  // given to every graph
  // Labels (names or ids) of specs that exist but did not load; their problems are
  // reported already. Connections to them are not reported again as unknown targets.
  std::set<std::string> unloaded;
};

// Compiles `specs`, appending problems to `diags`.
CompileOutput Compile(const std::vector<Spec>& specs, const Scheme& scheme, Diagnostics& diags,
                      const CompileOptions& options);
inline CompileOutput Compile(const std::vector<Spec>& specs, const Scheme& scheme,
                             Diagnostics& diags, std::uint64_t version = 1) {
  return Compile(specs, scheme, diags, CompileOptions{.version = version, .unloaded = {}});
}

// Where workflows come from on the command line: spec files, values files and `-e`
// bindings (`epos run|call|validate|graph FILE... --values F -e K=V`).
struct WorkflowSources {
  std::vector<std::string> files;
  std::vector<std::string> values_files;
  std::vector<std::string> overrides;  // "NAME=VALUE"
};

// Loads, expands and compiles everything in `sources`: the whole pipeline behind the CLI.
// Every problem is reported, in every file. A namespace with a problem (a template, a
// compile error) is in `failed`; problems that cannot be attributed to a namespace (a spec
// or file that does not load, a bad values file or `-e`) fail every namespace.
CompileOutput BuildWorkflows(const WorkflowSources& sources, const Scheme& scheme,
                             Diagnostics& diags, std::uint64_t version = 1);

}  // namespace epos

#endif  // EPOS_SPEC_COMPILER_H_
