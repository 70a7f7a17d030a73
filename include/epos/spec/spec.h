// The in-memory form of a spec file (DESIGN.md §3): specs and values as written, with the
// source position of every field, before templating and compilation.
//
// A Spec is what the loader (epos/spec/loader.h) produces from one YAML or JSON mapping:
// the common keys (kind, name, namespace, id, annotations, env, ports) decoded into typed
// members, and everything else (the kind-specific fields) kept as a Value map for the
// kind's decoder. Only the structure is checked at load time; whether the kind exists, a
// target is found or a guard compiles is the compiler's business. `{{ .NAME }}` templates
// are still in the strings until ExpandTemplates (epos/spec/template.h) fills them.
//
// Thread-safety: plain values; concurrent reads are safe, writes need external locking.
// Ownership: everything is held by value (Values share their bodies, see value.h).
#ifndef EPOS_SPEC_SPEC_H_
#define EPOS_SPEC_SPEC_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/value.h"

namespace epos {

// Where something was written. `line` and `column` are 1-based; column counts UTF-8
// characters (not bytes) from the start of the line. line == 0 means "somewhere in
// `file`" (an unreadable file, a spec built in code).
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:column", or "file" when line is 0.
  std::string ToString() const;

  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

// One entry of a spec's `env` map: exactly one of `data` (a literal, itself possibly
// holding `{{ .NAME }}`) or `value_name` (the stored value whose data is used) is set.
// A non-string `data` is kept as text: scalars as written (`8080`), maps and sequences
// in compact JSON.
struct EnvEntry {
  std::optional<std::string> data;
  std::optional<std::string> value_name;
  SourcePos pos;  // of the entry's mapping
};

// One connection of an output port. At least one of `name` and `id` is non-empty; when
// both are, the compiler resolves by id.
struct Target {
  std::string name;                 // target spec's name, same namespace
  std::string id;                   // or its id
  std::string port = "in";          // target input port: in or in[N]
  std::optional<std::string> when;  // guard, Lua expression source
  SourcePos pos;                    // of the target's mapping
};

// The connections of one output port, in the order written.
struct PortLinks {
  std::string port;  // as written: "out", "out[1]", "error"
  SourcePos pos;     // of the port's key
  std::vector<Target> targets;
};

// One node specification.
struct Spec {
  std::string kind;
  std::string name;  // empty when only `id` was given
  std::string name_space = "default";
  std::optional<std::string> id;
  std::map<std::string, std::string> annotations;
  std::map<std::string, EnvEntry> env;
  std::vector<PortLinks> ports;  // in the order written

  // The kind-specific remainder: a Value map of every key other than kind, name,
  // namespace, id, annotations, env and ports, in document order.
  Value fields = Value::Map({});

  // Position of every node of the spec's mapping by dotted path: "kind", "code",
  // "routes.0.path", "env.TOKEN.data", "ports.out.0.when". Sequence elements are
  // numbered from 0; a key that itself contains '.' makes its path ambiguous, which only
  // costs precision in error messages. A scalar's position is where it starts, except a
  // block scalar (`|` or `>`), whose position is its first content line, so line L of a
  // literal block is at line pos.line + L - 1. An empty (null) value is at its key.
  std::map<std::string, SourcePos, std::less<>> field_pos;
  // Position of each key of the spec's own mapping ("code", "ports"), for problems with
  // the key itself (an unknown field).
  std::map<std::string, SourcePos, std::less<>> key_pos;

  SourcePos pos;       // of the spec's mapping
  SourcePos kind_pos;  // of the kind value (the spec's position when kind is missing)
  SourcePos name_pos;  // of the name value (the spec's position when name is missing)

  // Resolved `env` (name → data), filled by ExpandTemplates: a `data` entry as a string
  // Value with its templates filled, a `name` entry as the stored value's data. Empty
  // until then. For the Lua `env` table.
  std::map<std::string, Value, std::less<>> env_values;

  // The position of `path`, or of its nearest recorded ancestor ("routes.0.path" falls
  // back to "routes.0", then "routes"), or of the spec.
  const SourcePos& PosOf(std::string_view path) const;

  // How diagnostics name this spec: its name, else its id, else "".
  std::string Label() const;
};

// A value (DESIGN.md §3): a named datum bound into specs by `env: {X: {name: ...}}`.
struct ValueSpec {
  std::optional<std::string> id;
  std::string name_space = "default";
  std::string name;  // empty when only `id` was given
  std::map<std::string, std::string> annotations;
  Value data;
  SourcePos pos;  // of the value's mapping
};

// True if `s` is a valid spec, value or namespace name: [A-Za-z0-9_.-]+.
bool IsValidSpecName(std::string_view s);

// True if `s` is a valid env entry / template variable name: [A-Za-z_][A-Za-z0-9_]*.
bool IsValidEnvName(std::string_view s);

// True if `s` is a UUID in its textual form, 8-4-4-4-12 hex digits (RFC 9562 §4),
// either case.
bool IsValidUuid(std::string_view s);

}  // namespace epos

#endif  // EPOS_SPEC_SPEC_H_
