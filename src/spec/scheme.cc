#include "epos/spec/scheme.h"

#include <algorithm>
#include <utility>

#include "epos/core/json.h"
#include "epos/core/text.h"
#include "epos/graph/port.h"

namespace epos {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "a string", "an integer", ... for "must be X, not Y" messages.
std::string_view Article(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kInt:
      return "an integer";
    case ValueKind::kDouble:
      return "a number";
    case ValueKind::kString:
      return "a string";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kArray:
      return "a list";
    case ValueKind::kMap:
      return "a map";
  }
  return "a value";
}

Value EnvValue(const Spec& spec) {
  std::vector<MapEntry> entries;
  entries.reserve(spec.env_values.size());
  for (const auto& [name, value] : spec.env_values) entries.push_back({name, value});
  return Value::Map(std::move(entries));
}

}  // namespace

SpecDecoder::SpecDecoder(const Spec& spec, Diagnostics& diags, const ResourceTable* resources)
    : spec_(spec), diags_(diags), resources_(resources), env_(EnvValue(spec)) {}

const NamedResource* SpecDecoder::FindResource(std::string_view name,
                                               const std::vector<std::string>& kinds, Need need) {
  std::optional<std::string> wanted = String(name, need);
  if (!wanted) return nullptr;
  std::string kind_list;
  for (const std::string& k : kinds) kind_list += (kind_list.empty() ? "" : " or ") + Quoted(k);
  const NamedResource* found = nullptr;
  if (resources_ != nullptr) {
    auto it = resources_->find(*wanted);
    if (it != resources_->end()) found = &it->second;
  }
  if (found == nullptr) {
    std::vector<std::string> names;
    if (resources_ != nullptr) {
      for (const auto& [n, r] : *resources_) names.push_back(n);
    }
    Error(name, "no resource " + Quoted(*wanted) + " in namespace " + Quoted(spec_.name_space) +
                    " (a spec of kind " + kind_list + ")" + DidYouMean(*wanted, names));
    return nullptr;
  }
  if (std::find(kinds.begin(), kinds.end(), found->kind) == kinds.end()) {
    Error(name, "resource " + Quoted(*wanted) + " is of kind " + Quoted(found->kind) +
                    ", expected " + kind_list);
    return nullptr;
  }
  return found;
}

void SpecDecoder::Error(std::string_view path, std::string message) {
  ++errors_;
  diags_.Add(spec_.PosOf(path), spec_.Label(), std::string(path), std::move(message));
}

const Value* SpecDecoder::Field(std::string_view name) const {
  const Value* v = spec_.fields.Find(name);
  return v == nullptr || v->IsNull() ? nullptr : v;
}

const Value* SpecDecoder::Typed(const Value* value, std::string_view path, Need need,
                                bool (Value::*is)() const, std::string_view expected) {
  if (value == nullptr || value->IsNull()) {
    if (need == Need::kRequired) Error(path, "required");
    return nullptr;
  }
  if (!(value->*is)()) {
    Error(path,
          "must be " + std::string(expected) + ", not " + std::string(Article(value->kind())));
    return nullptr;
  }
  return value;
}

std::optional<std::string> SpecDecoder::StringAt(const Value* value, std::string_view path,
                                                 Need need) {
  const Value* v = Typed(value, path, need, &Value::IsString, "a string");
  return v != nullptr ? std::optional<std::string>(v->AsString()) : std::nullopt;
}

std::optional<std::int64_t> SpecDecoder::IntAt(const Value* value, std::string_view path,
                                               Need need) {
  const Value* v = Typed(value, path, need, &Value::IsInt, "an integer");
  return v != nullptr ? std::optional<std::int64_t>(v->AsInt()) : std::nullopt;
}

std::optional<PortIndex> SpecDecoder::OutPortAt(const Value* value, std::string_view path,
                                                Need need) {
  if (value != nullptr && value->IsInt()) {
    if (value->AsInt() < 0 || value->AsInt() > kMaxPortIndex) {
      Error(path, "port index out of range 0.." + std::to_string(kMaxPortIndex));
      return std::nullopt;
    }
    return static_cast<PortIndex>(value->AsInt());
  }
  std::optional<std::string> name = StringAt(value, path, need);
  if (!name) return std::nullopt;
  Result<PortIndex> parsed = ParseOutPort(*name);
  if (!parsed || *parsed == kErrorPort) {
    Error(path, "invalid port \"" + *name + "\": expected out or out[N]");
    return std::nullopt;
  }
  return *parsed;
}

std::optional<std::string> SpecDecoder::String(std::string_view name, Need need) {
  return StringAt(Field(name), name, need);
}

std::optional<std::int64_t> SpecDecoder::Int(std::string_view name, Need need) {
  return IntAt(Field(name), name, need);
}

std::optional<double> SpecDecoder::Number(std::string_view name, Need need) {
  const Value* v = Typed(Field(name), name, need, &Value::IsNumber, "a number");
  return v != nullptr ? std::optional<double>(v->AsNumber()) : std::nullopt;
}

std::optional<bool> SpecDecoder::Bool(std::string_view name, Need need) {
  const Value* v = Typed(Field(name), name, need, &Value::IsBool, "true or false");
  return v != nullptr ? std::optional<bool>(v->AsBool()) : std::nullopt;
}

std::optional<std::chrono::nanoseconds> SpecDecoder::Duration(std::string_view name, Need need) {
  const Value* v = Field(name);
  if (v != nullptr && v->IsNumber()) {
    double seconds = v->AsNumber();
    if (seconds < 0 || seconds > 9.2e9) {
      Error(name, "must be a non-negative duration");
      return std::nullopt;
    }
    return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  }
  v = Typed(v, name, need, &Value::IsString, "a duration such as \"250ms\"");
  if (v == nullptr) return std::nullopt;
  auto d = ParseDuration(v->AsString());
  if (!d) {
    Error(name, d.error().message);
    return std::nullopt;
  }
  return *d;
}

const Value* SpecDecoder::Array(std::string_view name, Need need) {
  return Typed(Field(name), name, need, &Value::IsArray, "a list");
}

const Value* SpecDecoder::Map(std::string_view name, Need need) {
  return Typed(Field(name), name, need, &Value::IsMap, "a map");
}

std::optional<std::string> SpecDecoder::Choice(std::string_view name,
                                               const std::vector<std::string>& choices, Need need) {
  std::optional<std::string> s = String(name, need);
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
  Error(name, "unknown " + std::string(name) + " " + Quoted(*s) + " (expected one of: " + list +
                  ")" + DidYouMean(*s, choices));
  return std::nullopt;
}

std::shared_ptr<const lua::Script> SpecDecoder::Compile(lua::ScriptKind kind, std::string_view path,
                                                        std::string source) {
  const SourcePos& pos = spec_.PosOf(path);
  auto script = std::make_shared<const lua::Script>(kind, std::move(source), pos.file,
                                                    pos.line > 0 ? pos.line : 1);
  if (Status s = script->Check(); !s) {
    Error(path, s.error().message);
    return nullptr;
  }
  return script;
}

std::shared_ptr<const lua::Script> SpecDecoder::Expression(std::string_view path,
                                                           std::string source) {
  return Compile(lua::ScriptKind::kExpression, path, std::move(source));
}

std::shared_ptr<const lua::Script> SpecDecoder::Snippet(std::string_view path, std::string source) {
  return Compile(lua::ScriptKind::kSnippet, path, std::move(source));
}

Status Scheme::Register(NodeKind kind) {
  if (kind.name.empty()) return MakeError(ErrorCode::kInvalidArgument, "kind name is empty");
  if (static_cast<bool>(kind.compile) == static_cast<bool>(kind.make_resource)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind " + Quoted(kind.name) +
                         " needs exactly one of a compile function and a resource function");
  }
  std::string name = kind.name;
  auto shared = std::make_shared<const NodeKind>(std::move(kind));
  if (!kinds_.emplace(name, std::move(shared)).second) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind " + Quoted(name) + " is already registered");
  }
  return {};
}

Status Scheme::Alias(std::string alias, std::string_view target) {
  auto it = kinds_.find(target);
  if (it == kinds_.end()) {
    return MakeError(ErrorCode::kNotFound,
                     "alias " + Quoted(alias) + ": no kind " + Quoted(target));
  }
  std::shared_ptr<const NodeKind> kind = it->second;
  if (alias.empty() || !kinds_.emplace(alias, std::move(kind)).second) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind " + Quoted(alias) + " is already registered");
  }
  return {};
}

const NodeKind* Scheme::Find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Scheme::names() const {
  std::vector<std::string> out;
  out.reserve(kinds_.size());
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

}  // namespace epos
