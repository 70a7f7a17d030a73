#include "epos/spec/template.h"

#include <optional>
#include <set>

#include "epos/core/json.h"

namespace epos {
namespace {

struct TemplateRef {
  std::size_t begin;  // of "{{"
  std::size_t end;    // one past "}}"
  std::string_view name;
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// The first `{{ .NAME }}` at or after `from`.
std::optional<TemplateRef> NextTemplate(std::string_view s, std::size_t from) {
  for (std::size_t open = s.find("{{", from); open != std::string_view::npos;
       open = s.find("{{", open + 1)) {
    std::size_t i = open + 2;
    while (i < s.size() && IsBlank(s[i])) ++i;
    if (i >= s.size() || s[i] != '.') continue;
    ++i;
    std::size_t name_begin = i;
    if (i >= s.size() || !IsNameStart(s[i])) continue;
    while (i < s.size() && IsNameChar(s[i])) ++i;
    std::size_t name_end = i;
    while (i < s.size() && IsBlank(s[i])) ++i;
    if (s.substr(i, 2) != "}}") continue;
    return TemplateRef{open, i + 2, s.substr(name_begin, name_end - name_begin)};
  }
  return std::nullopt;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Expands one spec. Env entries are resolved on first use and memoized; `stack_` holds the
// entries being resolved, to name a cycle.
class Expander {
 public:
  Expander(Spec& spec, const TemplateBindings& bindings, Diagnostics& diags)
      : spec_(spec), bindings_(bindings), diags_(diags), label_(spec.Label()) {}

  void Run() {
    for (const auto& [name, entry] : spec_.env) {
      if (const Value* v = Resolve(name)) spec_.env_values[name] = *v;
    }
    std::string path;
    bool changed = false;
    Value fields = ExpandValue(spec_.fields, path, &changed);
    if (changed) spec_.fields = std::move(fields);
    for (PortLinks& links : spec_.ports) {
      for (std::size_t i = 0; i < links.targets.size(); ++i) {
        Target& t = links.targets[i];
        if (!t.when) continue;
        std::string field = "ports." + links.port + "." + std::to_string(i) + ".when";
        if (std::optional<std::string> s = ExpandField(*t.when, field)) t.when = std::move(*s);
      }
    }
  }

 private:
  enum class State { kResolving, kDone, kFailed };

  void Report(std::string_view field, std::string message) {
    diags_.Add(spec_.PosOf(field), label_, std::string(field), std::move(message));
  }

  std::optional<std::string> Outer(std::string_view name) {
    if (const std::string* s = bindings_.FindOverride(name)) return *s;
    if (const ValueSpec* v = bindings_.FindValue(spec_.name_space, name)) {
      return TemplateText(v->data);
    }
    return std::nullopt;
  }

  std::string OuterMissing(std::string_view name, bool env_checked) {
    std::string n(name);
    return "unresolved template variable " + Quoted(n) + " (no " +
           (env_checked ? "env entry, no " : "") + "-e " + n + "=..., no value " + Quoted(n) +
           " in namespace " + Quoted(spec_.name_space) + ")";
  }

  // The resolved data of env entry `name`, or nullptr when it failed (already reported).
  const Value* Resolve(const std::string& name) {
    if (auto it = state_.find(name); it != state_.end()) {
      if (it->second == State::kDone) return &resolved_[name];
      if (it->second == State::kFailed) return nullptr;
      // kResolving: a cycle from `name` back to itself.
      std::string cycle;
      bool in_cycle = false;
      for (const std::string& s : stack_) {
        in_cycle = in_cycle || s == name;
        if (in_cycle) cycle += s + " -> ";
      }
      cycle += name;
      Report("env." + name + ".data", "cyclic template reference: " + cycle);
      for (const std::string& s : stack_) state_[s] = State::kFailed;
      return nullptr;
    }
    const EnvEntry& entry = spec_.env.at(name);
    if (entry.value_name) {
      const ValueSpec* v = bindings_.FindValue(spec_.name_space, *entry.value_name);
      if (v == nullptr) {
        state_[name] = State::kFailed;
        Report("env." + name + ".name", "no value " + Quoted(*entry.value_name) + " in namespace " +
                                            Quoted(spec_.name_space));
        return nullptr;
      }
      state_[name] = State::kDone;
      return &(resolved_[name] = v->data);
    }
    state_[name] = State::kResolving;
    stack_.push_back(name);
    std::optional<std::string> text =
        Expand(entry.data.value_or(""), "env." + name + ".data", name);
    stack_.pop_back();
    // A cycle through this entry has already marked it failed.
    if (!text || state_[name] == State::kFailed) {
      state_[name] = State::kFailed;
      return nullptr;
    }
    state_[name] = State::kDone;
    return &(resolved_[name] = Value(*text));
  }

  std::optional<std::string> ExpandField(std::string_view text, std::string_view field) {
    return Expand(text, field, std::nullopt);
  }

  // `text` with its templates filled; nullopt when any failed (reported at `field`).
  // `self` is the env entry whose data this is, if any: there a name refers to another
  // entry, or to the outer scope for `self` itself and names without an entry.
  std::optional<std::string> Expand(std::string_view text, std::string_view field,
                                    std::optional<std::string_view> self) {
    std::optional<TemplateRef> ref = NextTemplate(text, 0);
    if (!ref) return std::string(text);
    std::string out;
    std::size_t copied = 0;
    bool ok = true;
    std::set<std::string_view> reported;
    for (; ref; ref = NextTemplate(text, ref->end)) {
      out.append(text.substr(copied, ref->begin - copied));
      copied = ref->end;
      std::string name(ref->name);
      bool use_env = spec_.env.count(name) != 0 && (!self || *self != name);
      if (use_env) {
        if (const Value* v = Resolve(name)) {
          out += TemplateText(*v);
        } else {
          ok = false;
        }
      } else if (std::optional<std::string> s = Outer(name)) {
        out += *s;
      } else {
        ok = false;
        if (reported.insert(ref->name).second) {
          Report(field, OuterMissing(name, /*env_checked=*/!self || *self != name));
        }
      }
    }
    out.append(text.substr(copied));
    if (!ok) return std::nullopt;
    return out;
  }

  Value ExpandValue(const Value& v, std::string& path, bool* changed) {
    switch (v.kind()) {
      case ValueKind::kString: {
        std::string_view s = v.AsString();
        if (s.find("{{") == std::string_view::npos) return v;
        std::optional<std::string> expanded = ExpandField(s, path);
        if (!expanded || *expanded == s) return v;
        *changed = true;
        return Value(*expanded);
      }
      case ValueKind::kArray: {
        bool any = false;
        std::vector<Value> items;
        items.reserve(v.size());
        std::size_t index = 0;
        for (const Value& item : v.AsArray()) {
          std::size_t old = path.size();
          if (!path.empty()) path += '.';
          path += std::to_string(index++);
          items.push_back(ExpandValue(item, path, &any));
          path.resize(old);
        }
        if (!any) return v;
        *changed = true;
        return Value::Array(std::move(items));
      }
      case ValueKind::kMap: {
        bool any = false;
        std::vector<MapEntry> entries;
        entries.reserve(v.size());
        for (const MapEntry& e : v.AsMap()) {
          std::size_t old = path.size();
          if (!path.empty()) path += '.';
          path += e.key;
          entries.push_back(MapEntry{e.key, ExpandValue(e.value, path, &any)});
          path.resize(old);
        }
        if (!any) return v;
        *changed = true;
        return Value::Map(std::move(entries));
      }
      default:
        return v;
    }
  }

  Spec& spec_;
  const TemplateBindings& bindings_;
  Diagnostics& diags_;
  std::string label_;
  std::map<std::string, State, std::less<>> state_;
  std::map<std::string, Value, std::less<>> resolved_;
  std::vector<std::string> stack_;
};

}  // namespace

Status TemplateBindings::AddOverride(std::string_view assignment) {
  std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "-e " + Quoted(assignment) + ": expected NAME=VALUE");
  }
  std::string_view name = assignment.substr(0, eq);
  if (!IsValidEnvName(name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "-e " + Quoted(assignment) + ": bad name " + Quoted(name) +
                         " (use letters, digits and '_', not starting with a digit)");
  }
  SetOverride(std::string(name), std::string(assignment.substr(eq + 1)));
  return {};
}

Status TemplateBindings::AddValues(const std::vector<ValueSpec>& values) {
  Diagnostics diags;
  for (const ValueSpec& v : values) {
    if (v.name.empty()) continue;
    auto [it, inserted] = values_.emplace(std::make_pair(v.name_space, v.name), v);
    if (!inserted) {
      diags.Add(v.pos, "", "",
                "value " + Quoted(v.name) + " in namespace " + Quoted(v.name_space) +
                    " already defined at " + it->second.pos.ToString());
    }
  }
  return diags.ToStatus();
}

const std::string* TemplateBindings::FindOverride(std::string_view name) const {
  auto it = overrides_.find(name);
  return it == overrides_.end() ? nullptr : &it->second;
}

const ValueSpec* TemplateBindings::FindValue(std::string_view name_space,
                                             std::string_view name) const {
  auto it = values_.find(std::make_pair(std::string(name_space), std::string(name)));
  return it == values_.end() ? nullptr : &it->second;
}

std::string TemplateText(const Value& data) {
  if (data.IsString()) return std::string(data.AsString());
  if (data.IsNull()) return "";
  return ToJson(data);
}

void ExpandTemplates(Spec& spec, const TemplateBindings& bindings, Diagnostics& diags) {
  spec.env_values.clear();
  Expander(spec, bindings, diags).Run();
}

Status ExpandTemplates(std::vector<Spec>& specs, const TemplateBindings& bindings) {
  Diagnostics diags;
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  return diags.ToStatus();
}

}  // namespace epos
