// Runtime: runs traces of pulses through graphs on the scheduler (DESIGN.md §2, §4).
//
// It owns the scheduler (workers), the trace store, the blocking pool and the timer
// service, and implements the execution semantics: emission and guards, replies (first
// wins; leaf rule), errors (error port or trace failure), the hop budget and deadline,
// split frames with quiescence for collect and join, and exact completion: the moment a
// trace's active count reaches zero its state is freed and its origin is told.
//
// Hot path, per hop: a node that emits exactly one pulse in its own frame hands it to
// the same worker directly (no queue, no atomic); fan-out pushes all but one child onto
// the worker's deque for thieves. Hop counting is batched: each pulse carries the hops
// since its scope last committed, committed in the same atomic add that settles the
// scope's active count whenever a node emits other than one pulse, and compared against
// the budget on every hop.
//
// Lifecycle. Every trace passes through a Gate (gate.h, seastar's gate): StartTrace enters
// it, completion leaves it. Stop(drain) closes the gate, so later starts fail with
// kUnavailable, and waits (woken by completions, no polling) for the traces in flight until
// the drain deadline. Past it, it fails what is left: each such trace gets the outcome
// "runtime stopped before the trace completed", its queued pulses are dropped when
// dequeued, and its pending operations are cancelled (AsyncOp): timers, blocking jobs not
// yet started, and the operations that wait outside the runtime (an HTTP request: its
// stop_token closes the connection). So Stop returns soon after the deadline whatever the
// traces wait for; it then joins the workers, the timer thread and the blocking pool (a
// blocking job still running is left to finish on its own thread: the report counts it).
// Retired graph versions are deleted on a reaper thread of the runtime's own (graph.h
// "Retirement"), never on a worker or an I/O thread; Stop deletes the last ones.
// What Stop cannot bound is a node that never returns from OnPulse on a worker: nodes must
// not block (DESIGN.md §4); the join waits for it.
//
// Thread-safety: StartTrace/Call from any thread, including from nodes and jobs on the
// workers. Start() once; Stop() from one thread (the owner), once (later calls return an
// empty report). The destructor calls Stop() with the default drain unless it was called,
// then waits only for operations settling at that very moment.
#ifndef EPOS_EXEC_RUNTIME_H_
#define EPOS_EXEC_RUNTIME_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/unique_function.h"
#include "epos/exec/blocking_pool.h"
#include "epos/exec/context.h"
#include "epos/exec/gate.h"
#include "epos/exec/scheduler.h"
#include "epos/exec/timer_service.h"
#include "epos/exec/trace.h"
#include "epos/exec/trace_store.h"
#include "epos/graph/graph.h"

namespace epos {

namespace internal {
class GraphReaper;
}  // namespace internal

struct RuntimeOptions {
  unsigned workers = 0;  // 0: hardware threads
  BlockingPoolOptions blocking;
  // Spare worker slots for origin threads that run the traces they start themselves
  // (Scheduler::Attach), e.g. one per HTTP listener I/O thread.
  unsigned attachable = 0;
};

struct StopReport {
  std::uint64_t drained = 0;             // traces that finished during the drain
  std::uint64_t aborted = 0;             // traces failed because the drain deadline passed
  std::uint64_t cancelled_ops = 0;       // pending operations cancelled past the deadline
  std::uint64_t blocking_cancelled = 0;  // blocking jobs dropped before they started
  std::uint64_t blocking_abandoned = 0;  // blocking jobs still running, left on their thread
  std::uint64_t stuck = 0;               // traces still running when Stop gave up waiting
  // Anything abandoned: operations cancelled, jobs dropped or left running, traces stuck.
  bool abandoned_any() const {
    return cancelled_ops + blocking_cancelled + blocking_abandoned + stuck > 0;
  }
};

class Runtime final : public PulseHandler {
 public:
  // Pulses a worker runs back to back for one chain before it requeues the next one, so
  // a long chain cannot starve the worker's queue. EPOS_FORCE_RARE_PATHS requeues every
  // hop, so the push, notify and steal paths run on every chain.
#ifdef EPOS_FORCE_RARE_PATHS
  static constexpr int kInlineLimit = 1;
#else
  static constexpr int kInlineLimit = 64;
#endif
  // After the drain deadline, how long Stop waits for the failed traces to end (their
  // pulses dropped, their operations cancelled) before it counts the rest as stuck.
  static constexpr std::chrono::milliseconds kAbortGrace{1000};

  explicit Runtime(RuntimeOptions options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() override;

  void Start();
  // See Lifecycle above. `drain`: how long traces in flight may take to finish.
  StopReport Stop(std::chrono::nanoseconds drain = std::chrono::seconds(5));

  // Starts a trace: `payload` to input `port` of `node`. The observer must outlive the
  // trace. Errors: kUnavailable once Stop began; kInvalidArgument for a bad node/port.
  [[nodiscard]] Result<TraceId> StartTrace(const std::shared_ptr<const Graph>& graph, NodeId node,
                                           PortIndex port, Value payload, TraceObserver* observer,
                                           const TraceOptions& options = {});
  // Same, with a callback for the outcome (called once, on a runtime thread).
  [[nodiscard]] Result<TraceId> StartTrace(const std::shared_ptr<const Graph>& graph, NodeId node,
                                           PortIndex port, Value payload,
                                           UniqueFunction<void(Outcome)> on_outcome,
                                           const TraceOptions& options = {});
  // Same, with a future. A start error arrives as an kError outcome.
  std::future<Outcome> Call(const std::shared_ptr<const Graph>& graph, NodeId node, PortIndex port,
                            Value payload, const TraceOptions& options = {});

  Scheduler& scheduler() { return scheduler_; }
  TraceStore& traces() { return store_; }
  const TraceStore& traces() const { return store_; }
  BlockingPool& blocking_pool() { return blocking_; }
  TimerService& timers() { return timers_; }
  // Traces started and not yet complete (they are inside the gate).
  std::int64_t live_traces() const { return gate_.count(); }
  // Graph versions deleted by the runtime's reaper thread (see Lifecycle), for tests.
  std::uint64_t graphs_reaped() const;
  // Waits until the graph versions retired so far are deleted (the reaper is done with
  // them). From a thread that is not a worker: a retiring graph's destructor may block.
  void FlushRetiredGraphs();
  std::uint64_t late_replies() const { return late_replies_.load(std::memory_order_relaxed); }

  // PulseHandler.
  void RunPulse(Pulse pulse, Worker& worker) override;
  void Discard(Pulse pulse) override;

 private:
  friend class Context;
  friend class AsyncOp;

  Context& ContextOf(Worker& worker);
  unsigned CurrentShard() const;
  // Accounts for and queues what ctx produced while running a pulse of `own`. Returns
  // the pulse to run next on this worker, if any (has_next).
  void Dispatch(Context& ctx, internal::Scope* own, std::uint32_t segment, Worker& worker,
                Pulse& next, bool& has_next);
  // Gives back one unit of `scope` and commits `hops` to it; handles quiescence, scope
  // death (its hops go to the parent) and trace completion.
  // Ordered nodes: TakeTurn admits `pulse` now (true) or queues it behind the running one;
  // NextInOrder hands the node's turn to the next queued pulse (pushed on `worker`, or
  // discarded when there is none: the scheduler is stopping).
  bool TakeTurn(internal::Trace* trace, const Pulse& pulse);
  void NextInOrder(internal::Trace* trace, NodeId node, Worker* worker);
  void ReleaseUnit(internal::Scope* scope, std::uint64_t hops, Worker* worker);
  // Runs OnQuiescent for the joins (else the collects) holding state on `scope`, which
  // the caller keeps alive with a guard unit, and queues what they emit.
  void RunQuiescence(internal::Scope* scope, Worker& worker);
  // The one Outcome of a trace: claim it (false: someone else did), then send it.
  static bool ClaimOutcome(internal::Trace* trace);
  static void SendOutcome(internal::Trace* trace, Outcome outcome);
  void CompleteTrace(internal::Trace* trace, Worker* worker);
  // What was thrown at the node boundary becomes the node's failure.
  void FailFromException(Context& ctx, std::exception_ptr error);
  void FailTrace(internal::Trace* trace, Value error);
  // Cancels the trace's pending timers (called when it fails).
  void CancelTimers(internal::Trace* trace);
  void DeliverReply(internal::Trace* trace, Value payload);
  void OnDeadline(internal::Trace* trace, bool fired);
  bool Dropping(const internal::Trace* trace) const;
  Value TraceError(const internal::Trace* trace, NodeId node, std::string message) const;

  RuntimeOptions options_;
  Scheduler scheduler_;
  TraceStore store_;
  BlockingPool blocking_;
  TimerService timers_;
  std::unique_ptr<internal::GraphReaper> reaper_;   // retired graphs, off the workers
  Gate gate_;                                       // every live trace is inside
  std::vector<std::unique_ptr<Context>> contexts_;  // one per worker, immutable set

  std::atomic<bool> aborting_{false};  // Stop's drain deadline passed: drop everything
  std::atomic<std::uint64_t> late_replies_{0};

  // Armed asynchronous operations (AsyncOp), on intrusive lists sharded by slot address so
  // concurrent I/O completions rarely share a lock. Stop walks them to cancel what is still
  // pending past its drain deadline.
  struct alignas(64) AsyncShard {
    std::mutex mu;
    internal::AsyncSlot* head = nullptr;  // guarded by mu
  };
  static constexpr std::size_t kAsyncShards = 16;
  AsyncShard& AsyncShardOf(const internal::AsyncSlot* slot) {
    return async_shards_[(reinterpret_cast<std::uintptr_t>(slot) >> 6) % kAsyncShards];
  }
  std::array<AsyncShard, kAsyncShards> async_shards_;
  // Set (before the lists are walked) once Stop cancels: an operation begun after that is
  // cancelled as it begins. Read and written under the shard locks' ordering (see
  // AsyncBegun).
  std::atomic<bool> cancelling_{false};
  void AsyncBegun(internal::AsyncSlot* slot);
  // The handle claimed `slot` (delivery or abandonment): unlists it.
  void AsyncSettled(internal::AsyncSlot* slot);
  std::stop_token AsyncStopToken(internal::AsyncSlot* slot);
  // Cancels every armed operation (see AsyncOp); returns how many.
  std::uint64_t CancelAsyncOps();
  // Settles an operation the runtime claimed: fails its trace, requests `stop`, gives the
  // unit back, and drops the list's reference.
  void CancelClaimed(internal::AsyncSlot* slot, std::stop_source stop);
  // Operations armed or being settled by their handle (an HTTP client's thread may be
  // delivering one as Stop runs): the destructor waits for them, so a delivery in progress
  // never finds the runtime gone. OpDone is a settling handle's last touch of the runtime.
  std::atomic<std::uint64_t> armed_ops_{0};
  void OpDone();

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // signalled by OpDone when armed_ops_ reaches zero
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace epos

#endif  // EPOS_EXEC_RUNTIME_H_
