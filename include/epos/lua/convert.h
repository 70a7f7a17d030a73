// Conversion between epos::Value and Lua 5.4 values (DESIGN.md §5 payloads in Lua code).
//
// Value → Lua:
//   null    → nil at the top level and as a map entry (the key is then absent, so
//             `payload.x == nil` holds whether x is null or missing); `json.null` (a
//             distinguished light userdata, see PushNull) as an array element, so arrays keep
//             their positions. `json.null` is truthy in Lua, like cjson's; nil is not.
//   bool    → boolean;  int → integer (int64 kept exactly);  double → float
//   string, bytes → string (Lua strings are byte strings)
//   array   → table with keys 1..n; an empty array also gets the `json.array` marker
//             metatable so it converts back to an array
//   map     → table with string keys
//   (Expressions get an array or map payload as a read-only proxy instead of a table; each
//   field read from it converts as above. See script.h and src/lua/payload_proxy.h.)
// Lua → Value:
//   nil, json.null → null;  boolean → bool;  integer → int;  float → double
//   string  → string when it is valid UTF-8, else bytes
//   table   → array when its keys are exactly 1..n (n ≥ 1), or when it is empty and marked
//             with json.array(t); otherwise a map. Map keys must be strings or integers
//             (integers become their decimal text); map entries are sorted by key so output
//             is deterministic.
//   payload proxy (during its expression call) → its Value as the table above would convert
//             back: null map entries dropped, map keys sorted, strings re-checked as UTF-8
//             (shares the Value's body when nothing changes); after its call → error
//   function, userdata (other than json.null), thread → error; so are cycles and nesting
//   deeper than kMaxConvertDepth.
//
// Thread-safety: these functions use only the given lua_State, which must not be used by
// another thread at the same time.
#ifndef EPOS_LUA_CONVERT_H_
#define EPOS_LUA_CONVERT_H_

#include <string>

#include "epos/core/status.h"
#include "epos/core/value.h"

struct lua_State;

namespace epos::lua {

// Deepest nesting of arrays and maps converted in either direction.
inline constexpr int kMaxConvertDepth = 128;

// Pushes the `json.null` sentinel (a light userdata; equal to itself only).
void PushNull(lua_State* L);
// True when the value at `index` is the `json.null` sentinel.
bool IsNull(lua_State* L, int index);

// Pushes `value` converted as above. May raise a Lua error (out of memory, nesting deeper
// than kMaxConvertDepth), so call it only in protected mode (inside lua_pcall or a C
// function called from Lua). Uses no C++ object with a destructor, so a Lua error (a
// longjmp) unwinding through it leaks nothing.
void PushValue(lua_State* L, const Value& value);

// Pushes a bool, int, double, string or bytes value as above and returns true; pushes
// nothing and returns false for null, arrays and maps (whose Lua form depends on where they
// are). Raises only Lua's own out-of-memory error.
bool PushScalar(lua_State* L, const Value& value);

// Converts the Lua value at `index` (not popped). Errors (kInvalidArgument) name the path
// of the offending element, e.g. `value.items[3].f: cannot convert a function`. Raises no
// Lua error, so it may be called outside protected mode.
[[nodiscard]] Result<Value> ToValue(lua_State* L, int index);

// Registers the marker metatable and fills a `json` table {null, array} at the top of the
// stack; called by Vm when it creates its state. `json.array(t)` marks `t` (returned) so an
// empty `t` converts to an empty array.
void OpenJson(lua_State* L);

}  // namespace epos::lua

#endif  // EPOS_LUA_CONVERT_H_
