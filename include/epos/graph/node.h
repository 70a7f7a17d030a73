// The native node interface, guards, and per-trace node state.
//
// A Node is the compiled form of one spec: it consumes a pulse delivered to one of its
// input ports and acts through the Context (emit on ports, reply, fail, trace state,
// asynchronous operations). Nodes belong to an immutable Graph and are shared by every
// worker: `OnPulse` runs concurrently for pulses of the same and of different traces, so
// a node keeps no mutable members; per-trace data goes in trace state (Context::State*),
// which the runtime frees when the trace completes.
//
// Exceptions thrown by OnPulse/OnQuiescent are caught at the node boundary and become a
// failure of the node (`error` port, or the trace fails) — DESIGN.md §4 "Errors".
#ifndef EPOS_GRAPH_NODE_H_
#define EPOS_GRAPH_NODE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "epos/core/value.h"
#include "epos/graph/port.h"

namespace epos {

class Context;

// Base of per-(trace, node, frame) state held in the trace-state store. Owned by the
// store; destroyed when the node erases it, at quiescence, or when the trace completes.
class NodeState {
 public:
  virtual ~NodeState() = default;
};

// Which ports a node has; checked when the graph is built.
struct PortShape {
  PortIndex inputs = 1;    // in[0..inputs-1]; kMaxPortIndex+1 means "any"
  PortIndex outputs = 1;   // out[0..outputs-1]; kMaxPortIndex+1 means "any"
  bool error_port = true;  // has `error`
  static constexpr PortIndex kAny = kMaxPortIndex + 1;
};

class Node {
 public:
  virtual ~Node() = default;

  // One pulse arrives on input `port` (an in[i] index, or kResumePort/kResumeErrorPort
  // for the completion of an async operation this node started on the same trace).
  virtual void OnPulse(Context& ctx, PortIndex port, Value payload) = 0;

  // The scope (the trace, or a split frame) on which this node holds `state` became
  // quiescent: nothing of that scope is active any more (DESIGN.md §4). The node emits
  // what it has (collect) or its error (join). `ctx` is bound to the state's frame.
  virtual void OnQuiescent(Context& ctx, std::unique_ptr<NodeState> state) {
    (void)ctx;
    (void)state;
  }

  virtual PortShape ports() const { return {}; }
};

// Predicate on an edge: a pulse crosses only if it holds. Evaluated on the emitting
// worker, concurrently for many pulses; must be const and thread-safe. Throwing from
// Holds fails the emitting node (its error port, or the trace).
class Guard {
 public:
  virtual ~Guard() = default;
  virtual bool Holds(const Value& payload) const = 0;
  // Source text for pictures and messages, e.g. "payload.n > 3".
  virtual std::string_view text() const = 0;
};

// A guard from a native predicate.
std::unique_ptr<Guard> MakeGuard(std::function<bool(const Value&)> predicate, std::string text);

}  // namespace epos

#endif  // EPOS_GRAPH_NODE_H_
