#include "payload_proxy.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string_view>

#include <lua.hpp>

#include "epos/lua/convert.h"

namespace epos::lua::internal {
namespace {

// Registry key (by address) of the light userdata pointing at the state's PayloadProxies.
const char kSelfKey = 0;

}  // namespace

// Every function below that takes a lua_State runs inside a Lua call and may raise Lua
// errors (a longjmp): no local alive at that point has a destructor.

PayloadProxies::PayloadProxies() { slots_.resize(64); }

PayloadProxies& PayloadProxies::Self(lua_State* L) {
  // Every C function of this file is registered with `this` as upvalue 1.
  return *static_cast<PayloadProxies*>(lua_touserdata(L, lua_upvalueindex(1)));
}

bool PayloadProxies::IsProxy(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TLIGHTUSERDATA &&
         (reinterpret_cast<std::uintptr_t>(lua_touserdata(L, index)) & kTag) != 0;
}

void* PayloadProxies::Handle(std::uint32_t slot) const {
  return reinterpret_cast<void*>(kTag | (live_ << kSlotBits) | slot);  // NOLINT
}

const Value* PayloadProxies::Find(void* handle) const {
  auto bits = reinterpret_cast<std::uintptr_t>(handle);
  if ((bits & kTag) == 0 || live_ == 0) return nullptr;
  std::uint64_t generation = (bits & ~kTag) >> kSlotBits;
  auto slot = static_cast<std::uint32_t>(bits & (kMaxSlots - 1));
  if (generation != live_ || slot < base_ || slot >= count_) return nullptr;
  return slots_[slot];
}

const Value& PayloadProxies::Check(lua_State* L, int index, const char* what) const {
  const Value* value = Find(lua_touserdata(L, index));
  if (value == nullptr) {
    if (IsNull(L, index)) luaL_error(L, "attempt to %s json.null", what);
    luaL_error(L, "payload read after its expression returned (a payload kept past its call)");
  }
  return *value;
}

const Value* PayloadProxies::Viewed(lua_State* L, int index, bool* is_proxy) {
  *is_proxy = IsProxy(L, index);
  if (!*is_proxy) return nullptr;
  void* handle = lua_touserdata(L, index);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kSelfKey);
  const auto* self = static_cast<const PayloadProxies*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return self->Find(handle);
}

// The element of `container` under the key at `key`, or nullptr (nil) when there is none or
// it is a null map entry. Keys are compared as a table's would be: map keys are strings,
// array keys integers (a float with an integral value counts; a numeric string does not).
const Value* PayloadProxies::Lookup(lua_State* L, const Value& container, int key) {
  if (container.IsMap()) {
    if (lua_type(L, key) != LUA_TSTRING) return nullptr;
    std::size_t size = 0;
    const char* text = lua_tolstring(L, key, &size);
    // Most keys differ in length or first byte: test those before calling memcmp.
    const char first = size > 0 ? text[0] : '\0';
    for (const MapEntry& entry : container.AsMap()) {
      if (entry.key.size() == size && (size == 0 || entry.key[0] == first) &&
          std::memcmp(entry.key.data(), text, size) == 0) {
        return entry.value.IsNull() ? nullptr : &entry.value;
      }
    }
    return nullptr;
  }
  if (lua_type(L, key) != LUA_TNUMBER) return nullptr;
  int is_integer = 0;
  lua_Integer i = lua_tointegerx(L, key, &is_integer);
  std::span<const Value> items = container.AsArray();
  if (is_integer == 0 || i < 1 || static_cast<lua_Unsigned>(i) > items.size()) return nullptr;
  return &items[static_cast<std::size_t>(i - 1)];
}

void PayloadProxies::PushChild(lua_State* L, const Value& child) {
  std::uint32_t stop = count_ - std::min(count_ - base_, kMemo);
  for (std::uint32_t i = count_; i > stop; --i) {
    if (slots_[i - 1] == &child) {
      lua_pushlightuserdata(L, Handle(i - 1));
      return;
    }
  }
  if (count_ >= kMaxSlots) {
    PushValue(L, child);  // out of handles: a converted table
    return;
  }
  if (count_ == slots_.size()) {
    bool grown = true;
    try {
      slots_.resize(std::min<std::size_t>(kMaxSlots, 2 * slots_.size()));
    } catch (const std::bad_alloc&) {
      grown = false;
    }
    if (!grown) luaL_error(L, "not enough memory");
  }
  slots_[count_] = &child;
  lua_pushlightuserdata(L, Handle(count_));
  ++count_;
}

// Pushes `element` of a viewed container, as convert.h converts it.
void PayloadProxies::PushElement(lua_State* L, const Value& element) {
  if (PushScalar(L, element)) return;
  if (element.IsNull()) {
    PushNull(L);  // only array elements get here: map nulls are nil (Lookup)
  } else {
    PushChild(L, element);
  }
}

int PayloadProxies::Index(lua_State* L) {
  PayloadProxies& self = Self(L);
  const Value* element = Lookup(L, self.Check(L, 1, "index"), 2);
  if (element == nullptr) {
    lua_pushnil(L);
  } else {
    self.PushElement(L, *element);
  }
  return 1;
}

int PayloadProxies::Len(lua_State* L) {
  const Value& value = Self(L).Check(L, 1, "get length of");
  // A map's table has no positive integer keys, so its border is 0.
  lua_pushinteger(L, value.IsArray() ? static_cast<lua_Integer>(value.size()) : 0);
  return 1;
}

int PayloadProxies::NewIndex(lua_State* L) {
  if (IsNull(L, 1)) return luaL_error(L, "attempt to index json.null");
  return luaL_error(L, "payload is read-only");
}

// Map iteration: upvalue 2 is the position of the next entry to look at.
int PayloadProxies::MapStep(lua_State* L) {
  PayloadProxies& self = Self(L);
  std::span<const MapEntry> entries = self.Check(L, 1, "iterate over").AsMap();
  auto position = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  while (position < entries.size() && entries[position].value.IsNull()) ++position;
  if (position >= entries.size()) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(position) + 1);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushlstring(L, entries[position].key.data(), entries[position].key.size());
  self.PushElement(L, entries[position].value);
  return 2;
}

// Array iteration, stateless: the control variable is the last index.
int PayloadProxies::ArrayStep(lua_State* L) {
  PayloadProxies& self = Self(L);
  std::span<const Value> items = self.Check(L, 1, "iterate over").AsArray();
  lua_Integer i = luaL_optinteger(L, 2, 0) + 1;
  if (i < 1 || i > static_cast<lua_Integer>(items.size())) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, i);
  self.PushElement(L, items[static_cast<std::size_t>(i - 1)]);
  return 2;
}

int PayloadProxies::Pairs(lua_State* L) {
  PayloadProxies& self = Self(L);
  bool map = self.Check(L, 1, "iterate over").IsMap();
  lua_pushlightuserdata(L, &self);
  if (map) {
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, &MapStep, 2);
  } else {
    lua_pushcclosure(L, &ArrayStep, 1);
  }
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// --- base functions that treat a proxy as the read-only table it stands for ---------------

int PayloadProxies::Type(lua_State* L) {
  luaL_checkany(L, 1);
  if (IsProxy(L, 1)) {
    lua_pushliteral(L, "table");
  } else {
    lua_pushstring(L, luaL_typename(L, 1));
  }
  return 1;
}

int PayloadProxies::Next(lua_State* L) {
  if (!IsProxy(L, 1)) {  // lbaselib.c luaB_next
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1) != 0) return 2;
    lua_pushnil(L);
    return 1;
  }
  PayloadProxies& self = Self(L);
  const Value& value = self.Check(L, 1, "iterate over");
  lua_settop(L, 2);
  if (value.IsArray()) return ArrayStep(L);
  std::span<const MapEntry> entries = value.AsMap();
  std::size_t position = 0;
  if (!lua_isnil(L, 2)) {
    // The entry after the key's: keys are unique, and a null entry is no key of the table.
    std::size_t size = 0;
    const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &size) : nullptr;
    while (position < entries.size() &&
           (key == nullptr || entries[position].value.IsNull() ||
            std::string_view(entries[position].key) != std::string_view(key, size))) {
      ++position;
    }
    if (position == entries.size()) return luaL_error(L, "invalid key to 'next'");
    ++position;
  }
  while (position < entries.size() && entries[position].value.IsNull()) ++position;
  if (position >= entries.size()) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, entries[position].key.data(), entries[position].key.size());
  self.PushElement(L, entries[position].value);
  return 2;
}

int PayloadProxies::RawGet(lua_State* L) {
  if (IsProxy(L, 1)) {
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    return Index(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);  // lbaselib.c luaB_rawget
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_rawget(L, 1);
  return 1;
}

int PayloadProxies::RawLen(lua_State* L) {
  if (IsProxy(L, 1)) return Len(L);
  int t = lua_type(L, 1);  // lbaselib.c luaB_rawlen
  luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1, "table or string");
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, 1)));
  return 1;
}

int PayloadProxies::RawSet(lua_State* L) {
  if (IsProxy(L, 1)) return luaL_error(L, "payload is read-only");
  luaL_checktype(L, 1, LUA_TTABLE);  // lbaselib.c luaB_rawset
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

void PayloadProxies::Open(lua_State* L, int globals) {
  globals = lua_absindex(L, globals);
  luaL_checkstack(L, 4, "payload proxies");
  lua_pushlightuserdata(L, this);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kSelfKey);

  const luaL_Reg metamethods[] = {{"__index", &Index},
                                  {"__newindex", &NewIndex},
                                  {"__len", &Len},
                                  {"__pairs", &Pairs},
                                  {nullptr, nullptr}};
  PushNull(L);  // all light userdata share one metatable
  lua_createtable(L, 0, 5);
  lua_pushlightuserdata(L, this);
  luaL_setfuncs(L, metamethods, 1);
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);

  const luaL_Reg base[] = {{"type", &Type},     {"next", &Next},     {"rawget", &RawGet},
                           {"rawlen", &RawLen}, {"rawset", &RawSet}, {nullptr, nullptr}};
  lua_pushvalue(L, globals);
  lua_pushlightuserdata(L, this);
  luaL_setfuncs(L, base, 1);
  lua_pop(L, 1);
}

PayloadProxies::Scope PayloadProxies::Enter(const Value* payload) {
  Scope scope{live_, base_, count_, root_};
  base_ = count_;
  root_ = reinterpret_cast<void*>(kTag);  // NOLINT: generation 0, never readable
  if (payload == nullptr) {
    live_ = 0;
    return scope;
  }
  live_ = next_generation_;
  next_generation_ = (next_generation_ + 1) & kGenerationMask;
  if (next_generation_ == 0) next_generation_ = 1;
  if (count_ == slots_.size() && count_ < kMaxSlots) {
    slots_.resize(std::min<std::size_t>(kMaxSlots, 2 * slots_.size()));
  }
  if (count_ < kMaxSlots) {
    slots_[count_] = payload;
    root_ = Handle(count_);
    ++count_;
  }
  return scope;
}

void PayloadProxies::Exit(const Scope& scope) {
  live_ = scope.live;
  base_ = scope.base;
  count_ = scope.count;
  root_ = scope.root;
}

void PayloadProxies::PushRoot(lua_State* L) const { lua_pushlightuserdata(L, root_); }

}  // namespace epos::lua::internal
