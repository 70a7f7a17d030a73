#include "yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <system_error>

#include <yaml-cpp/exceptions.h>

#include "epos/spec/loader.h"

namespace epos::internal {
namespace {

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsCoreFloat(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) return false;
  } else if (int_digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::optional<double> ParseDouble(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc::result_out_of_range) {
    // Beyond double range: the sign decides the infinity (underflow is reported as
    // out of range too, with a value that is already the right zero or denormal).
    if (std::isfinite(d) && d != 0) return d;
    bool huge =
        s.find_first_of("eE") == std::string_view::npos || s[s.find_first_of("eE") + 1] != '-';
    if (!huge) return s[0] == '-' ? -0.0 : 0.0;
    return s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
  }
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return d;
}

std::optional<std::int64_t> ParseInt(std::string_view digits, int base, bool negative) {
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  constexpr std::uint64_t kMaxPositive = std::numeric_limits<std::int64_t>::max();
  if (negative) {
    if (magnitude > kMaxPositive + 1) return std::nullopt;
    return static_cast<std::int64_t>(0 - magnitude);
  }
  if (magnitude > kMaxPositive) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsDecimal(char c) { return IsDigit(c); }

bool StartsWithNullToken(std::string_view s) {
  return s.starts_with('~') || s.starts_with("null") || s.starts_with("Null") ||
         s.starts_with("NULL") || s.starts_with('!');
}

}  // namespace

Value ResolvePlainScalar(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
  if (s == "true" || s == "True" || s == "TRUE") return Value(true);
  if (s == "false" || s == "False" || s == "FALSE") return Value(false);
  {
    std::string_view digits = s;
    bool negative = false;
    if (digits[0] == '-' || digits[0] == '+') {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (AllOf(digits, IsDecimal)) {
      if (auto i = ParseInt(digits, 10, negative)) return Value(static_cast<long long>(*i));
      if (auto d = ParseDouble(s)) return Value(*d);
      return Value(s);
    }
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    bool hex = s[1] == 'x';
    std::string_view digits = s.substr(2);
    if (AllOf(digits, hex ? IsHex : IsOctal)) {
      if (auto i = ParseInt(digits, hex ? 16 : 8, false)) return Value(static_cast<long long>(*i));
      return Value(s);
    }
  }
  if (IsCoreFloat(s)) {
    if (auto d = ParseDouble(s)) return Value(*d);
  }
  {
    std::string_view rest = s;
    bool negative = false;
    if (rest[0] == '-' || rest[0] == '+') {
      negative = rest[0] == '-';
      rest.remove_prefix(1);
    }
    if (rest == ".inf" || rest == ".Inf" || rest == ".INF") {
      double inf = std::numeric_limits<double>::infinity();
      return Value(negative ? -inf : inf);
    }
    if (s == ".nan" || s == ".NaN" || s == ".NAN") {
      return Value(std::numeric_limits<double>::quiet_NaN());
    }
  }
  return Value(s);
}

YamlReader::YamlReader(std::string_view text, std::string_view file, Diagnostics& diags)
    : text_(text), file_(file), diags_(diags) {
  // yaml-cpp drops a UTF-8 byte order mark and counts positions after it.
  if (text_.starts_with("\xEF\xBB\xBF")) text_.remove_prefix(3);
}

std::optional<std::vector<const YamlNode*>> YamlReader::ParseAll() {
  try {
    if (std::optional<YAML::Mark> stalled = stream_.Parse(text_)) {
      Error(MarkPos(*stalled), "", "", "malformed YAML near " + Near(*stalled));
      return std::nullopt;
    }
    return stream_.documents();
  } catch (const YAML::Exception& e) {
    Error(MarkPos(e.mark), "", "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    Error(SourcePos{file_, 0, 0}, "", "", std::string("invalid YAML: ") + e.what());
  }
  return std::nullopt;
}

std::string YamlReader::Near(const YAML::Mark& mark) const {
  constexpr std::size_t kMaxNear = 20;
  if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text_.size()) return "end of input";
  std::string_view rest = text_.substr(mark.pos);
  std::size_t end = std::min(rest.find_first_of("\r\n"), kMaxNear);
  // Do not cut a UTF-8 character in two.
  while (end > 0 && end < rest.size() && (static_cast<unsigned char>(rest[end]) & 0xC0) == 0x80)
    --end;
  rest = rest.substr(0, end);
  std::string out = "\"";
  for (char c : rest) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

SourcePos YamlReader::MarkPos(const YAML::Mark& mark) const {
  if (mark.line < 0 || mark.column < 0) return SourcePos{file_, 0, 0};
  int column = mark.column + 1;
  // yaml-cpp counts bytes; count UTF-8 characters (skip continuation bytes 10xxxxxx).
  if (mark.pos >= mark.column && static_cast<std::size_t>(mark.pos) <= text_.size()) {
    column = 1;
    for (int i = mark.pos - mark.column; i < mark.pos; ++i) {
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
    }
  }
  return SourcePos{file_, mark.line + 1, column};
}

SourcePos YamlReader::Pos(const YamlNode& node) const {
  const YAML::Mark mark = node.Mark();
  SourcePos pos = MarkPos(mark);
  if (!node.IsScalar() || node.Tag() == "?" || pos.line == 0 ||
      static_cast<std::size_t>(mark.pos) >= text_.size()) {
    return pos;
  }
  // A block scalar starts at its indicator; report its first content line instead.
  std::size_t at = mark.pos;
  // Skip a tag or anchor written before the indicator (`code: !!str |`).
  while (at < text_.size() && (text_[at] == '!' || text_[at] == '&')) {
    while (at < text_.size() && text_[at] != ' ' && text_[at] != '\t' && text_[at] != '\n') ++at;
    while (at < text_.size() && (text_[at] == ' ' || text_[at] == '\t')) ++at;
  }
  if (at >= text_.size() || (text_[at] != '|' && text_[at] != '>')) return pos;
  std::size_t newline = text_.find('\n', at);
  if (newline == std::string_view::npos) return pos;
  int line = pos.line + 1;
  for (std::size_t i = newline + 1; i < text_.size();) {
    std::size_t end = text_.find('\n', i);
    if (end == std::string_view::npos) end = text_.size();
    std::string_view content = text_.substr(i, end - i);
    std::size_t indent = content.find_first_not_of(' ');
    if (indent != std::string_view::npos &&
        content.find_first_not_of(" \t\r") != std::string_view::npos) {
      return SourcePos{file_, line, static_cast<int>(indent) + 1};
    }
    i = end + 1;
  }
  return SourcePos{file_, line, 1};
}

SourcePos YamlReader::ValuePos(const YamlNode& value, const SourcePos& fallback) const {
  if (!value.IsNull()) return Pos(value);
  const YAML::Mark mark = value.Mark();
  if (mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size() &&
      StartsWithNullToken(text_.substr(mark.pos))) {
    return Pos(value);
  }
  return fallback;
}

Value YamlReader::ToValue(const YamlNode& node, const SourcePos& node_pos, std::string& path,
                          PosMap* positions, std::string_view spec) {
  return Convert(node, node_pos, path, positions, spec, 0);
}

Value YamlReader::ConvertScalar(const YamlNode& node, const SourcePos& pos, std::string_view path,
                                std::string_view spec) {
  const std::string& tag = node.Tag();
  const std::string& text = node.Scalar();
  if (tag == "!") return Value(text);  // quoted or block: always a string
  if (tag == "?") return ResolvePlainScalar(text);
  if (tag.starts_with(kTagPrefix)) {
    std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
    if (type == "str") return Value(text);
    Value v = ResolvePlainScalar(text);
    if (type == "int" && v.IsInt()) return v;
    if (type == "float" && v.IsNumber()) return Value(v.AsNumber());
    if (type == "bool" && v.IsBool()) return v;
    if (type == "null" && v.IsNull()) return v;
    if (type == "int" || type == "float" || type == "bool" || type == "null") {
      Error(pos, spec, path, "\"" + text + "\" is not a valid !!" + std::string(type));
      return Value();
    }
  }
  Error(pos, spec, path, "unsupported tag \"" + tag + "\"");
  return Value();
}

Value YamlReader::Convert(const YamlNode& node, const SourcePos& pos, std::string& path,
                          PosMap* positions, std::string_view spec, std::size_t depth) {
  if (++nodes_ > kMaxYamlNodes) {
    if (!budget_reported_) {
      budget_reported_ = true;
      Error(pos, spec, path,
            "document too large: more than " + std::to_string(kMaxYamlNodes) +
                " nodes (after expanding aliases)");
    }
    return Value();
  }
  if (depth > kMaxYamlDepth) {
    Error(pos, spec, path, "nested deeper than " + std::to_string(kMaxYamlDepth));
    return Value();
  }
  if (positions != nullptr && !path.empty()) (*positions)[path] = pos;
  switch (node.type()) {
    case YamlNode::Type::kNull:
      if (node.Tag() == std::string(kTagPrefix) + "str") return Value("");
      return Value();
    case YamlNode::Type::kScalar:
      return ConvertScalar(node, pos, path, spec);
    case YamlNode::Type::kSequence: {
      const std::string& tag = node.Tag();
      if (tag != "?" && tag != "!" && tag != std::string(kTagPrefix) + "seq") {
        Error(pos, spec, path, "unsupported tag \"" + tag + "\"");
        return Value();
      }
      std::vector<Value> items;
      items.reserve(node.size());
      std::size_t index = 0;
      for (const YamlNode& item : node.items()) {
        std::size_t old = path.size();
        if (!path.empty()) path += '.';
        path += std::to_string(index++);
        items.push_back(Convert(item, ValuePos(item, pos), path, positions, spec, depth + 1));
        path.resize(old);
      }
      return Value::Array(std::move(items));
    }
    case YamlNode::Type::kMap: {
      const std::string& tag = node.Tag();
      if (tag != "?" && tag != "!" && tag != std::string(kTagPrefix) + "map") {
        Error(pos, spec, path, "unsupported tag \"" + tag + "\"");
        return Value();
      }
      std::vector<MapEntry> entries;
      entries.reserve(node.size());
      std::set<std::string, std::less<>> seen;
      for (const YamlNode::Entry& kv : node.entries()) {
        const YamlNode& key = kv.first;
        SourcePos key_pos = Pos(key);
        if (!key.IsScalar()) {
          Error(key_pos, spec, path, "map keys must be strings");
          continue;
        }
        std::size_t old = path.size();
        if (!path.empty()) path += '.';
        path += key.Scalar();
        if (!seen.insert(key.Scalar()).second) {
          Error(key_pos, spec, path, "duplicate key");
        } else {
          entries.push_back(MapEntry{key.Scalar(), Convert(kv.second, ValuePos(kv.second, key_pos),
                                                           path, positions, spec, depth + 1)});
        }
        path.resize(old);
      }
      return Value::Map(std::move(entries));
    }
  }
  return Value();
}

}  // namespace epos::internal
