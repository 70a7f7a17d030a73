// JSON codec for Values (RFC 8259), built on RapidJSON's SAX reader and writers.
//
// Parsing maps JSON onto Value kinds: integers that fit int64 become ints, larger
// unsigned integers and every number with a fraction or exponent become doubles (parsed
// with full precision), objects become maps in document order with the last duplicate
// key winning. Output is UTF-8; bytes render as base64 strings (RFC 4648 §4, standard
// alphabet, padded), so bytes do not survive a round trip: they come back as strings.
//
// Thread-safety: stateless free functions; call them from any thread at once.
#ifndef EPOS_CORE_JSON_H_
#define EPOS_CORE_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos {

// Deepest nesting of arrays and maps ParseJson accepts, so hostile input cannot exhaust
// the stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

// Parses one complete JSON document: surrounding whitespace is allowed, anything else
// after the root value is an error. The text must be valid UTF-8; NaN, Infinity,
// comments and trailing commas are rejected, as are \u escapes naming a lone surrogate
// and numbers beyond the range of a double (1e400).
//
// Errors: kInvalidArgument with a message of the form
//   invalid JSON at line L, column C: <reason>
// where L and C are 1-based and C counts UTF-8 characters on that line. Nesting deeper
// than kMaxJsonDepth gives the reason "nesting deeper than 512". Memory use is linear in
// the size of the text.
[[nodiscard]] Result<Value> ParseJson(std::string_view text);

// Appends the compact JSON form of `v` to `out` (no whitespace). Doubles print as the
// shortest text that parses back to the same double, laid out as JavaScript does (0.001,
// 1.5e-7, 1e21) and integral ones with ".0" (2.0 -> "2.0"), so the int/double distinction
// survives a round trip; NaN and infinities print as null. Strings are written byte for byte apart
// from the escapes JSON requires (quote, backslash, control characters), so invalid UTF-8 in a
// string is passed through. The writer recurses once per nesting level.
void AppendJson(const Value& v, std::string& out);

// The compact JSON form of `v`; see AppendJson.
[[nodiscard]] std::string ToJson(const Value& v);

// The JSON form of `v` indented by two spaces per level, one member or element per line,
// with no trailing newline; empty arrays and maps print as [] and {}.
[[nodiscard]] std::string ToPrettyJson(const Value& v);

}  // namespace epos

#endif  // EPOS_CORE_JSON_H_
