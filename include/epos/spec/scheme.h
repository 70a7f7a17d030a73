// Scheme: the registry of node kinds (DESIGN.md §1, §5). Each kind decodes the fields of a
// spec, validates them and compiles the spec to a native Node.
//
// Adding a kind is one registration:
//
//   scheme.Register({
//       .name = "upper",
//       .summary = "upper-cases a string payload",
//       .fields = {"prefix"},
//       .compile = [](SpecDecoder& d) -> std::unique_ptr<Node> {
//         std::string prefix = d.String("prefix", Need::kOptional).value_or("");
//         return MakeFunctionNode(...);
//       },
//   });
//
// Kinds can also come from shared libraries (`--plugin PATH.so`, see plugin.h), which call
// the same Register.
//
// A compile function reports every problem through the SpecDecoder (which positions it at
// the spec's field) and returns nullptr when it found any; it never throws for bad input.
// Fields not listed in NodeKind::fields are reported as unknown, with a "did you mean" hint,
// unless the kind sets `open_fields`.
//
// Thread-safety: registration is single-threaded (at start-up, before compiling); a
// Scheme that is no longer modified may be read by any number of threads at once.
#ifndef EPOS_SPEC_SCHEME_H_
#define EPOS_SPEC_SCHEME_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"
#include "epos/graph/node.h"
#include "epos/lua/script.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/spec.h"

namespace epos {

enum class Need : std::uint8_t { kRequired, kOptional };

// A named shared service built from a resource spec (DESIGN.md §1 "resource"): a SQL pool,
// an HTTP client. Nodes that use one hold a shared_ptr to it, so it lives as long as the
// graph versions that use it. Implementations must be thread-safe: every worker uses it.
class Resource {
 public:
  virtual ~Resource() = default;
};

// The resources of one namespace by spec name, with the kind that built each.
struct NamedResource {
  std::string kind;
  std::shared_ptr<Resource> resource;
};
using ResourceTable = std::map<std::string, NamedResource, std::less<>>;

// What a kind's compile function sees: the spec, typed access to its fields, and the
// diagnostics sink. Field paths are dotted as in Spec::field_pos ("routes.0.path").
// Every accessor reports a wrong type (and a missing required field) at the field's
// position and returns nullopt / nullptr then.
class SpecDecoder {
 public:
  // `resources`: the namespace's resources, for Resource(); nullptr when there are none.
  SpecDecoder(const Spec& spec, Diagnostics& diags, const ResourceTable* resources = nullptr);

  const Spec& spec() const { return spec_; }
  // The spec's resolved env as a map Value (the Lua `env` table).
  const Value& env() const { return env_; }

  // The raw field, or nullptr when absent (a null field counts as absent).
  const Value* Field(std::string_view name) const;
  // True when `name` is present.
  bool Has(std::string_view name) const { return Field(name) != nullptr; }

  std::optional<std::string> String(std::string_view name, Need need = Need::kRequired);
  std::optional<std::int64_t> Int(std::string_view name, Need need = Need::kRequired);
  std::optional<double> Number(std::string_view name, Need need = Need::kRequired);
  std::optional<bool> Bool(std::string_view name, Need need = Need::kRequired);
  // A duration literal (text.h ParseDuration) or a number of seconds.
  std::optional<std::chrono::nanoseconds> Duration(std::string_view name,
                                                   Need need = Need::kRequired);
  // An array field (its elements are checked by the caller with the *At helpers).
  const Value* Array(std::string_view name, Need need = Need::kRequired);
  const Value* Map(std::string_view name, Need need = Need::kRequired);
  // One of `choices`; anything else is reported with the list and a did-you-mean.
  std::optional<std::string> Choice(std::string_view name, const std::vector<std::string>& choices,
                                    Need need = Need::kRequired);

  // Typed access to a value found inside a field (an array element, a nested map entry);
  // `path` is its dotted path for positions and messages.
  std::optional<std::string> StringAt(const Value* value, std::string_view path,
                                      Need need = Need::kRequired);
  std::optional<std::int64_t> IntAt(const Value* value, std::string_view path,
                                    Need need = Need::kRequired);
  // An output port written as an index (2) or a name ("out", "out[2]"; not "error"), as
  // in switch matches and router routes.
  std::optional<PortIndex> OutPortAt(const Value* value, std::string_view path,
                                     Need need = Need::kRequired);

  // The resource named by string field `name`, built by a kind listed in `kinds` and of
  // type T. Reports a missing field, an unknown name (with did-you-mean), a resource of
  // another kind, and gives nullptr then.
  template <class T>
  std::shared_ptr<T> Resource(std::string_view name, const std::vector<std::string>& kinds,
                              Need need = Need::kRequired) {
    const NamedResource* found = FindResource(name, kinds, need);
    if (found == nullptr) return nullptr;
    auto typed = std::dynamic_pointer_cast<T>(found->resource);
    if (!typed) Error(name, "resource of kind \"" + found->kind + "\" cannot be used here");
    return typed;
  }
  const NamedResource* FindResource(std::string_view name, const std::vector<std::string>& kinds,
                                    Need need = Need::kRequired);

  // Lua scripts compiled from the spec's text at `path`, with the spec's file and the
  // field's line so every Lua error names them. Syntax errors are reported at `path` and
  // give nullptr.
  std::shared_ptr<const lua::Script> Expression(std::string_view path, std::string source);
  std::shared_ptr<const lua::Script> Snippet(std::string_view path, std::string source);

  // Reports a problem at `path` ("" for the spec itself).
  void Error(std::string_view path, std::string message);
  // True when no problem was reported through this decoder.
  bool ok() const { return errors_ == 0; }

 private:
  std::shared_ptr<const lua::Script> Compile(lua::ScriptKind kind, std::string_view path,
                                             std::string source);
  // `value` when it is present and `(value->*is)()`; else reports "required" (when needed)
  // or "must be <expected>, not <what it is>" and gives nullptr.
  const Value* Typed(const Value* value, std::string_view path, Need need,
                     bool (Value::*is)() const, std::string_view expected);

  const Spec& spec_;
  Diagnostics& diags_;
  const ResourceTable* resources_;
  Value env_;
  int errors_ = 0;
};

using CompileFunction = std::function<std::unique_ptr<Node>(SpecDecoder&)>;
using ResourceFunction = std::function<std::shared_ptr<Resource>(SpecDecoder&)>;

struct NodeKind {
  std::string name;     // as written in `kind:`, e.g. "snippet", "http.router"
  std::string summary;  // one line, for `epos kinds` and error hints
  // Kind-specific fields the kind reads; others are reported as unknown.
  std::vector<std::string> fields;
  bool open_fields = false;  // accept any field (no unknown-field check)
  // Exactly one of these: `compile` makes a graph node; `make_resource` makes a resource,
  // which is not a node (no ports, no connections) and which nodes of the same namespace
  // find by name with SpecDecoder::Resource. Resources are built before nodes.
  CompileFunction compile;
  ResourceFunction make_resource;
};

class Scheme {
 public:
  // Adds a kind. Errors: kInvalidArgument when the name (or an alias) is taken, empty, or
  // there is no compile function.
  [[nodiscard]] Status Register(NodeKind kind);
  // Makes `alias` another name for the registered kind `target` (uniflow's `listener` for
  // `http.listener`). Errors as for Register, or kNotFound for an unknown target.
  [[nodiscard]] Status Alias(std::string alias, std::string_view target);

  // The kind registered (or aliased) as `name`, or nullptr.
  const NodeKind* Find(std::string_view name) const;
  // Every registered name and alias, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<const NodeKind>, std::less<>> kinds_;
};

}  // namespace epos

#endif  // EPOS_SPEC_SCHEME_H_
