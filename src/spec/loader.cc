#include "epos/spec/loader.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "epos/core/json.h"
#include "epos/core/text.h"
#include "epos/graph/port.h"
#include "yaml_reader.h"

namespace epos {
namespace {

using internal::PosMap;
using internal::YamlNode;
using internal::YamlReader;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// The spec's name (or id) as written, for diagnostics about its other fields.
std::string LabelOf(const YamlNode& map) {
  std::string id;
  for (const YamlNode::Entry& kv : map.entries()) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) continue;
    if (kv.first.Scalar() == "name" && !kv.second.Scalar().empty()) return kv.second.Scalar();
    if (kv.first.Scalar() == "id") id = kv.second.Scalar();
  }
  return id;
}

// Decodes the parts every spec and value shares, and the spec-only ones. One instance per
// mapping; problems go to the reader's diagnostics under `label_`.
class MapDecoder {
 public:
  MapDecoder(YamlReader& r, std::string label) : r_(r), label_(std::move(label)) {}

  void Error(const SourcePos& pos, std::string_view field, std::string message) {
    r_.Error(pos, label_, field, std::move(message));
  }

  // A non-empty scalar's text into *out; false (with a diagnostic) otherwise.
  bool String(const YamlNode& v, const SourcePos& pos, std::string_view field, std::string* out) {
    if (v.IsMap() || v.IsSequence()) {
      Error(pos, field, "must be a string");
      return false;
    }
    if (v.IsNull() || v.Scalar().empty()) {
      Error(pos, field, "required");
      return false;
    }
    *out = v.Scalar();
    return true;
  }

  void Name(const YamlNode& v, const SourcePos& pos, std::string_view field, std::string_view what,
            std::string* out) {
    if (!String(v, pos, field, out)) return;
    if (!IsValidSpecName(*out)) {
      Error(pos, field,
            "invalid " + std::string(what) + " " + Quoted(*out) +
                ": use letters, digits, '_', '.' and '-'");
    }
  }

  void Id(const YamlNode& v, const SourcePos& pos, std::string_view field,
          std::optional<std::string>* out) {
    std::string id;
    if (!String(v, pos, field, &id)) return;
    if (!IsValidUuid(id)) Error(pos, field, "not a UUID: " + Quoted(id));
    *out = std::move(id);
  }

  void Annotations(const YamlNode& v, const SourcePos& pos, std::map<std::string, std::string>* out,
                   PosMap* positions) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      Error(pos, "annotations", "must be a map of strings");
      return;
    }
    for (const YamlNode::Entry& kv : v.entries()) {
      SourcePos key_pos = r_.Pos(kv.first);
      if (!kv.first.IsScalar()) {
        Error(key_pos, "annotations", "map keys must be strings");
        continue;
      }
      std::string field = Join("annotations", kv.first.Scalar());
      SourcePos value_pos = r_.ValuePos(kv.second, key_pos);
      if (positions != nullptr) (*positions)[field] = value_pos;
      if (kv.second.IsMap() || kv.second.IsSequence()) {
        Error(value_pos, field, "must be a string");
      } else if (!out->emplace(kv.first.Scalar(), YamlReader::ScalarText(kv.second)).second) {
        Error(key_pos, field, "duplicate key");
      }
    }
  }

  void Env(const YamlNode& v, const SourcePos& pos, Spec* spec) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      Error(pos, "env", "must be a map from names to {data: ...} or {name: value-name}");
      return;
    }
    for (const YamlNode::Entry& kv : v.entries()) {
      SourcePos key_pos = r_.Pos(kv.first);
      if (!kv.first.IsScalar()) {
        Error(key_pos, "env", "map keys must be strings");
        continue;
      }
      const std::string& name = kv.first.Scalar();
      std::string field = Join("env", name);
      if (!IsValidEnvName(name)) {
        Error(key_pos, field,
              "invalid env name " + Quoted(name) +
                  ": use letters, digits and '_', not starting with a digit");
        continue;
      }
      if (spec->env.count(name) != 0) {
        Error(key_pos, field, "duplicate key");
        continue;
      }
      const YamlNode& entry_node = kv.second;
      EnvEntry entry;
      entry.pos = r_.ValuePos(entry_node, key_pos);
      spec->field_pos[field] = entry.pos;
      if (!entry_node.IsMap()) {
        Error(entry.pos, field, "must be {data: ...} or {name: value-name}");
        continue;
      }
      for (const YamlNode::Entry& field_kv : entry_node.entries()) {
        SourcePos k_pos = r_.Pos(field_kv.first);
        std::string key = YamlReader::ScalarText(field_kv.first);
        std::string sub = Join(field, key);
        SourcePos v_pos = r_.ValuePos(field_kv.second, k_pos);
        if (key == "data" && !entry.data) {
          spec->field_pos[sub] = v_pos;
          if (field_kv.second.IsMap() || field_kv.second.IsSequence()) {
            std::string path = sub;
            entry.data = ToJson(r_.ToValue(field_kv.second, v_pos, path, &spec->field_pos, label_));
          } else {
            entry.data = YamlReader::ScalarText(field_kv.second);
          }
        } else if (key == "name" && !entry.value_name) {
          spec->field_pos[sub] = v_pos;
          std::string value_name;
          Name(field_kv.second, v_pos, sub, "value name", &value_name);
          entry.value_name = std::move(value_name);
        } else if (key == "data" || key == "name") {
          Error(k_pos, sub, "duplicate key");
        } else {
          Error(k_pos, sub, "unknown key (expected data or name)");
        }
      }
      if (entry.data && entry.value_name) {
        Error(entry.pos, field, "give data or name, not both");
      } else if (!entry.data && !entry.value_name) {
        Error(entry.pos, field, "must be {data: ...} or {name: value-name}");
      }
      spec->env.emplace(name, std::move(entry));
    }
  }

  void Ports(const YamlNode& v, const SourcePos& pos, Spec* spec) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      Error(pos, "ports", "must be a map from output ports to lists of targets");
      return;
    }
    std::map<PortIndex, std::string> indices;
    for (const YamlNode::Entry& kv : v.entries()) {
      SourcePos key_pos = r_.Pos(kv.first);
      if (!kv.first.IsScalar()) {
        Error(key_pos, "ports", "map keys must be strings");
        continue;
      }
      PortLinks links;
      links.port = kv.first.Scalar();
      links.pos = key_pos;
      std::string field = Join("ports", links.port);
      bool port_ok = false;
      if (auto index = ParseOutPort(links.port); !index) {
        Error(key_pos, field,
              "invalid output port " + Quoted(links.port) +
                  ": expected out, out[N] (N <= " + std::to_string(kMaxPortIndex) + ") or error" +
                  DidYouMean(links.port, {"out", "error"}));
      } else if (auto [at, inserted] = indices.emplace(*index, links.port); !inserted) {
        Error(key_pos, field,
              at->second == links.port ? "duplicate key" : "same port as " + Quoted(at->second));
      } else {
        port_ok = true;
      }
      const YamlNode& list = kv.second;
      SourcePos list_pos = r_.ValuePos(list, key_pos);
      spec->field_pos[field] = list_pos;
      if (list.IsNull()) {
        if (port_ok) spec->ports.push_back(std::move(links));
        continue;
      }
      if (!list.IsSequence()) {
        Error(list_pos, field, "must be a list of targets");
        continue;
      }
      std::size_t index = 0;
      for (const YamlNode& item : list.items()) {
        std::string item_field = Join(field, std::to_string(index++));
        std::optional<Target> target =
            DecodeTarget(item, r_.ValuePos(item, list_pos), item_field, &spec->field_pos);
        if (target) links.targets.push_back(std::move(*target));
      }
      if (port_ok) spec->ports.push_back(std::move(links));
    }
  }

 private:
  std::optional<Target> DecodeTarget(const YamlNode& item, const SourcePos& pos,
                                     const std::string& field, PosMap* positions) {
    (*positions)[field] = pos;
    if (!item.IsMap()) {
      Error(pos, field, "a target must be a map with name or id");
      return std::nullopt;
    }
    Target target;
    target.pos = pos;
    std::set<std::string, std::less<>> seen;
    for (const YamlNode::Entry& kv : item.entries()) {
      SourcePos key_pos = r_.Pos(kv.first);
      std::string key = YamlReader::ScalarText(kv.first);
      std::string sub = Join(field, key);
      SourcePos v_pos = r_.ValuePos(kv.second, key_pos);
      (*positions)[sub] = v_pos;
      if (!seen.insert(key).second) {
        Error(key_pos, sub, "duplicate key");
      } else if (key == "name") {
        Name(kv.second, v_pos, sub, "target name", &target.name);
      } else if (key == "id") {
        std::optional<std::string> id;
        Id(kv.second, v_pos, sub, &id);
        target.id = id.value_or("");
      } else if (key == "port") {
        if (String(kv.second, v_pos, sub, &target.port) && !ParseInPort(target.port)) {
          Error(v_pos, sub,
                "invalid input port " + Quoted(target.port) +
                    ": expected in or in[N] (N <= " + std::to_string(kMaxPortIndex) + ")");
        }
      } else if (key == "when") {
        if (kv.second.IsMap() || kv.second.IsSequence() || kv.second.IsNull()) {
          Error(v_pos, sub, "must be a Lua expression (a string)");
        } else {
          target.when = kv.second.Scalar();
        }
      } else {
        Error(key_pos, sub, "unknown key (expected name, id, port or when)");
      }
    }
    if (seen.count("name") == 0 && seen.count("id") == 0) {
      Error(pos, field, "a target needs name or id");
    }
    return target;
  }

  YamlReader& r_;
  std::string label_;
};

std::optional<Spec> DecodeSpec(YamlReader& r, const YamlNode& map, const SourcePos& pos) {
  std::string label = LabelOf(map);
  MapDecoder d(r, label);
  std::size_t errors_before = r.diags().size();
  Spec spec;
  spec.pos = spec.kind_pos = spec.name_pos = pos;
  std::set<std::string, std::less<>> seen;
  std::vector<MapEntry> fields;
  for (const YamlNode::Entry& kv : map.entries()) {
    SourcePos key_pos = r.Pos(kv.first);
    if (!kv.first.IsScalar()) {
      d.Error(key_pos, "", "map keys must be strings");
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      d.Error(key_pos, key, "duplicate key");
      continue;
    }
    const YamlNode& value = kv.second;
    SourcePos value_pos = r.ValuePos(value, key_pos);
    spec.field_pos[key] = value_pos;
    spec.key_pos[key] = key_pos;
    if (key == "kind") {
      spec.kind_pos = value_pos;
      d.String(value, value_pos, key, &spec.kind);
    } else if (key == "name") {
      spec.name_pos = value_pos;
      d.Name(value, value_pos, key, "name", &spec.name);
    } else if (key == "namespace") {
      d.Name(value, value_pos, key, "namespace", &spec.name_space);
    } else if (key == "id") {
      d.Id(value, value_pos, key, &spec.id);
    } else if (key == "annotations") {
      d.Annotations(value, value_pos, &spec.annotations, &spec.field_pos);
    } else if (key == "env") {
      d.Env(value, value_pos, &spec);
    } else if (key == "ports") {
      d.Ports(value, value_pos, &spec);
    } else {
      std::string path = key;
      fields.push_back(MapEntry{key, r.ToValue(value, value_pos, path, &spec.field_pos, label)});
    }
  }
  if (seen.count("kind") == 0) d.Error(pos, "kind", "required");
  if (seen.count("name") == 0 && seen.count("id") == 0) {
    d.Error(pos, "name", "required unless id is given");
  }
  spec.fields = Value::Map(std::move(fields));
  if (r.diags().size() != errors_before) return std::nullopt;
  return spec;
}

std::optional<ValueSpec> DecodeValue(YamlReader& r, const YamlNode& map, const SourcePos& pos) {
  std::string label = LabelOf(map);
  MapDecoder d(r, label);
  std::size_t errors_before = r.diags().size();
  ValueSpec value;
  value.pos = pos;
  std::set<std::string, std::less<>> seen;
  for (const YamlNode::Entry& kv : map.entries()) {
    SourcePos key_pos = r.Pos(kv.first);
    if (!kv.first.IsScalar()) {
      d.Error(key_pos, "", "map keys must be strings");
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      d.Error(key_pos, key, "duplicate key");
      continue;
    }
    SourcePos value_pos = r.ValuePos(kv.second, key_pos);
    if (key == "name") {
      d.Name(kv.second, value_pos, key, "name", &value.name);
    } else if (key == "namespace") {
      d.Name(kv.second, value_pos, key, "namespace", &value.name_space);
    } else if (key == "id") {
      d.Id(kv.second, value_pos, key, &value.id);
    } else if (key == "annotations") {
      d.Annotations(kv.second, value_pos, &value.annotations, nullptr);
    } else if (key == "data") {
      std::string path = key;
      value.data = r.ToValue(kv.second, value_pos, path, nullptr, label);
    } else {
      d.Error(key_pos, key, "unknown field (a value has id, namespace, name, annotations, data)");
    }
  }
  if (seen.count("name") == 0 && seen.count("id") == 0) {
    d.Error(pos, "name", "required unless id is given");
  }
  if (seen.count("data") == 0) d.Error(pos, "data", "required");
  if (r.diags().size() != errors_before) return std::nullopt;
  return value;
}

// Applies `decode` to every mapping of every document of `text`, in order.
template <class T, class Decode>
std::vector<T> LoadItems(std::string_view text, std::string_view file_name, Diagnostics& diags,
                         std::string_view what, Decode decode) {
  std::vector<T> out;
  YamlReader r(text, file_name, diags);
  std::optional<std::vector<const YamlNode*>> docs = r.ParseAll();
  if (!docs) return out;
  for (const YamlNode* root : *docs) {
    const YamlNode& doc = *root;
    if (doc.IsNull()) continue;
    SourcePos doc_pos = r.Pos(doc);
    if (doc.IsMap()) {
      if (auto item = decode(r, doc, doc_pos)) out.push_back(std::move(*item));
    } else if (doc.IsSequence()) {
      for (const YamlNode& element : doc.items()) {
        SourcePos pos = r.ValuePos(element, doc_pos);
        if (!element.IsMap()) {
          r.Error(pos, "", "", "a " + std::string(what) + " must be a map");
        } else if (auto item = decode(r, element, pos)) {
          out.push_back(std::move(*item));
        }
      }
    } else {
      r.Error(
          doc_pos, "", "",
          "expected a " + std::string(what) + " (a map) or a list of " + std::string(what) + "s");
    }
  }
  return out;
}

// Reads a whole file; nullopt with `*error` set on failure.
std::optional<std::string> ReadFile(const std::string& path, std::string* error) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  return text;
}

template <class T>
Result<std::vector<T>> ToResult(std::vector<T> items, const Diagnostics& diags) {
  if (!diags.empty()) return tl::unexpected<Error>(diags.ToError());
  return items;
}

// Reads `path` and hands its text to `load_text`; an unreadable file is one diagnostic.
template <class T, class LoadText>
std::vector<T> LoadFileWith(const std::string& path, Diagnostics& diags, LoadText load_text) {
  std::string error;
  std::optional<std::string> text = ReadFile(path, &error);
  if (!text) {
    diags.Add(SourcePos{path, 0, 0}, "", "", error.substr(path.size() + 2));
    return {};
  }
  return load_text(*text, path, diags);
}

// Same, as a Result: an unreadable file is kNotFound.
template <class T, class LoadText>
Result<std::vector<T>> LoadFileWith(const std::string& path, LoadText load_text) {
  std::string error;
  std::optional<std::string> text = ReadFile(path, &error);
  if (!text) return MakeError(ErrorCode::kNotFound, std::move(error));
  return load_text(*text, path);
}

}  // namespace

std::vector<Spec> LoadSpecText(std::string_view text, std::string_view file_name,
                               Diagnostics& diags) {
  return LoadItems<Spec>(text, file_name, diags, "spec", DecodeSpec);
}

Result<std::vector<Spec>> LoadSpecText(std::string_view text, std::string_view file_name) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, file_name, diags);
  return ToResult(std::move(specs), diags);
}

std::vector<Spec> LoadSpecFile(const std::string& path, Diagnostics& diags) {
  return LoadFileWith<Spec>(path, diags,
                            [](std::string_view text, std::string_view file, Diagnostics& d) {
                              return LoadSpecText(text, file, d);
                            });
}

Result<std::vector<Spec>> LoadSpecFile(const std::string& path) {
  return LoadFileWith<Spec>(
      path, [](std::string_view text, std::string_view file) { return LoadSpecText(text, file); });
}

std::vector<ValueSpec> LoadValuesText(std::string_view text, std::string_view file_name,
                                      Diagnostics& diags) {
  return LoadItems<ValueSpec>(text, file_name, diags, "value", DecodeValue);
}

Result<std::vector<ValueSpec>> LoadValuesText(std::string_view text, std::string_view file_name) {
  Diagnostics diags;
  std::vector<ValueSpec> values = LoadValuesText(text, file_name, diags);
  return ToResult(std::move(values), diags);
}

std::vector<ValueSpec> LoadValuesFile(const std::string& path, Diagnostics& diags) {
  return LoadFileWith<ValueSpec>(path, diags,
                                 [](std::string_view text, std::string_view file, Diagnostics& d) {
                                   return LoadValuesText(text, file, d);
                                 });
}

Result<std::vector<ValueSpec>> LoadValuesFile(const std::string& path) {
  return LoadFileWith<ValueSpec>(path, [](std::string_view text, std::string_view file) {
    return LoadValuesText(text, file);
  });
}

Result<Value> ParseYamlValue(std::string_view text, std::string_view file_name) {
  Diagnostics diags;
  YamlReader r(text, file_name, diags);
  std::optional<std::vector<const YamlNode*>> docs = r.ParseAll();
  Value out;
  if (docs && docs->size() > 1) {
    r.Error(r.Pos(*(*docs)[1]), "", "",
            "expected one document, found " + std::to_string(docs->size()));
  } else if (docs && docs->size() == 1) {
    std::string path;
    out = r.ToValue(*(*docs)[0], r.Pos(*(*docs)[0]), path, nullptr, "");
  }
  if (!diags.empty()) return tl::unexpected<Error>(diags.ToError());
  return out;
}

}  // namespace epos
