// Reads spec files and values files (DESIGN.md §3) into Specs and ValueSpecs.
//
// Input: YAML 1.2 (yaml-cpp) or JSON. A file holds a sequence of specs, or a stream of
// documents (`---`) each holding one spec (a mapping) or a sequence of them; empty
// documents are skipped. A JSON file is one document: an object (one spec) or an array.
// A leading UTF-8 byte order mark is ignored.
//
// Scalars become Values by the YAML 1.2 core schema: plain `null`, `~` and empty are null;
// `true`/`false` (also True, TRUE...) are bools; `[-+]?[0-9]+`, `0o17` and `0x1F` are ints
// (a decimal beyond int64 becomes a double, an octal or hex one stays a string);
// `1.5`, `1e3`, `.inf`, `-.Inf`, `.nan` are doubles; everything else, and every quoted or
// block scalar, is a string. The standard tags !!str, !!int, !!float, !!bool, !!null,
// !!map and !!seq are honoured; other tags are errors. Map keys are taken as written.
//
// Checks done here are structural only, and all of them are reported at once:
//  - the document shape (a spec is a mapping, keys are scalars and unique);
//  - `kind` present and a string; `name` present unless `id` is, [A-Za-z0-9_.-]+;
//    `namespace` likewise; `id` a UUID;
//  - `annotations` a map of scalars; `env` a map from [A-Za-z_][A-Za-z0-9_]* names to
//    `{data: ...}` or `{name: value-name}`;
//  - `ports` a map from output port names (out, out[N], error) to lists of targets
//    `{name | id, port (in, in[N]; default in), when}`.
// Each problem is a Diagnostic (epos/spec/diagnostics.h) with file:line:column, spec,
// field and message. A YAML syntax error is reported alone (`file:L:C: invalid YAML: ...`),
// as is input on which the parser stops making progress, such as a stray ',' at document
// level (`file:L:C: malformed YAML near ","`); the file then yields no specs.
//
// Limits: nesting deeper than kMaxYamlDepth, or a document that expands (through
// aliases) to more than kMaxYamlNodes nodes, is an error, so hostile input cannot
// exhaust the stack or memory.
//
// Thread-safety: stateless free functions; call them from any thread at once.
#ifndef EPOS_SPEC_LOADER_H_
#define EPOS_SPEC_LOADER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/spec.h"

namespace epos {

inline constexpr std::size_t kMaxYamlDepth = 256;
inline constexpr std::size_t kMaxYamlNodes = 1'000'000;

// Parses `text` as the spec file `file_name` (used only in positions and messages).
// Returns the specs in document order, or kInvalidArgument carrying every diagnostic,
// one per line (see Diagnostics::ToString).
[[nodiscard]] Result<std::vector<Spec>> LoadSpecText(std::string_view text,
                                                     std::string_view file_name);

// As above, appending problems to `diags` instead; returns the specs that loaded without
// problems, so several files can be loaded and their errors reported together.
std::vector<Spec> LoadSpecText(std::string_view text, std::string_view file_name,
                               Diagnostics& diags);

// Reads and parses the file at `path` (positions name it as given). An unreadable file
// is kNotFound: `path: cannot read: <reason>`.
[[nodiscard]] Result<std::vector<Spec>> LoadSpecFile(const std::string& path);
std::vector<Spec> LoadSpecFile(const std::string& path, Diagnostics& diags);

// Values files (`epos apply values`, `epos run --values`): the same container shapes,
// each element `{id, namespace, name, annotations, data}`. `name` is required unless
// `id` is given, `data` is required (any shape), other keys are errors.
[[nodiscard]] Result<std::vector<ValueSpec>> LoadValuesText(std::string_view text,
                                                            std::string_view file_name);
std::vector<ValueSpec> LoadValuesText(std::string_view text, std::string_view file_name,
                                      Diagnostics& diags);
[[nodiscard]] Result<std::vector<ValueSpec>> LoadValuesFile(const std::string& path);
std::vector<ValueSpec> LoadValuesFile(const std::string& path, Diagnostics& diags);

// Parses one YAML (or JSON) document into a Value by the rules above; for snippets of
// language yaml. An empty text is null; more than one document is an error. Errors:
// kInvalidArgument, `file_name:line:column: message` per problem.
[[nodiscard]] Result<Value> ParseYamlValue(std::string_view text,
                                           std::string_view file_name = "<yaml>");

}  // namespace epos

#endif  // EPOS_SPEC_LOADER_H_
