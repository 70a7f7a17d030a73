// Spec-level nodes built on Lua scripts and literals (DESIGN.md §5): snippet (lua, and the
// literal languages text, json, yaml), if, switch and log. (The `when:` guard of a
// connection is spec/lua_guard.h.)
//
// All of these are compiled once per spec: the Script objects are shared read-only by every
// worker, and each worker's Vm compiles a Script the first time it runs there (script.h).
// `env` is the spec's resolved env (Spec::env_values as a Value map), the Lua `env` table.
//
// Failures (a Lua error, a result that does not convert, a budget or timeout exceeded) fail
// the node: its `error` port gets {error, node, kind} when connected, else the trace fails
// (DESIGN.md §4). Lua messages name the spec's file and line.
//
// Thread-safety: the nodes are immutable; OnPulse runs concurrently on any worker.
#ifndef EPOS_NODES_LUA_NODES_H_
#define EPOS_NODES_LUA_NODES_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "epos/core/value.h"
#include "epos/graph/node.h"
#include "epos/lua/script.h"

namespace epos {

// snippet, language lua: calls the function `script` (a kSnippet) returns with (payload,
// ctx). A non-nil result is emitted on `out`; every `ctx.emit(port, value)` is emitted on
// that port (in call order, before the result). Ports: in → out[i] for any i, error.
// `ctx.emit("error", v)` fails the node with v: a map holding "error" is the error map
// (node and kind added), anything else becomes {error: v, node, kind}. `timeout` > 0
// bounds one call's wall-clock time ("<file>:<line>: snippet exceeded its timeout of
// 50ms"); zero leaves only the Vm's instruction budget.
std::unique_ptr<Node> MakeLuaSnippetNode(std::shared_ptr<const lua::Script> script, Value env,
                                         std::chrono::nanoseconds timeout = {});

// snippet, languages text/json/yaml: emits `literal` on `out` for every pulse (the same
// Value body every time). Ports: in → out, error (unused, so specs may wire it).
std::unique_ptr<Node> MakeLiteralNode(Value literal);

// if: emits the payload on out[0] when `condition` (a kExpression) holds, else on out[1].
std::unique_ptr<Node> MakeIfNode(std::shared_ptr<const lua::Script> condition, Value env);

// switch: the first case whose condition holds gets the payload on out[port]; no match
// drops the pulse. Cases are evaluated in order, stopping at the first that holds or
// fails. Ports: in → out[0..max port], error.
struct SwitchCase {
  std::shared_ptr<const lua::Script> condition;
  PortIndex port;
};
std::unique_ptr<Node> MakeSwitchNode(std::vector<SwitchCase> cases, Value env);

// log: writes `message` with `{{ payload }}` / `{{ payload.a.b }}` filled from the payload
// (compact JSON for non-strings, "" for missing) at `level` (spdlog level name: trace,
// debug, info, warn, error, critical) to the default spdlog logger, then emits the payload
// on `out`. A path segment of digits indexes an array (`{{ payload.items.0 }}`); a `{{ }}`
// that is not a payload path stays literal text. The template is parsed once, here; an
// unknown level name logs at info (the spec compiler rejects it first). The message is
// rendered only when the logger would log that level. Ports: in → out.
std::unique_ptr<Node> MakeLogNode(std::string level, std::string message);

}  // namespace epos

#endif  // EPOS_NODES_LUA_NODES_H_
