// Context: what a node sees while it handles one pulse (DESIGN.md §4).
//
// The runtime binds one Context per worker to the pulse being run: its trace, node and
// frame. Through it a node emits on its output ports (one pulse per connection whose
// guard holds; an unconnected `out`-type port is a leaf and replies; an unconnected
// `error` port fails the trace), replies, fails, reads and writes per-trace state, and
// starts asynchronous operations whose completions come back to it as pulses on
// kResumePort / kResumeErrorPort.
//
// Thread-safety: a Runtime has one Context per worker, rebound to each pulse that worker
// runs. The Context& given to Node::OnPulse / OnQuiescent is valid only during that call
// and only on the calling thread: do not keep it, and call none of its methods from
// another thread (a blocking-pool task, a timer or I/O callback); none is synchronized.
// Emit, EmitSplit, EmitToParent, and Fail on a connected `error` port only buffer pulses,
// which the runtime dispatches when the node returns; Reply, and an emit that reaches an
// unconnected port, answer or fail the trace at once (the origin's observer runs on this
// worker). Pulses of one trace run on several workers at once, so trace state is shared
// between them: reach it through LockState. Work that finishes elsewhere holds an AsyncOp
// (BeginAsync; RunBlocking and StartTimer make one), the only handle that may leave the
// worker. Its completion is a new pulse, possibly on another worker and possibly before
// the OnPulse that started it has returned.
#ifndef EPOS_EXEC_CONTEXT_H_
#define EPOS_EXEC_CONTEXT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/unique_function.h"
#include "epos/core/value.h"
#include "epos/exec/pulse.h"
#include "epos/exec/trace.h"
#include "epos/graph/graph.h"

namespace epos {

class Runtime;

namespace internal {
struct Trace;
struct Scope;
struct AsyncSlot;
}  // namespace internal

// Handle on one pending asynchronous operation of a trace. While it is armed the trace
// counts it as active, so the trace cannot complete. Resume/ResumeError deliver the
// result to the node that started it, as a pulse in the same frame; destroying an armed
// handle abandons the operation (the trace may then complete). Move-only; Resume,
// ResumeError and the destructor may run on any thread, but the handle itself is not
// synchronized: one owner at a time, and at most one Resume/ResumeError.
//
// Cancellation. When the runtime stops with the operation still pending past its drain
// deadline, it cancels it: the trace fails ("runtime stopped before the trace completed"),
// the operation's unit is given back, stop_token() is requested, and the handle is
// detached from the runtime, so a Resume that comes later (an HTTP response, a blocking
// call that returned) is dropped without touching the runtime, which may be gone by then.
// An operation that can be interrupted (an HTTP request) passes stop_token() on and ends
// early when it is requested.
class AsyncOp {
 public:
  AsyncOp() = default;
  AsyncOp(AsyncOp&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
  AsyncOp& operator=(AsyncOp&& other) noexcept {
    if (this != &other) {
      Abandon();
      slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
  }
  AsyncOp(const AsyncOp&) = delete;
  AsyncOp& operator=(const AsyncOp&) = delete;
  ~AsyncOp() { Abandon(); }

  // Not yet resumed or abandoned through this handle (it may have been cancelled).
  bool armed() const { return slot_ != nullptr; }
  // Delivers `payload` to the node on kResumePort.
  void Resume(Value payload) { Deliver(kResumePort, std::move(payload)); }
  // Delivers the error message (a string) on kResumeErrorPort.
  void ResumeError(std::string_view message) { Deliver(kResumeErrorPort, Value(message)); }
  // Requested when the runtime cancels this operation (see above); already requested when
  // it was cancelled before this call. Call it on the thread that began the operation,
  // before handing the handle on (while the node runs, the runtime is alive).
  std::stop_token stop_token();

 private:
  friend class Context;
  explicit AsyncOp(internal::AsyncSlot* slot) : slot_(slot) {}
  void Deliver(PortIndex port, Value payload);
  void Abandon() {
    if (armed()) Deliver(kAbandonPort, Value());
  }

  internal::AsyncSlot* slot_ = nullptr;  // one of its two references
};

namespace internal {

// A growable buffer of pulses with an inline push (std::vector's out-of-line growth
// path kept its push_back from being inlined on the emit path).
class PulseBuffer {
 public:
  PulseBuffer() : data_(new Pulse[64]), capacity_(64) {}
  void push_back(const Pulse& p) {
    if (size_ == capacity_) Grow();
    data_[size_++] = p;
  }
  bool has_room() const { return size_ < capacity_; }
  void push_unchecked(const Pulse& p) { data_[size_++] = p; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  void truncate(std::size_t n) { size_ = static_cast<std::uint32_t>(n); }
  Pulse& operator[](std::size_t i) { return data_[i]; }
  Pulse* begin() { return data_.get(); }
  Pulse* end() { return data_.get() + size_; }

 private:
  void Grow();
  std::unique_ptr<Pulse[]> data_;
  std::uint32_t size_ = 0;
  std::uint32_t capacity_;
};

}  // namespace internal

// Which per-trace state a node addresses: the one of its current frame (scope and
// element index — joins inside a split keep one per element), or the one shared by the
// whole scope (collect gathers all elements of a split).
enum class StateKey : std::uint8_t { kFrame, kScope };

// One per worker, written on every hop: aligned so two workers' contexts never share a
// cache line.
class alignas(64) Context {
 public:
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Identity of what is running.
  Runtime& runtime() const { return *runtime_; }
  const Graph& graph() const { return *graph_; }
  NodeId node() const { return node_; }
  const std::string& node_name() const { return graph_->name(node_); }
  const std::string& node_kind() const { return graph_->kind(node_); }
  TraceId trace_id() const;

  // The innermost split frame {index, count}; {0, 0} outside any split.
  std::uint32_t frame_index() const { return index_; }
  std::uint32_t frame_count() const;
  // Number of split frames on the pulse's frame stack.
  std::size_t frame_depth() const;

  // Emits on output `port` (out[i] index or kErrorPort) in the current frame.
  [[gnu::always_inline]] void Emit(PortIndex port, Value payload) {
    std::span<const Edge> edges = graph_->edges(node_, port);
    if (edges.size() == 1 && edges[0].guard == nullptr && !edges[0].ordered && outbox_.has_room()) {
      RawValue raw = std::move(payload).Leak();  // the common case: no copy, no call
      outbox_.push_unchecked(
          Pulse{raw.bits, raw.kind, 0, edges[0].port, edges[0].target, scope_, index_, 0});
      return;
    }
    EmitInFrame(port, std::move(payload), scope_, index_);
  }

  // Emits one pulse per element in a new split frame {i, items.size()} (DESIGN.md §4).
  // An empty array emits nothing.
  void EmitSplit(PortIndex port, std::span<const Value> items);
  // Emits in the enclosing frame, popping the innermost one (collect). Outside any split
  // this is Emit.
  void EmitToParent(PortIndex port, Value payload);
  // Answers the trace's origin; the first reply wins, later ones are counted.
  void Reply(Value payload);
  // The node fails: {error: message, node, kind} goes to its `error` port when connected,
  // else the trace fails.
  void Fail(std::string_view message);
  // Same with a caller-built error map (must hold "error"); node and kind are added.
  void FailWith(Value error);

  // Per-trace state. Lock it, then find/emplace/take entries keyed by this node, the
  // current frame and `key`. The lock is the trace's, shared with every worker running a
  // pulse of this trace, and spins: hold it briefly, never across blocking work. It is
  // not recursive: release it before StartTimer, and before Fail, FailWith or an emit on
  // `error` when that port may be unconnected (failing the trace takes it too). An Emit
  // to a connected port only buffers and is allowed under it.
  class StateLock {
   public:
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;
    ~StateLock();

    template <class T>
    T* Find(StateKey key = StateKey::kFrame) {
      return static_cast<T*>(FindRaw(key));
    }
    template <class T, class... Args>
    T& Emplace(StateKey key, Args&&... args) {
      auto state = std::make_unique<T>(std::forward<Args>(args)...);
      T& ref = *state;
      InsertRaw(key, std::move(state));
      return ref;
    }
    // Removes the entry (nullptr when absent) and hands it over.
    std::unique_ptr<NodeState> Take(StateKey key = StateKey::kFrame);

   private:
    friend class Context;
    explicit StateLock(Context& ctx);
    NodeState* FindRaw(StateKey key);
    void InsertRaw(StateKey key, std::unique_ptr<NodeState> state);
    Context& ctx_;
  };
  StateLock LockState() { return StateLock(*this); }

  // Starts an asynchronous operation of this node on this trace.
  AsyncOp BeginAsync();
  // Runs `fn` on a blocking-pool thread (so it must not touch this Context); its result
  // comes back on kResumePort (the value) or kResumeErrorPort (the error message).
  // Returns kBackpressure when the pool is full, kUnavailable when it is stopped; nothing
  // was started then, and the node should fail or retry.
  [[nodiscard]] Status RunBlocking(UniqueFunction<Result<Value>()> fn);
  // Delivers `payload` back to this node on kResumePort after `delay`.
  void StartTimer(std::chrono::nanoseconds delay, Value payload);

 private:
  friend class Runtime;
  Context(Runtime* runtime, unsigned shard) : runtime_(runtime), shard_(shard) {}

  void Bind(internal::Trace* trace, const Graph* graph, NodeId node, internal::Scope* scope,
            std::uint32_t index, std::uint32_t segment) {
    segment_ = segment;
    trace_ = trace;
    graph_ = graph;
    node_ = node;
    scope_ = scope;
    index_ = index;
  }
  void EmitInFrame(PortIndex port, Value payload, internal::Scope* scope, std::uint32_t index);
  Value ErrorValue(std::string_view message) const;

  Runtime* runtime_;
  const unsigned shard_;  // the worker's trace-store shard
  // The pulse being run.
  internal::Trace* trace_ = nullptr;
  const Graph* graph_ = nullptr;
  NodeId node_ = kInvalidNode;
  internal::Scope* scope_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint32_t segment_ = 0;  // the pulse's uncommitted hops
  // What the node produced, dispatched by the runtime when the node returns.
  internal::PulseBuffer outbox_;
  std::vector<internal::Scope*> created_scopes_;
};

}  // namespace epos

#endif  // EPOS_EXEC_CONTEXT_H_
