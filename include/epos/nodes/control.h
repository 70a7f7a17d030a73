// Native control nodes (DESIGN.md §5): the engine-level building blocks behind the spec
// kinds nop, split, collect, join, reply, throw and sleep, plus a node from a C++
// function for embedding and tests.
//
// Semantics (DESIGN.md §4):
// - split: an array payload becomes one pulse per element in a new frame {index, count};
//   anything else fails the node. An empty array emits nothing.
// - collect: gathers the pulses of the innermost frame and emits their payloads as one
//   array in index order, popping the frame — as soon as every element arrived, or when
//   the frame becomes quiescent with some missing (dropped by guards or errors). Outside
//   any split it gathers the trace's pulses in arrival order and emits at quiescence.
// - join: waits for one pulse on each connected in[i] in the same trace and frame and
//   emits [p0, p1, ...] (connected ports in ascending order); a second pulse on a port
//   waits for the next round. Incomplete at quiescence: {error: "join incomplete",
//   missing: [i, ...]} on `error`.
// - reply: answers the trace's origin. throw: fails with `message`. sleep: emits its
//   input after `duration` without holding a worker. nop: emits its input.
//
// Thread-safety: each Make*Node returns a node that is immutable once made (it keeps its
// arguments by value) and, like every Node, is shared by all workers of a Runtime:
// OnPulse runs on every worker at once, for pulses of the same and of different traces.
// The per-trace data of collect and join lives in trace state, under the trace's lock.
// The caller owns the returned node until it hands it to GraphBuilder::AddNode; the
// Graph then owns it, and a trace pins the Graph it runs on.
#ifndef EPOS_NODES_CONTROL_H_
#define EPOS_NODES_CONTROL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "epos/exec/context.h"
#include "epos/graph/node.h"

namespace epos {

std::unique_ptr<Node> MakeNopNode();
std::unique_ptr<Node> MakeSplitNode();
std::unique_ptr<Node> MakeCollectNode();
std::unique_ptr<Node> MakeJoinNode();
std::unique_ptr<Node> MakeReplyNode();
std::unique_ptr<Node> MakeThrowNode(std::string message);
std::unique_ptr<Node> MakeSleepNode(std::chrono::nanoseconds duration);

// A node whose OnPulse is `fn`; `shape` declares its ports.
//
// Thread-safety: `fn` is one object shared by every worker and is called on all of them
// at once, for pulses of the same trace and of different traces, so it must be safe to
// call concurrently: anything it captures by reference or mutates (the captures of a
// `mutable` lambda too) needs its own synchronization (an atomic, a mutex), and per-trace
// data belongs in trace state (Context::LockState). `ctx` is valid only during the call;
// it must not be kept or handed to another thread (use Context::BeginAsync for an
// AsyncOp that may leave).
// `fn` must not block: a blocked call holds a worker and stalls every trace queued on it.
// Blocking work (files, a database, a synchronous client) goes to Context::RunBlocking,
// waiting to Context::StartTimer; both deliver their result back to `fn` as a pulse on
// kResumePort (or kResumeErrorPort), possibly on another worker.
using NodeFunction = std::function<void(Context& ctx, PortIndex port, Value payload)>;
std::unique_ptr<Node> MakeFunctionNode(NodeFunction fn, PortShape shape = {});

}  // namespace epos

#endif  // EPOS_NODES_CONTROL_H_
