// Private to the spec module: the YAML documents of one text as a tree of YamlNodes, built
// from yaml-cpp's event parser (YAML::Parser + YAML::EventHandler) instead of
// YAML::LoadAll, so the loader controls progress: yaml-cpp 0.7's LoadAll never returns on a
// stray ',' at document level (",", ",{}", ", {": jbeder/yaml-cpp#1040, fixed upstream by
// PR #1319, not in Debian 12).
//
// The tree mirrors what YAML::LoadAll builds: the same node types, tags, scalars and marks
// (a null from `~`, `null` or nothing has an empty tag; a plain scalar has tag "?", a quoted
// or block one "!"); map entries keep their order and duplicates; an alias is the anchored
// node itself (so it carries the anchor's mark, and `&a [*a]` is a cycle).
//
// Thread-safety: a YamlStream is immutable after Parse; share it read-only freely.
#ifndef EPOS_SRC_SPEC_YAML_TREE_H_
#define EPOS_SRC_SPEC_YAML_TREE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/mark.h>

namespace epos::internal {

// One node of a document. Owned by its YamlStream; children are references into it.
class YamlNode {
 public:
  enum class Type { kNull, kScalar, kSequence, kMap };
  // A map entry; `first` is the key, as in std::pair.
  struct Entry {
    const YamlNode& first;
    const YamlNode& second;
  };

  YamlNode(Type type, const YAML::Mark& mark, std::string tag)
      : type_(type), mark_(mark), tag_(std::move(tag)) {}
  YamlNode(const YamlNode&) = delete;
  YamlNode& operator=(const YamlNode&) = delete;

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsScalar() const { return type_ == Type::kScalar; }
  bool IsSequence() const { return type_ == Type::kSequence; }
  bool IsMap() const { return type_ == Type::kMap; }

  // Where the node starts (yaml-cpp's mark: 0-based line, byte column and offset).
  const YAML::Mark& Mark() const { return mark_; }
  // "?" for a plain scalar or untagged collection, "!" for a quoted or block scalar, else
  // the resolved tag ("tag:yaml.org,2002:str"); "" for a null.
  const std::string& Tag() const { return tag_; }
  // A scalar's text as written (quotes and escapes resolved); "" otherwise.
  const std::string& Scalar() const { return scalar_; }

  // Elements of a sequence, entries of a map, in document order (empty otherwise).
  const std::vector<std::reference_wrapper<const YamlNode>>& items() const { return items_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::size_t size() const { return IsMap() ? entries_.size() : items_.size(); }

 private:
  friend class YamlTreeBuilder;

  Type type_;
  YAML::Mark mark_;
  std::string tag_;
  std::string scalar_;
  std::vector<std::reference_wrapper<const YamlNode>> items_;
  std::vector<Entry> entries_;
};

// The documents of one text and every node in them.
class YamlStream {
 public:
  // Parses every document of `text`. Throws YAML::Exception (with a mark) on a syntax
  // error. Returns where parsing stalled if the parser stops making progress: a document
  // that consumes no input would otherwise be returned again forever (yaml-cpp#1040).
  std::optional<YAML::Mark> Parse(std::string_view text);

  // One root per document, in order (a document with no content has a null root).
  const std::vector<const YamlNode*>& documents() const { return documents_; }

 private:
  friend class YamlTreeBuilder;

  std::deque<YamlNode> nodes_;  // a deque: references to its elements stay valid
  std::vector<const YamlNode*> documents_;
};

}  // namespace epos::internal

#endif  // EPOS_SRC_SPEC_YAML_TREE_H_
