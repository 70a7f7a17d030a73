// PayloadProxies: the read-only, lazily converted views through which expressions (`when:`
// guards, `if`, `switch`; script.h kExpression) read an array or map payload (private to
// src/lua; DESIGN.md §3, §5).
//
// Converting a whole payload to a Lua table costs far more than a guard that reads one or
// two fields of it, so an expression gets instead a proxy whose metamethods convert only what
// is read. Reading a field gives the value convert.h gives for it (nil for a null or missing
// map entry, json.null for a null array element, integers as integers, strings as strings),
// except that an array or map field is itself a proxy. Proxies support `p.k`, `p[i]`
// (1-based), `#p` (0 for maps), `pairs` (map entries in insertion order, skipping nulls;
// arrays 1..n), `ipairs`, `==` (the same container read twice in a call gives the same proxy
// unless more than kMemo other containers were read in between), and, through proxy-aware
// replacements of the base functions, `type(p)` ("table"), `next`, `rawget`, `rawlen`.
// `p.k = v` and `rawset(p, k, v)` raise "payload is read-only". convert.h's ToValue turns a
// live proxy back into its Value.
//
// Representation: a proxy is a light userdata whose bits are a handle, not an address: tag
// bit 63 (never set in a user-space pointer, so never json.null), a 47-bit call generation
// and a 15-bit slot in slots_, which holds the viewed Value. Making one allocates nothing,
// and Lua code cannot forge one. All light userdata share one metatable, so json.null gets
// these metamethods too; on it they raise "attempt to index json.null" and the like.
//
// Lifetime: a proxy points into a Value owned by the C++ caller, so it is readable only
// during the call that made it. Enter starts a new generation and Exit ends it, so a proxy
// an expression kept (in a global or a library table) raises "payload read after its
// expression returned" instead of reading freed memory; generations wrap after 2^47 calls.
// A call that reads more than 32767 containers gets the rest as converted tables.
//
// Thread-safety: none; owned by one Vm and used by the thread running it.
#ifndef EPOS_SRC_LUA_PAYLOAD_PROXY_H_
#define EPOS_SRC_LUA_PAYLOAD_PROXY_H_

#include <cstdint>
#include <vector>

#include "epos/core/value.h"

struct lua_State;

namespace epos::lua::internal {

class PayloadProxies {
 public:
  // What Enter replaced; give it back to Exit (calls nest: a print callback may evaluate).
  struct Scope {
    std::uint64_t live;
    std::uint32_t base;
    std::uint32_t count;
    void* root;
  };

  PayloadProxies();
  PayloadProxies(const PayloadProxies&) = delete;
  PayloadProxies& operator=(const PayloadProxies&) = delete;

  // Installs the light userdata metatable and replaces type, next, rawget, rawlen and rawset
  // in the table at `globals` with proxy-aware versions. Raises Lua errors (out of memory):
  // call it protected, once.
  void Open(lua_State* L, int globals);

  // Makes `payload` (an array or map, or nullptr for none) what proxies may read until the
  // matching Exit; every proxy of an earlier call becomes unreadable. Allocates only when
  // calls nest deeper than the slots reserved.
  [[nodiscard]] Scope Enter(const Value* payload);
  void Exit(const Scope& scope);

  // Pushes the root proxy, a view of the payload given to the innermost Enter. Allocates
  // nothing, raises nothing.
  void PushRoot(lua_State* L) const;

  // The Value viewed by the payload proxy at `index`, or nullptr: *is_proxy tells a value
  // that is not a proxy from a proxy whose call has ended.
  static const Value* Viewed(lua_State* L, int index, bool* is_proxy);

 private:
  static constexpr int kSlotBits = 15;
  static constexpr std::uintptr_t kTag = std::uintptr_t{1} << 63;
  static constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 47) - 1;
  static constexpr std::uint32_t kMaxSlots = std::uint32_t{1} << kSlotBits;
  static constexpr std::uint32_t kMemo = 16;  // recent containers checked for reuse

  static bool IsProxy(lua_State* L, int index);
  static PayloadProxies& Self(lua_State* L);
  // The Value the proxy (or json.null) at `index` views; raises on json.null (naming
  // `what`, e.g. "index") and on a proxy of an ended call.
  const Value& Check(lua_State* L, int index, const char* what) const;
  const Value* Find(void* handle) const;
  void* Handle(std::uint32_t slot) const;
  void PushElement(lua_State* L, const Value& element);
  void PushChild(lua_State* L, const Value& child);
  static const Value* Lookup(lua_State* L, const Value& container, int key);
  static int Index(lua_State* L);
  static int Len(lua_State* L);
  static int Pairs(lua_State* L);
  static int MapStep(lua_State* L);
  static int ArrayStep(lua_State* L);
  static int NewIndex(lua_State* L);
  static int Type(lua_State* L);
  static int Next(lua_State* L);
  static int RawGet(lua_State* L);
  static int RawLen(lua_State* L);
  static int RawSet(lua_State* L);

  std::vector<const Value*> slots_;  // viewed Values; [base_, count_) belong to the live call
  std::uint32_t base_ = 0;
  std::uint32_t count_ = 0;
  std::uint64_t live_ = 0;  // generation of the live call; 0: none
  std::uint64_t next_generation_ = 1;
  void* root_ = nullptr;  // handle of the live call's payload
};

}  // namespace epos::lua::internal

#endif  // EPOS_SRC_LUA_PAYLOAD_PROXY_H_
