#include "epos/core/json.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

namespace epos {
namespace {

// Iterative: the reader keeps its own state stack on the heap instead of recursing, so
// the depth guard below bounds memory, not the call stack.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseFullPrecisionFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// True if `s` holds a UTF-8-encoded UTF-16 surrogate (ED A0..BF xx). With encoding
// validation on, the reader only produces these from a \u escape naming a lone low
// surrogate, which RapidJSON 1.1 accepts.
bool HasEncodedSurrogate(const char* s, std::size_t n) {
  const char* end = s + n;
  while (const void* hit = std::memchr(s, '\xED', static_cast<std::size_t>(end - s))) {
    const char* p = static_cast<const char*>(hit);
    if (p + 1 < end && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
    s = p + 1;
  }
  return false;
}

// SAX handler that builds Values bottom-up. Scalars, finished arrays and finished maps go
// onto `values_`; keys of open maps onto `keys_`. Closing a container moves its children
// off the top of those stacks into a new Value.
class ValueBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ValueBuilder> {
 public:
  enum class Failure { kNone, kTooDeep, kLoneSurrogate };

  bool Null() { return Add(Value()); }
  bool Bool(bool b) { return Add(Value(b)); }
  bool Int(int i) { return Add(Value(i)); }
  bool Uint(unsigned u) { return Add(Value(static_cast<long long>(u))); }
  bool Int64(std::int64_t i) { return Add(Value(static_cast<long long>(i))); }
  bool Uint64(std::uint64_t u) {
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Add(Value(static_cast<long long>(u)));
    }
    return Add(Value(static_cast<double>(u)));
  }
  bool Double(double d) { return Add(Value(d)); }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (HasEncodedSurrogate(s, n)) return Fail(Failure::kLoneSurrogate);
    return Add(Value(std::string_view(s, n)));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (HasEncodedSurrogate(s, n)) return Fail(Failure::kLoneSurrogate);
    keys_.emplace_back(s, n);
    return true;
  }
  bool StartObject() { return Open(); }
  bool StartArray() { return Open(); }

  bool EndArray(rapidjson::SizeType /*count*/) {
    const Frame frame = frames_.back();
    frames_.pop_back();
    const auto first = values_.begin() + static_cast<std::ptrdiff_t>(frame.values_begin);
    std::vector<Value> items(std::make_move_iterator(first),
                             std::make_move_iterator(values_.end()));
    values_.erase(first, values_.end());
    return Add(Value::Array(std::move(items)));
  }

  bool EndObject(rapidjson::SizeType /*count*/) {
    const Frame frame = frames_.back();
    frames_.pop_back();
    const std::size_t count = values_.size() - frame.values_begin;
    assert(keys_.size() - frame.keys_begin == count && "one value per key");
    std::vector<MapEntry> entries;
    entries.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      entries.push_back(MapEntry{std::move(keys_[frame.keys_begin + i]),
                                 std::move(values_[frame.values_begin + i])});
    }
    keys_.resize(frame.keys_begin);
    values_.resize(frame.values_begin);
    return Add(Value::Map(std::move(entries)));
  }

  Failure failure() const { return failure_; }

  // The parsed document; call once, after a successful parse.
  Value TakeRoot() {
    assert(frames_.empty() && values_.size() == 1 && "parse finished");
    return std::move(values_.front());
  }

 private:
  struct Frame {
    std::size_t values_begin;
    std::size_t keys_begin;
  };

  bool Add(Value v) {
    values_.push_back(std::move(v));
    return true;
  }

  bool Open() {
    if (frames_.size() >= kMaxJsonDepth) return Fail(Failure::kTooDeep);
    frames_.push_back(Frame{values_.size(), keys_.size()});
    return true;
  }

  bool Fail(Failure failure) {
    failure_ = failure;
    return false;
  }

  std::vector<Value> values_;
  std::vector<std::string> keys_;
  std::vector<Frame> frames_;
  Failure failure_ = Failure::kNone;
};

// 1-based line and column of byte `offset` in `text`; the column counts UTF-8 characters
// (bytes that are not continuation bytes), lines end at '\n'.
std::pair<std::size_t, std::size_t> LineAndColumn(std::string_view text, std::size_t offset) {
  if (offset > text.size()) offset = text.size();
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  std::size_t column = 1;
  for (std::size_t i = line_start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return {line, column};
}

tl::unexpected<Error> ParseError(std::string_view text, std::size_t offset,
                                 std::string_view reason) {
  const auto [line, column] = LineAndColumn(text, offset);
  std::string message =
      "invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
  message += reason;
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// rapidjson output stream appending to a std::string.
class StringSink {
 public:
  using Ch = char;
  explicit StringSink(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

// RFC 4648 §4: standard alphabet, '=' padding.
std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Writes finite `d` into `out` as the shortest text that reads back as the same double and
// returns its length. std::to_chars picks the digits (shortest round-trip, nearest on ties;
// RapidJSON's Grisu2 is not always shortest: it prints 0.1 + 0.2 as 0.30000000000000007).
// The layout is ECMAScript's Number::toString(x) (ECMA-262), as RapidJSON's, without the
// '+' in exponents and with ".0" on integral values so they read back as doubles:
// 2.0 -> "2.0", 1e21 -> "1e21", 1.5e-7 -> "1.5e-7", 0.001 -> "0.001".
std::size_t FormatDouble(double d, char (&out)[32]) {
  char sci[32];  // [-]D[.DDDDDDDDDDDDDDDD]e(+|-)DDD: at most 24 characters
  const std::to_chars_result r =
      std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific);
  assert(r.ec == std::errc() && "a double fits in 32 characters");
  const std::string_view s(sci, static_cast<std::size_t>(r.ptr - sci));
  const std::size_t e_pos = s.find('e');

  char digits[20];  // significant digits, at most 17
  int k = 0;
  for (std::size_t i = s[0] == '-' ? 1 : 0; i < e_pos; ++i) {
    if (s[i] != '.') digits[k++] = s[i];
  }
  const char* exponent_begin = s.data() + e_pos + 1;
  if (*exponent_begin == '+') ++exponent_begin;
  int exponent = 0;
  std::from_chars(exponent_begin, s.data() + s.size(), exponent);
  const int n = exponent + 1;  // d = 0.digits * 10^n

  char* p = out;
  if (s[0] == '-') *p++ = '-';
  auto put_digits = [&](int from, int to) {
    for (int i = from; i < to; ++i) *p++ = digits[i];
  };
  if (k <= n && n <= 21) {  // integral: digits, zeros, ".0"
    put_digits(0, k);
    for (int i = k; i < n; ++i) *p++ = '0';
    *p++ = '.';
    *p++ = '0';
  } else if (0 < n && n <= 21) {  // 123.456
    put_digits(0, n);
    *p++ = '.';
    put_digits(n, k);
  } else if (-6 < n && n <= 0) {  // 0.000123
    *p++ = '0';
    *p++ = '.';
    for (int i = n; i < 0; ++i) *p++ = '0';
    put_digits(0, k);
  } else {  // 1.23e-7, 1e300
    put_digits(0, 1);
    if (k > 1) {
      *p++ = '.';
      put_digits(1, k);
    }
    *p++ = 'e';
    p = std::to_chars(p, out + sizeof out, n - 1).ptr;
  }
  return static_cast<std::size_t>(p - out);
}

rapidjson::SizeType JsonLength(std::string_view s) {
  assert(s.size() <= std::numeric_limits<rapidjson::SizeType>::max() &&
         "RapidJSON cannot write strings of 4 GiB or more");
  return static_cast<rapidjson::SizeType>(s.size());
}

template <class Writer>
void Write(const Value& v, Writer& writer) {
  switch (v.kind()) {
    case ValueKind::kNull:
      writer.Null();
      return;
    case ValueKind::kBool:
      writer.Bool(v.AsBool());
      return;
    case ValueKind::kInt:
      writer.Int64(v.AsInt());
      return;
    case ValueKind::kDouble:
      // JSON has no NaN or infinity.
      if (std::isfinite(v.AsDouble())) {
        char text[32];
        writer.RawValue(text, FormatDouble(v.AsDouble(), text), rapidjson::kNumberType);
      } else {
        writer.Null();
      }
      return;
    case ValueKind::kString: {
      const std::string_view s = v.AsString();
      writer.String(s.data(), JsonLength(s));
      return;
    }
    case ValueKind::kBytes: {
      const std::string encoded = Base64(v.AsBytes());
      writer.String(encoded.data(), JsonLength(encoded));
      return;
    }
    case ValueKind::kArray:
      writer.StartArray();
      for (const Value& item : v.AsArray()) Write(item, writer);
      writer.EndArray();
      return;
    case ValueKind::kMap:
      writer.StartObject();
      for (const MapEntry& entry : v.AsMap()) {
        writer.Key(entry.key.data(), JsonLength(entry.key));
        Write(entry.value, writer);
      }
      writer.EndObject();
      return;
  }
}

}  // namespace

Result<Value> ParseJson(std::string_view text) {
  // MemoryStream reads exactly `text` (it need not be NUL-terminated) and reports '\0'
  // at its end.
  rapidjson::MemoryStream stream(text.data(), text.size());
  ValueBuilder builder;
  rapidjson::Reader reader;
  const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, builder);
  if (result.IsError()) {
    if (result.Code() == rapidjson::kParseErrorTermination) {
      switch (builder.failure()) {
        case ValueBuilder::Failure::kTooDeep:
          return ParseError(text, result.Offset(),
                            "nesting deeper than " + std::to_string(kMaxJsonDepth));
        case ValueBuilder::Failure::kLoneSurrogate:
          return ParseError(text, result.Offset(), "lone UTF-16 surrogate in a \\u escape");
        case ValueBuilder::Failure::kNone:
          break;
      }
    }
    return ParseError(text, result.Offset(), rapidjson::GetParseError_En(result.Code()));
  }
  // The reader also stops at a NUL byte, which JSON allows nowhere outside a string.
  if (stream.Tell() != text.size()) {
    return ParseError(text, stream.Tell(),
                      rapidjson::GetParseError_En(rapidjson::kParseErrorDocumentRootNotSingular));
  }
  return builder.TakeRoot();
}

void AppendJson(const Value& v, std::string& out) {
  StringSink sink(out);
  rapidjson::Writer<StringSink> writer(sink);
  Write(v, writer);
}

std::string ToJson(const Value& v) {
  std::string out;
  AppendJson(v, out);
  return out;
}

std::string ToPrettyJson(const Value& v) {
  std::string out;
  StringSink sink(out);
  rapidjson::PrettyWriter<StringSink> writer(sink);
  writer.SetIndent(' ', 2);
  Write(v, writer);
  return out;
}

}  // namespace epos
