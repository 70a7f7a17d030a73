// Per-trace bookkeeping shared by the runtime, the context and the trace store
// (private to src/exec).
//
// Scopes: the trace's root scope and one scope per split (frame instance). A scope's
// active units are its pulses queued or running, its pending async operations, and one
// unit for each live child scope. When they drop to zero the scope is quiescent: its
// collects and joins get OnQuiescent, and if they emit nothing into it the scope dies
// and gives its unit back to its parent; the root dying completes the trace.
//
// One 64-bit word per scope holds both the active units (low 32 bits) and the hops
// committed in the scope (high 32 bits), so ending a pulse — give back its unit, add its
// hops — is a single atomic add of (hops << 32) - 1 (the borrow from the low half cancels
// the -1's high bits; low never underflows because the caller holds a unit). A dying
// scope hands its hops to its parent with the unit it returns, so the root ends with the
// trace's exact hop count.
// Memory ordering: increments are relaxed (the incrementer already holds a unit, as in
// std::shared_ptr); releases are acq_rel so the thread that sees zero sees every write
// made by the pulses that ran in the scope.
#ifndef EPOS_SRC_EXEC_TRACE_INTERNAL_H_
#define EPOS_SRC_EXEC_TRACE_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

#include "cpu_relax.h"
#include "epos/exec/pulse.h"
#include "epos/exec/timer_service.h"
#include "epos/exec/trace.h"
#include "epos/graph/graph.h"

namespace epos {
class Runtime;
}  // namespace epos

namespace epos::internal {

struct Trace;

inline constexpr std::uint64_t kActiveMask = 0xFFFFFFFFULL;

struct Scope {
  std::atomic<std::uint64_t> state{0};  // hops << 32 | active units; see above
  std::uint64_t hops() const { return state.load(std::memory_order_relaxed) >> 32; }
  void AddUnits(std::uint64_t n) { state.fetch_add(n, std::memory_order_relaxed); }
  Scope* parent = nullptr;  // nullptr: the trace's root scope
  Trace* trace = nullptr;
  std::uint32_t parent_index = 0;  // element index of the frame this split ran in
  std::uint32_t count = 0;         // elements of the split; 0 for the root
  // Hops on the path to this scope when it was created (its ancestors' committed hops
  // then, plus the creating pulse's segment): the hop budget is checked against
  // base_hops + hops() + segment, so loops through nested splits are bounded too.
  std::uint64_t base_hops = 0;
  // Some node holds trace state keyed by this scope. Written under the trace's state
  // lock; read by the thread that saw `active` reach zero (ordered by that decrement).
  bool has_state = false;
};

inline constexpr std::uint32_t kWholeScope = 0xFFFFFFFF;  // StateKey::kScope entries

struct StateEntry {
  NodeId node;
  Scope* scope;
  std::uint32_t index;  // element index, or kWholeScope
  std::unique_ptr<NodeState> state;
};

// Test-and-test-and-set lock for the short critical sections on a trace's state.
class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        CpuRelax();
        if (++spins > 1000) std::this_thread::yield();
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

struct Trace {
  Scope root;                             // root.active is the trace's active count
  std::atomic<bool> failed{false};        // pulses are dropped when dequeued
  std::atomic<bool> outcome_sent{false};  // someone claimed the one Outcome
  std::atomic<bool> outcome_done{false};  // ... and OnOutcome has returned
  std::atomic<std::uint32_t> late_replies{0};
  // Memory references: one for completion, one for a pending deadline timer.
  std::atomic<std::uint32_t> refs{1};
  std::uint32_t hop_budget = kDefaultHopBudget;
  std::uint32_t shard = 0;      // trace-store shard that counted the start
  NodeId entry = kInvalidNode;  // node the origin sent to
  TraceId id = 0;
  const Graph* graph = nullptr;  // the version this trace runs on; pinned
  TraceObserver* observer = nullptr;
  TimerService::Handle deadline;
  std::chrono::nanoseconds timeout{0};
  SpinLock state_lock;
  std::vector<StateEntry> states;  // guarded by state_lock
  // Timers started by this trace's nodes (fired ones included): a failing trace cancels
  // them, so its sleeps end at once instead of holding its state.
  std::vector<TimerService::Handle> timers;  // guarded by state_lock
  // Ordered nodes (DESIGN.md §4 Ordering) this trace has reached: whether one of its
  // pulses is running there, and the pulses waiting their turn, in emission order.
  struct OrderedSlot {
    NodeId node;
    bool busy;
    std::deque<Pulse> waiting;
  };
  std::vector<OrderedSlot> ordered;  // guarded by state_lock

  // Back to a fresh record for reuse (keeps the states vector's capacity).
  void Reset() {
    root.state.store(0, std::memory_order_relaxed);
    root.parent = nullptr;
    root.has_state = false;
    root.base_hops = 0;
    failed.store(false, std::memory_order_relaxed);
    outcome_sent.store(false, std::memory_order_relaxed);
    outcome_done.store(false, std::memory_order_relaxed);
    late_replies.store(0, std::memory_order_relaxed);
    refs.store(1, std::memory_order_relaxed);
    hop_budget = kDefaultHopBudget;
    entry = kInvalidNode;
    graph = nullptr;
    observer = nullptr;
    deadline = {};
    timeout = std::chrono::nanoseconds(0);
    states.clear();
    timers.clear();
    ordered.clear();
  }
};

// One pending asynchronous operation (the state behind an AsyncOp handle). It is owned by
// two references: the handle, and the runtime's list of armed operations, which Stop walks
// to cancel what is still pending past its drain deadline. Whoever swaps `state` from
// kArmed to kClaimed settles the operation: the handle (delivery or abandonment) or the
// runtime (cancellation); the other only drops its reference. The last reference deletes.
struct AsyncSlot {
  static constexpr std::uint8_t kArmed = 0;
  static constexpr std::uint8_t kClaimed = 1;

  AsyncSlot(Runtime* rt, const Pulse& p) : runtime(rt), pulse(p) {}

  std::atomic<std::uint8_t> state{kArmed};
  std::atomic<std::uint8_t> refs{2};
  Runtime* const runtime;
  const Pulse pulse;  // the node, scope and element that began it; no payload
  // Requested when the runtime cancels the operation; created on the first
  // AsyncOp::stop_token(). Guarded by the mutex of the list the slot is on.
  std::stop_source stop{std::nostopstate};
  // The runtime's list of armed operations; guarded by that list's mutex.
  AsyncSlot* prev = nullptr;
  AsyncSlot* next = nullptr;

  // Drops one reference; the last deletes.
  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

}  // namespace epos::internal

#endif  // EPOS_SRC_EXEC_TRACE_INTERNAL_H_
