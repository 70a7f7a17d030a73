// Private to the spec module: YAML documents (yaml_tree.h) to Values and SourcePos, with the
// scalar rules and limits documented in epos/spec/loader.h.
//
// Thread-safety: a YamlReader is used by one thread; distinct readers are independent.
#ifndef EPOS_SRC_SPEC_YAML_READER_H_
#define EPOS_SRC_SPEC_YAML_READER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/mark.h>

#include "epos/core/value.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/spec.h"
#include "yaml_tree.h"

namespace epos::internal {

using PosMap = std::map<std::string, SourcePos, std::less<>>;

// The core-schema reading of a plain scalar (YAML 1.2 §10.3.2).
Value ResolvePlainScalar(std::string_view text);

// Reads the documents of one text. Keeps a view of the text: it must outlive the reader.
class YamlReader {
 public:
  YamlReader(std::string_view text, std::string_view file, Diagnostics& diags);

  // Parses every document (roots, owned by the reader); on a syntax error, or input on
  // which the parser stops making progress, adds a diagnostic and returns nullopt.
  std::optional<std::vector<const YamlNode*>> ParseAll();

  // Where `node` starts (block scalars: their first content line; see spec.h).
  SourcePos Pos(const YamlNode& node) const;
  // Where `value` starts, or `fallback` for an empty (null) value, which yaml-cpp places
  // at the next token.
  SourcePos ValuePos(const YamlNode& value, const SourcePos& fallback) const;

  // Converts `node` to a Value. `path` is its dotted field path; when `positions` is set,
  // the position of `node` and of every node below it is recorded there by path. Problems
  // go to the diagnostics under spec label `spec`; the result is then partial.
  Value ToValue(const YamlNode& node, const SourcePos& node_pos, std::string& path,
                PosMap* positions, std::string_view spec);

  // Text of a scalar as written (quotes and escapes resolved); "" for null.
  static std::string ScalarText(const YamlNode& node) {
    return node.IsScalar() ? node.Scalar() : std::string();
  }

  void Error(const SourcePos& pos, std::string_view spec, std::string_view field,
             std::string message) {
    diags_.Add(pos, std::string(spec), std::string(field), std::move(message));
  }
  const std::string& file() const { return file_; }
  Diagnostics& diags() { return diags_; }

 private:
  SourcePos MarkPos(const YAML::Mark& mark) const;
  // The text at `mark` (to the end of its line, at most 20 bytes), quoted, for messages.
  std::string Near(const YAML::Mark& mark) const;
  Value ConvertScalar(const YamlNode& node, const SourcePos& pos, std::string_view path,
                      std::string_view spec);
  Value Convert(const YamlNode& node, const SourcePos& pos, std::string& path, PosMap* positions,
                std::string_view spec, std::size_t depth);

  std::string_view text_;
  YamlStream stream_;
  std::string file_;
  Diagnostics& diags_;
  std::size_t nodes_ = 0;  // converted so far, against kMaxYamlNodes
  bool budget_reported_ = false;
};

}  // namespace epos::internal

#endif  // EPOS_SRC_SPEC_YAML_READER_H_
