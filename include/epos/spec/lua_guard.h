// The `when:` guard of a connection (DESIGN.md §3): a Lua expression over `payload` and
// `env`, evaluated on the emitting worker's Vm.
//
// It lives in `spec` because it joins two modules that may not see each other (DESIGN.md §2):
// the graph's Guard interface and the sandboxed Lua of `lua`; `spec` is the layer allowed
// both, and the compiler is what builds guards.
//
// Holds(payload) is the expression's truthiness as in Lua (nil and false are false). A Lua
// error while evaluating (a run-time error, the Vm's instruction or memory limit) throws
// std::runtime_error with the Lua message, which names the spec's file and line; the engine
// turns that into a failure of the emitting node (its `error` port, or the trace fails).
// text() is the expression's source.
//
// Thread-safety: immutable; Holds runs concurrently on any number of threads, each on its
// own Vm (lua/script.h).
#ifndef EPOS_SPEC_LUA_GUARD_H_
#define EPOS_SPEC_LUA_GUARD_H_

#include <memory>

#include "epos/core/value.h"
#include "epos/graph/node.h"
#include "epos/lua/script.h"

namespace epos {

// `expression` must be a lua::ScriptKind::kExpression script; `env` is the spec's resolved
// env (the Lua `env` table), or null.
std::unique_ptr<Guard> MakeLuaGuard(std::shared_ptr<const lua::Script> expression, Value env);

}  // namespace epos

#endif  // EPOS_SPEC_LUA_GUARD_H_
