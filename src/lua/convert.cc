#include "epos/lua/convert.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lua.hpp>

#include "payload_proxy.h"

namespace epos::lua {
namespace {

// Addresses used as unique keys: json.null is the address of kNullTag; the array marker
// metatable lives in the registry under &kArrayMetaKey.
const char kNullTag = 0;
const char kArrayMetaKey = 0;

void* NullPointer() { return const_cast<char*>(&kNullTag); }  // NOLINT

// --- Value → Lua --------------------------------------------------------------------------
//
// Longjmp-safe: no local below has a destructor (spans and references only), so a Lua error
// raised by an allocation unwinds through these frames without leaking.

void Push(lua_State* L, const Value& v, int depth);

void PushContainerGuard(lua_State* L, int depth) {
  if (depth >= kMaxConvertDepth) {
    luaL_error(L, "payload is nested deeper than %d levels", kMaxConvertDepth);
  }
  luaL_checkstack(L, 4, "payload nesting");
}

void PushArray(lua_State* L, const Value& v, int depth) {
  PushContainerGuard(L, depth);
  std::span<const Value> items = v.AsArray();
  lua_createtable(L, static_cast<int>(items.size()), 0);
  if (items.empty()) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
    lua_setmetatable(L, -2);
    return;
  }
  lua_Integer i = 1;
  for (const Value& item : items) {
    if (item.IsNull()) {
      lua_pushlightuserdata(L, NullPointer());
    } else {
      Push(L, item, depth + 1);
    }
    lua_rawseti(L, -2, i++);
  }
}

void PushMap(lua_State* L, const Value& v, int depth) {
  PushContainerGuard(L, depth);
  std::span<const MapEntry> entries = v.AsMap();
  lua_createtable(L, 0, static_cast<int>(entries.size()));
  for (const MapEntry& e : entries) {
    if (e.value.IsNull()) continue;  // absent, as documented
    lua_pushlstring(L, e.key.data(), e.key.size());
    Push(L, e.value, depth + 1);
    lua_rawset(L, -3);
  }
}

void Push(lua_State* L, const Value& v, int depth) {
  if (PushScalar(L, v)) return;
  if (v.IsArray()) {
    PushArray(L, v, depth);
  } else if (v.IsMap()) {
    PushMap(L, v, depth);
  } else {
    lua_pushnil(L);  // null at the top level or as a map entry
  }
}

// --- Lua → Value --------------------------------------------------------------------------

// RFC 3629 well-formedness (no overlongs, no surrogates, at most U+10FFFF), with an ASCII
// fast path eight bytes at a time.
bool IsUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());  // NOLINT
  const unsigned char* end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k) {
      if (p[k] < 0x80 || p[k] > 0xBF) return false;
    }
    p += n + 1;
  }
  return true;
}

class Converter {
 public:
  explicit Converter(lua_State* L) : L_(L) {}

  bool Convert(int index, int depth, Value* out) {
    switch (lua_type(L_, index)) {
      case LUA_TNIL:
      case LUA_TNONE:
        *out = Value();
        return true;
      case LUA_TBOOLEAN:
        *out = Value(lua_toboolean(L_, index) != 0);
        return true;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, index)) {
          *out = Value(static_cast<long long>(lua_tointeger(L_, index)));
        } else {
          *out = Value(static_cast<double>(lua_tonumber(L_, index)));
        }
        return true;
      case LUA_TSTRING: {
        std::size_t len = 0;
        const char* s = lua_tolstring(L_, index, &len);
        std::string_view text(s, len);
        *out = IsUtf8(text) ? Value(text) : Value::Bytes(text);
        return true;
      }
      case LUA_TLIGHTUSERDATA: {
        if (lua_touserdata(L_, index) == NullPointer()) {
          *out = Value();
          return true;
        }
        bool is_proxy = false;
        const Value* viewed = internal::PayloadProxies::Viewed(L_, index, &is_proxy);
        if (viewed != nullptr) return ConvertViewed(*viewed, depth, out);
        if (is_proxy) return Fail("cannot convert a payload read after its expression returned");
        return Fail("cannot convert a light userdata");
      }
      case LUA_TTABLE:
        return ConvertTable(index, depth, out);
      default:
        return Fail(std::string("cannot convert a ") + lua_typename(L_, lua_type(L_, index)));
    }
  }

  std::string TakeError() {
    std::string message = "value";
    for (auto it = path_.rbegin(); it != path_.rend(); ++it) message += *it;
    message += ": ";
    message += error_;
    return message;
  }

 private:
  struct IntEntry {
    lua_Integer key;
    Value value;
  };

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  static std::string KeyPath(std::string_view key) {
    bool plain = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
    for (char c : key) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_')) {
        plain = false;
      }
    }
    if (plain) return "." + std::string(key);
    return "[\"" + std::string(key) + "\"]";
  }

  // A payload proxy (payload_proxy.h) converts to what its Value would give converted to a
  // table and back: null map entries dropped, map keys sorted, strings re-classified as
  // string or bytes. Most payloads already are that way, and then share the Value's body.
  enum class Shape { kSame, kChanged, kTooDeep };

  static Shape Inspect(const Value& v, int depth) {
    switch (v.kind()) {
      case ValueKind::kString:
        return IsUtf8(v.AsString()) ? Shape::kSame : Shape::kChanged;
      case ValueKind::kBytes:
        return IsUtf8(v.AsBytes()) ? Shape::kChanged : Shape::kSame;
      case ValueKind::kArray:
      case ValueKind::kMap:
        break;
      default:
        return Shape::kSame;
    }
    if (depth >= kMaxConvertDepth) return Shape::kTooDeep;
    Shape shape = Shape::kSame;
    if (v.IsArray()) {
      for (const Value& item : v.AsArray()) {
        Shape s = Inspect(item, depth + 1);
        if (s == Shape::kTooDeep) return s;
        if (s == Shape::kChanged) shape = s;
      }
      return shape;
    }
    const std::string* previous = nullptr;
    for (const MapEntry& e : v.AsMap()) {
      if (e.value.IsNull() || (previous != nullptr && !(*previous < e.key))) {
        shape = Shape::kChanged;
      }
      previous = &e.key;
      Shape s = Inspect(e.value, depth + 1);
      if (s == Shape::kTooDeep) return s;
      if (s == Shape::kChanged) shape = s;
    }
    return shape;
  }

  static Value Reshape(const Value& v) {
    switch (v.kind()) {
      case ValueKind::kString:
        return IsUtf8(v.AsString()) ? v : Value::Bytes(v.AsString());
      case ValueKind::kBytes:
        return IsUtf8(v.AsBytes()) ? Value(v.AsBytes()) : v;
      case ValueKind::kArray: {
        std::vector<Value> items;
        items.reserve(v.size());
        for (const Value& item : v.AsArray()) items.push_back(Reshape(item));
        return Value::Array(std::move(items));
      }
      case ValueKind::kMap: {
        std::vector<MapEntry> entries;
        entries.reserve(v.size());
        for (const MapEntry& e : v.AsMap()) {
          if (!e.value.IsNull()) entries.push_back(MapEntry{e.key, Reshape(e.value)});
        }
        std::sort(entries.begin(), entries.end(),
                  [](const MapEntry& a, const MapEntry& b) { return a.key < b.key; });
        return Value::Map(std::move(entries));
      }
      default:
        return v;
    }
  }

  bool ConvertViewed(const Value& v, int depth, Value* out) {
    switch (Inspect(v, depth)) {
      case Shape::kSame:
        *out = v;
        return true;
      case Shape::kChanged:
        *out = Reshape(v);
        return true;
      case Shape::kTooDeep:
        break;
    }
    return Fail("nested deeper than " + std::to_string(kMaxConvertDepth) + " levels");
  }

  bool ConvertTable(int index, int depth, Value* out) {
    index = lua_absindex(L_, index);
    const void* identity = lua_topointer(L_, index);
    if (std::find(visiting_.begin(), visiting_.end(), identity) != visiting_.end()) {
      return Fail("cannot convert a table that contains itself (a cycle)");
    }
    if (depth >= kMaxConvertDepth) {
      return Fail("nested deeper than " + std::to_string(kMaxConvertDepth) + " levels");
    }
    if (!lua_checkstack(L_, 4)) return Fail("out of Lua stack space");
    visiting_.push_back(identity);
    bool ok = ConvertEntries(index, depth, out);
    visiting_.pop_back();
    return ok;
  }

  bool ConvertEntries(int index, int depth, Value* out) {
    std::vector<IntEntry> ints;
    std::vector<MapEntry> strings;
    lua_Unsigned border = lua_rawlen(L_, index);
    if (border > 0) ints.reserve(static_cast<std::size_t>(border));
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      // key at -2, value at -1
      Value item;
      int key_type = lua_type(L_, -2);
      if (key_type == LUA_TNUMBER && lua_isinteger(L_, -2)) {
        lua_Integer key = lua_tointeger(L_, -2);
        if (!Convert(-1, depth + 1, &item)) {
          path_.push_back("[" + std::to_string(key) + "]");
          lua_pop(L_, 2);
          return false;
        }
        ints.push_back(IntEntry{key, std::move(item)});
      } else if (key_type == LUA_TSTRING) {
        std::size_t len = 0;
        const char* s = lua_tolstring(L_, -2, &len);  // a string: no in-place conversion
        if (!Convert(-1, depth + 1, &item)) {
          path_.push_back(KeyPath(std::string_view(s, len)));
          lua_pop(L_, 2);
          return false;
        }
        strings.push_back(MapEntry{std::string(s, len), std::move(item)});
      } else {
        lua_pop(L_, 2);
        return Fail(std::string("cannot convert a table with a ") + lua_typename(L_, key_type) +
                    " key (map keys must be strings or integers)");
      }
      lua_pop(L_, 1);
    }

    if (strings.empty() && !ints.empty()) {
      auto by_key = [](const IntEntry& a, const IntEntry& b) { return a.key < b.key; };
      if (!std::is_sorted(ints.begin(), ints.end(), by_key)) {
        std::sort(ints.begin(), ints.end(), by_key);
      }
      if (ints.front().key == 1 && ints.back().key == static_cast<lua_Integer>(ints.size())) {
        std::vector<Value> items;
        items.reserve(ints.size());
        for (IntEntry& e : ints) items.push_back(std::move(e.value));
        *out = Value::Array(std::move(items));
        return true;
      }
    }
    if (strings.empty() && ints.empty()) {
      bool marked = false;
      if (lua_getmetatable(L_, index)) {
        lua_rawgetp(L_, LUA_REGISTRYINDEX, &kArrayMetaKey);
        marked = lua_rawequal(L_, -1, -2) != 0;
        lua_pop(L_, 2);
      }
      *out = marked ? Value::Array(std::vector<Value>{}) : Value::Map(std::vector<MapEntry>{});
      return true;
    }
    strings.reserve(strings.size() + ints.size());
    for (IntEntry& e : ints) strings.push_back(MapEntry{std::to_string(e.key), std::move(e.value)});
    std::sort(strings.begin(), strings.end(),
              [](const MapEntry& a, const MapEntry& b) { return a.key < b.key; });
    *out = Value::Map(std::move(strings));
    return true;
  }

  lua_State* L_;
  std::vector<const void*> visiting_;  // tables on the current path, for cycle detection
  std::vector<std::string> path_;      // innermost first, filled while unwinding an error
  std::string error_;
};

int JsonArray(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
  lua_setmetatable(L, 1);
  return 1;
}

}  // namespace

void PushNull(lua_State* L) { lua_pushlightuserdata(L, NullPointer()); }

bool IsNull(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TLIGHTUSERDATA && lua_touserdata(L, index) == NullPointer();
}

void PushValue(lua_State* L, const Value& value) { Push(L, value, 0); }

bool PushScalar(lua_State* L, const Value& value) {
  switch (value.kind()) {
    case ValueKind::kBool:
      lua_pushboolean(L, value.AsBool() ? 1 : 0);
      return true;
    case ValueKind::kInt:
      lua_pushinteger(L, static_cast<lua_Integer>(value.AsInt()));
      return true;
    case ValueKind::kDouble:
      lua_pushnumber(L, static_cast<lua_Number>(value.AsDouble()));
      return true;
    case ValueKind::kString:
    case ValueKind::kBytes: {
      std::string_view s = value.AsString();
      lua_pushlstring(L, s.data(), s.size());
      return true;
    }
    case ValueKind::kNull:
    case ValueKind::kArray:
    case ValueKind::kMap:
      return false;
  }
  return false;
}

Result<Value> ToValue(lua_State* L, int index) {
  // Fast paths for scalars: no Converter, no vectors.
  switch (lua_type(L, index)) {
    case LUA_TNIL:
    case LUA_TNONE:
      return Value();
    case LUA_TBOOLEAN:
      return Value(lua_toboolean(L, index) != 0);
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return Value(static_cast<long long>(lua_tointeger(L, index)));
      return Value(static_cast<double>(lua_tonumber(L, index)));
    default:
      break;
  }
  Converter converter(L);
  Value out;
  if (!converter.Convert(index, 0, &out)) {
    return MakeError(ErrorCode::kInvalidArgument, converter.TakeError());
  }
  return out;
}

void OpenJson(lua_State* L) {
  lua_createtable(L, 0, 2);  // the array marker metatable
  lua_pushliteral(L, "json.array");
  lua_setfield(L, -2, "__name");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);

  lua_createtable(L, 0, 2);
  PushNull(L);
  lua_setfield(L, -2, "null");
  lua_pushcfunction(L, JsonArray);
  lua_setfield(L, -2, "array");
}

}  // namespace epos::lua
