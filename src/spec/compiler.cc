#include "epos/spec/compiler.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "epos/core/text.h"
#include "epos/graph/graph_builder.h"
#include "epos/graph/port.h"
#include "epos/spec/loader.h"
#include "epos/spec/lua_guard.h"

namespace epos {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The one kind-independent field besides those of Spec (DESIGN.md §4 Ordering).
constexpr std::string_view kOrderedField = "ordered";

// Output/input port text of a shape, for "has ports ..." hints.
std::string OutPortsOf(const PortShape& shape) {
  std::string s;
  if (shape.outputs == 1) s = "out";
  if (shape.outputs > 1 && shape.outputs != PortShape::kAny) {
    s = "out[0.." + std::to_string(shape.outputs - 1) + "]";
  }
  if (shape.outputs == PortShape::kAny) s = "out, out[N]";
  if (shape.error_port) s += s.empty() ? "error" : ", error";
  return s.empty() ? "none" : s;
}

std::string InPortsOf(const PortShape& shape) {
  if (shape.inputs == 0) return "none";
  if (shape.inputs == 1) return "in";
  if (shape.inputs == PortShape::kAny) return "in, in[N]";
  return "in[0.." + std::to_string(shape.inputs - 1) + "]";
}

bool HasOut(const PortShape& shape, PortIndex port) {
  if (port == kErrorPort) return shape.error_port;
  return shape.outputs == PortShape::kAny || port < shape.outputs;
}

bool HasIn(const PortShape& shape, PortIndex port) {
  return shape.inputs == PortShape::kAny || port < shape.inputs;
}

// One spec on its way into a graph.
struct Entry {
  const Spec* spec;
  std::string node_name;  // name, or id when only the id was given
  std::unique_ptr<Node> node;
  PortShape shape;
  bool compiled = false;  // kind known and compiled without problems
  bool ordered = false;   // `ordered: true`, a field every kind has
  bool resource = false;  // a resource spec: no node, no ports
  NodeId id = kInvalidNode;
};

class NamespaceCompiler {
 public:
  NamespaceCompiler(std::string name_space, std::vector<const Spec*> specs, const Scheme& scheme,
                    Diagnostics& diags, const std::set<std::string>& unloaded)
      : name_space_(std::move(name_space)),
        specs_(std::move(specs)),
        scheme_(scheme),
        diags_(diags),
        unloaded_(unloaded) {}

  std::shared_ptr<const Graph> Run(std::uint64_t version) {
    std::size_t errors_before = diags_.size();
    entries_.reserve(specs_.size());
    for (const Spec* spec : specs_) AddSymbol(*spec);
    // Resources first: nodes look them up while they compile.
    for (Entry& e : entries_) {
      const NodeKind* kind = scheme_.Find(e.spec->kind);
      e.resource = kind != nullptr && kind->make_resource;
      if (e.resource) CompileResource(e, *kind);
    }
    for (Entry& e : entries_) {
      if (!e.resource) CompileNode(e);
    }

    GraphBuilder builder(name_space_, version);
    for (Entry& e : entries_) {
      if (e.resource) continue;
      e.id = builder.AddNode(e.node_name, e.spec->kind,
                             e.node ? std::move(e.node) : std::unique_ptr<Node>());
      if (e.ordered) builder.SetOrdered(e.id);
    }
    for (Entry& e : entries_) Wire(e, builder);
    if (diags_.size() != errors_before) return nullptr;

    Result<std::shared_ptr<const Graph>> graph = builder.Build();
    if (!graph) {
      // The checks above should have caught everything the builder checks; report what
      // it found anyway, at the namespace's first spec.
      for (const std::string& line : builder.diagnostics()) {
        diags_.Add(specs_.front()->pos, "", "", line);
      }
      return nullptr;
    }
    return std::move(*graph);
  }

 private:
  void Error(const Spec& spec, std::string_view field, std::string message) {
    diags_.Add(spec.PosOf(field), spec.Label(), std::string(field), std::move(message));
  }

  void AddSymbol(const Spec& spec) {
    Entry e;
    e.spec = &spec;
    e.node_name = spec.name.empty() ? spec.id.value_or("") : spec.name;
    std::size_t index = entries_.size();
    if (!spec.name.empty()) {
      auto [at, inserted] = by_name_.emplace(spec.name, index);
      if (!inserted) {
        Error(spec, "name",
              "duplicate name " + Quoted(spec.name) + " in namespace " + Quoted(name_space_) +
                  " (first defined at " + entries_[at->second].spec->pos.ToString() + ")");
      } else {
        names_.push_back(spec.name);
      }
    }
    if (spec.id) {
      auto [at, inserted] = by_id_.emplace(*spec.id, index);
      if (!inserted) {
        Error(spec, "id",
              "duplicate id " + Quoted(*spec.id) + " in namespace " + Quoted(name_space_) +
                  " (first defined at " + entries_[at->second].spec->pos.ToString() + ")");
      } else if (spec.name.empty() && !by_name_.emplace(*spec.id, index).second) {
        Error(spec, "id", "id " + Quoted(*spec.id) + " is also the name of another spec");
      }
    }
    entries_.push_back(std::move(e));
  }

  // Reports the fields `kind` does not take; returns how many.
  int CheckFields(const Spec& spec, const NodeKind& kind, bool allow_ordered) {
    if (kind.open_fields) return 0;
    int unknown = 0;
    for (const MapEntry& field : spec.fields.AsMap()) {
      if (allow_ordered && field.key == kOrderedField) continue;
      if (std::find(kind.fields.begin(), kind.fields.end(), field.key) != kind.fields.end()) {
        continue;
      }
      std::string hint = DidYouMean(field.key, kind.fields);
      if (hint.empty()) {
        std::string list;
        for (const std::string& f : kind.fields) list += (list.empty() ? "" : ", ") + f;
        hint = list.empty() ? "; kind " + Quoted(spec.kind) + " takes no fields"
                            : "; kind " + Quoted(spec.kind) + " takes " + list;
      }
      auto key = spec.key_pos.find(field.key);
      diags_.Add(key != spec.key_pos.end() ? key->second : spec.PosOf(field.key), spec.Label(),
                 std::string(field.key), "unknown field " + Quoted(field.key) + hint);
      ++unknown;
    }
    return unknown;
  }

  void CompileResource(Entry& e, const NodeKind& kind) {
    const Spec& spec = *e.spec;
    SpecDecoder decoder(spec, diags_, &resources_);
    int unknown_fields = CheckFields(spec, kind, /*allow_ordered=*/false);
    if (!spec.ports.empty()) {  // the resource itself is still fine: build it
      auto key = spec.key_pos.find("ports");
      diags_.Add(key != spec.key_pos.end() ? key->second : spec.PosOf("ports"), spec.Label(),
                 "ports", "a resource (kind " + Quoted(spec.kind) + ") has no ports");
    }
    std::shared_ptr<Resource> resource = kind.make_resource(decoder);
    if (!decoder.ok() || unknown_fields > 0) return;
    if (!resource) {
      decoder.Error("", "kind " + Quoted(spec.kind) + " did not build this resource");
      return;
    }
    resources_[e.node_name] = NamedResource{spec.kind, std::move(resource)};
  }

  void CompileNode(Entry& e) {
    const Spec& spec = *e.spec;
    const NodeKind* kind = scheme_.Find(spec.kind);
    if (kind == nullptr) {
      if (kind_names_.empty()) kind_names_ = scheme_.names();
      Error(spec, "kind", "unknown kind " + Quoted(spec.kind) + DidYouMean(spec.kind, kind_names_));
      return;
    }
    SpecDecoder decoder(spec, diags_, &resources_);
    e.ordered = decoder.Bool(kOrderedField, Need::kOptional).value_or(false);
    int unknown_fields = CheckFields(spec, *kind, /*allow_ordered=*/true);
    std::unique_ptr<Node> node = kind->compile(decoder);
    if (!decoder.ok() || unknown_fields > 0) return;
    if (!node) {
      decoder.Error("", "kind " + Quoted(spec.kind) + " did not compile this spec");
      return;
    }
    e.shape = node->ports();
    e.node = std::move(node);
    e.compiled = true;
  }

  const Entry* Resolve(const Spec& spec, const Target& target, const std::string& field) {
    if (!target.id.empty()) {
      auto it = by_id_.find(target.id);
      if (it != by_id_.end()) return &entries_[it->second];
      if (unloaded_.count(target.id) != 0) return nullptr;
      Error(spec, field + ".id",
            "target id " + Quoted(target.id) + " not found in namespace " + Quoted(name_space_));
      return nullptr;
    }
    auto it = by_name_.find(target.name);
    if (it != by_name_.end()) return &entries_[it->second];
    if (unloaded_.count(target.name) != 0) return nullptr;  // its own problem is reported
    Error(spec, field + ".name",
          "target " + Quoted(target.name) + " not found in namespace " + Quoted(name_space_) +
              DidYouMean(target.name, names_));
    return nullptr;
  }

  void Wire(const Entry& e, GraphBuilder& builder) {
    if (e.resource) return;  // reported by CompileResource if it has ports
    const Spec& spec = *e.spec;
    std::optional<SpecDecoder> decoder;  // made once per spec, only when it has guards
    std::set<std::tuple<PortIndex, NodeId, PortIndex>> seen;
    for (const PortLinks& links : spec.ports) {
      std::string port_field = "ports." + links.port;
      Result<PortIndex> out = ParseOutPort(links.port);
      if (!out) continue;  // the loader reported it
      if (e.compiled && !HasOut(e.shape, *out)) {
        diags_.Add(links.pos, spec.Label(), port_field,
                   "kind " + Quoted(spec.kind) + " has no output port " + Quoted(links.port) +
                       " (it has " + OutPortsOf(e.shape) + ")");
        continue;
      }
      for (std::size_t i = 0; i < links.targets.size(); ++i) {
        const Target& target = links.targets[i];
        std::string field = port_field + "." + std::to_string(i);
        const Entry* to = Resolve(spec, target, field);
        Result<PortIndex> in = ParseInPort(target.port);
        if (!in) {
          Error(spec, field + ".port",
                "invalid input port " + Quoted(target.port) + ": expected in or in[N]");
          continue;
        }
        std::unique_ptr<Guard> guard;
        if (target.when) {
          if (!decoder) decoder.emplace(spec, diags_);
          auto script = decoder->Expression(field + ".when", *target.when);
          if (script) {
            guard = MakeLuaGuard(std::move(script), decoder->env());
          }
        }
        if (to == nullptr) continue;
        if (to->resource) {
          Error(spec, field + (target.id.empty() ? ".name" : ".id"),
                "target " + Quoted(to->node_name) + " is a resource (kind " +
                    Quoted(to->spec->kind) + "), not a node");
          continue;
        }
        if (to->compiled && !HasIn(to->shape, *in)) {
          Error(spec, field + ".port",
                "kind " + Quoted(to->spec->kind) + " (node " + Quoted(to->node_name) +
                    ") has no input port " + Quoted(target.port) + " (it has " +
                    InPortsOf(to->shape) + ")");
          continue;
        }
        if (!seen.emplace(*out, to->id, *in).second) {
          Error(spec, field,
                "duplicate connection " + links.port + " -> " + to->node_name + "." + target.port);
          continue;
        }
        builder.Connect(e.id, *out, to->id, *in, std::move(guard));
      }
    }
  }

  std::string name_space_;
  std::vector<const Spec*> specs_;
  const Scheme& scheme_;
  Diagnostics& diags_;
  const std::set<std::string>& unloaded_;
  std::vector<Entry> entries_;
  ResourceTable resources_;
  std::unordered_map<std::string, std::size_t> by_name_;
  std::unordered_map<std::string, std::size_t> by_id_;
  std::vector<std::string> names_;       // for did-you-mean on targets
  std::vector<std::string> kind_names_;  // filled on the first unknown kind
};

}  // namespace

CompileOutput Compile(const std::vector<Spec>& specs, const Scheme& scheme, Diagnostics& diags,
                      const CompileOptions& options) {
  std::map<std::string, std::vector<const Spec*>> by_namespace;
  for (const Spec& spec : specs) by_namespace[spec.name_space].push_back(&spec);
  CompileOutput out;
  for (auto& [name_space, members] : by_namespace) {
    NamespaceCompiler compiler(name_space, std::move(members), scheme, diags, options.unloaded);
    std::shared_ptr<const Graph> graph = compiler.Run(options.version);
    if (graph) {
      out.graphs.emplace(name_space, std::move(graph));
    } else {
      out.failed.insert(name_space);
    }
  }
  return out;
}

CompileOutput BuildWorkflows(const WorkflowSources& sources, const Scheme& scheme,
                             Diagnostics& diags, std::uint64_t version) {
  std::size_t errors_before = diags.size();
  TemplateBindings bindings;
  for (const std::string& path : sources.values_files) {
    std::vector<ValueSpec> values = LoadValuesFile(path, diags);
    if (Status s = bindings.AddValues(values); !s) {
      diags.Add(SourcePos{path, 0, 0}, "", "", s.error().message);
    }
  }
  for (const std::string& assignment : sources.overrides) {
    if (Status s = bindings.AddOverride(assignment); !s) {
      diags.Add(SourcePos{}, "", "", s.error().message);
    }
  }
  std::vector<Spec> specs;
  std::size_t load_errors_from = diags.size();
  for (const std::string& path : sources.files) {
    std::vector<Spec> loaded = LoadSpecFile(path, diags);
    std::move(loaded.begin(), loaded.end(), std::back_inserter(specs));
  }
  // Specs that did not load are missing from `specs`: compile the rest anyway, to report
  // every problem at once, but do not call connections to them unknown, and activate
  // nothing (a dropped spec's namespace is not known).
  CompileOptions options{.version = version, .unloaded = {}};
  for (std::size_t i = load_errors_from; i < diags.size(); ++i) {
    if (!diags.items()[i].spec.empty()) options.unloaded.insert(diags.items()[i].spec);
  }
  const bool general_failure = diags.size() != errors_before;

  // A spec whose templates fail is left out like one that did not load, and fails its
  // namespace.
  std::set<std::string> failed;
  std::vector<Spec> expanded;
  expanded.reserve(specs.size());
  for (Spec& spec : specs) {
    std::size_t before = diags.size();
    ExpandTemplates(spec, bindings, diags);
    if (diags.size() != before) {
      failed.insert(spec.name_space);
      options.unloaded.insert(spec.Label());
    } else {
      expanded.push_back(std::move(spec));
    }
  }
  CompileOutput out = Compile(expanded, scheme, diags, options);
  out.failed.insert(failed.begin(), failed.end());
  for (const std::string& name : failed) out.graphs.erase(name);
  if (general_failure) {
    for (const auto& [name, graph] : out.graphs) out.failed.insert(name);
    out.graphs.clear();
    if (out.failed.empty()) out.failed.insert("default");
  }
  return out;
}

}  // namespace epos
