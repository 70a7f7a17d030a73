#include "epos/exec/runtime.h"

#include <algorithm>
#include <cassert>
#include <exception>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "graph_reaper.h"
#include "trace_internal.h"

namespace epos {

using internal::Scope;
using internal::Trace;

namespace {

// The deadline failure's message, "deadline of 2s exceeded" (see IsDeadlineError).
constexpr std::string_view kDeadlinePrefix = "deadline of ";
constexpr std::string_view kDeadlineSuffix = " exceeded";

std::string DurationText(std::chrono::nanoseconds d) {
  using std::chrono::duration_cast;
  auto ms = duration_cast<std::chrono::milliseconds>(d).count();
  if (ms > 0 && d == std::chrono::milliseconds(ms)) return std::to_string(ms) + "ms";
  return std::to_string(duration_cast<std::chrono::microseconds>(d).count()) + "us";
}

// Owns itself: deleted once the trace completes.
class CallbackObserver final : public TraceObserver {
 public:
  explicit CallbackObserver(UniqueFunction<void(Outcome)> fn) : fn_(std::move(fn)) {}
  void OnOutcome(TraceId, Outcome outcome) override { fn_(std::move(outcome)); }
  void OnComplete(const TraceSummary&) override { delete this; }

 private:
  UniqueFunction<void(Outcome)> fn_;
};

class PromiseObserver final : public TraceObserver {
 public:
  std::future<Outcome> future() { return promise_.get_future(); }
  void OnOutcome(TraceId, Outcome outcome) override { promise_.set_value(std::move(outcome)); }
  void OnComplete(const TraceSummary&) override { delete this; }

 private:
  std::promise<Outcome> promise_;
};

}  // namespace

Runtime::Runtime(RuntimeOptions options)
    : options_(options),
      scheduler_(SchedulerOptions{.workers = options.workers, .attachable = options.attachable},
                 this),
      store_(scheduler_.worker_count()),
      blocking_(options.blocking),
      reaper_(std::make_unique<internal::GraphReaper>()),
      gate_(scheduler_.worker_count()) {  // shards as the trace store's: workers, then shared
  for (unsigned i = 0; i < scheduler_.worker_count(); ++i) {
    contexts_.emplace_back(new Context(this, i));
  }
}

Runtime::~Runtime() {
  if (!stopped_) {
    StopReport report = Stop();
    if (report.abandoned_any()) {
      spdlog::warn(
          "runtime stopped past its drain deadline: {} trace(s) failed, {} operation(s) "
          "cancelled, {} blocking job(s) dropped and {} left running, {} trace(s) stuck",
          report.aborted, report.cancelled_ops, report.blocking_cancelled,
          report.blocking_abandoned, report.stuck);
    }
  }
  // Stop cancelled every operation still armed; what is left are handles settling right
  // now (an HTTP response being handed over): microseconds.
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return armed_ops_.load(std::memory_order_acquire) == 0; });
}

void Runtime::OpDone() {
  // Under the lock, so the destructor cannot see zero and free the mutex before we are
  // done with it.
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (armed_ops_.fetch_sub(1, std::memory_order_acq_rel) == 1) stop_cv_.notify_all();
}

std::uint64_t Runtime::graphs_reaped() const { return reaper_->reaped(); }

void Runtime::FlushRetiredGraphs() { reaper_->Flush(); }

void Runtime::Start() {
  assert(!started_);
  started_ = true;
  reaper_->Start();
  timers_.Start();
  blocking_.Start();
  scheduler_.Start();
}

StopReport Runtime::Stop(std::chrono::nanoseconds drain) {
  StopReport report;
  if (stopped_) return report;
  stopped_ = true;
  const auto deadline = std::chrono::steady_clock::now() + drain;
  gate_.Close();
  const std::uint64_t completed_before = store_.completed();
  // A never-started runtime ran nothing: its queued traces end when the scheduler
  // discards them below.
  const bool quiet = !started_ || gate_.WaitUntilEmpty(deadline);
  report.drained = store_.completed() - completed_before;
  if (!quiet) {
    // Past the drain deadline: fail everything still in flight. Queued pulses are dropped
    // when dequeued; pending operations are cancelled (their traces fail with "runtime
    // stopped" and their units come back); timers and blocking jobs not yet started are
    // dropped with them.
    const std::uint64_t completed_before_abort = store_.completed();
    aborting_.store(true, std::memory_order_seq_cst);
    report.cancelled_ops = CancelAsyncOps();
    timers_.Stop();
    BlockingPool::StopReport blocking = blocking_.Stop(std::chrono::steady_clock::now());
    report.blocking_cancelled = blocking.cancelled;
    report.blocking_abandoned = blocking.abandoned;
    // What is left are pulses being dropped, and nodes still inside OnPulse: a short grace.
    if (!gate_.WaitUntilEmpty(std::chrono::steady_clock::now() + kAbortGrace)) {
      report.stuck = static_cast<std::uint64_t>(std::max<std::int64_t>(gate_.count(), 0));
    }
    report.aborted = store_.completed() - completed_before_abort;
  }
  timers_.Stop();
  BlockingPool::StopReport blocking = blocking_.Stop(deadline);
  report.blocking_cancelled += blocking.cancelled;
  report.blocking_abandoned += blocking.abandoned;
  const std::uint64_t completed_before_discard = store_.completed();
  scheduler_.Stop();  // a never-started pool discards its queue: those traces end here
  if (!started_) report.aborted = store_.completed() - completed_before_discard;
  reaper_->Stop();  // the last retired graphs, deleted here
  return report;
}

bool Runtime::Dropping(const Trace* trace) const {
  return trace->failed.load(std::memory_order_relaxed) || aborting_.load(std::memory_order_relaxed);
}

unsigned Runtime::CurrentShard() const {
  Worker* w = scheduler_.CurrentWorker();
  return w != nullptr ? w->index() : store_.external_shard();
}

Context& Runtime::ContextOf(Worker& worker) { return *contexts_[worker.index()]; }

Value Runtime::TraceError(const Trace* trace, NodeId node, std::string message) const {
  const Graph& g = *trace->graph;
  return Value::Map(
      {{"error", Value(message)}, {"node", Value(g.name(node))}, {"kind", Value(g.kind(node))}});
}

Result<TraceId> Runtime::StartTrace(const std::shared_ptr<const Graph>& graph, NodeId node,
                                    PortIndex port, Value payload, TraceObserver* observer,
                                    const TraceOptions& options) {
  if (!graph || node >= graph->node_count()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no node " + std::to_string(node) + " in the graph");
  }
  const PortShape& shape = graph->info(node).shape;
  if (port > kMaxPortIndex || (shape.inputs != PortShape::kAny && port >= shape.inputs)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "node \"" + graph->name(node) + "\" has no input port " + InPortName(port));
  }
  assert(observer != nullptr);
  const unsigned shard = CurrentShard();
  if (!gate_.TryEnter(shard)) {
    return MakeError(ErrorCode::kUnavailable, "runtime is stopping; trace not started");
  }
  Trace* t = store_.Allocate(shard);
  t->root.trace = t;
  t->root.state.store(1, std::memory_order_relaxed);  // the first pulse
  t->hop_budget = options.hop_budget;
  t->entry = node;
  graph->Pin(shard);
  t->graph = graph.get();
  t->observer = observer;
  t->timeout = options.timeout;
  const TraceId id = t->id;
  if (options.timeout.count() > 0) {
    // The pending deadline holds the record and the graph (it names the entry node in
    // its error) until it fires or is cancelled.
    t->refs.store(2, std::memory_order_relaxed);
    graph->Pin(shard);
    t->deadline = timers_.After(options.timeout, [this, t](bool fired) { OnDeadline(t, fired); });
  }
  Pulse p{};
  p.SetPayload(std::move(payload));
  p.node = node;
  p.port = port;
  p.scope = &t->root;
  p.index = 0;
  p.segment = 1;
  scheduler_.Submit(p);
  return id;
}

Result<TraceId> Runtime::StartTrace(const std::shared_ptr<const Graph>& graph, NodeId node,
                                    PortIndex port, Value payload,
                                    UniqueFunction<void(Outcome)> on_outcome,
                                    const TraceOptions& options) {
  auto* observer = new CallbackObserver(std::move(on_outcome));
  auto id = StartTrace(graph, node, port, std::move(payload), observer, options);
  if (!id) delete observer;
  return id;
}

std::future<Outcome> Runtime::Call(const std::shared_ptr<const Graph>& graph, NodeId node,
                                   PortIndex port, Value payload, const TraceOptions& options) {
  auto* observer = new PromiseObserver();
  std::future<Outcome> future = observer->future();
  auto id = StartTrace(graph, node, port, std::move(payload), observer, options);
  if (!id) {
    observer->OnOutcome(
        0, Outcome{Outcome::Kind::kError, Value::Map({{"error", Value(id.error().message)}})});
    delete observer;
  }
  return future;
}

void Runtime::RunPulse(Pulse p, Worker& worker) {
  Context& ctx = ContextOf(worker);
  for (int inline_left = kInlineLimit;;) {
    Scope* scope = p.scope;
    Trace* t = scope->trace;
    if (p.port == kAbandonPort || Dropping(t)) {
      p.TakePayload();
      if ((p.flags & Pulse::kOrderedFlag) != 0) NextInOrder(t, p.node, &worker);
      ReleaseUnit(scope, p.segment > 0 ? p.segment - 1 : 0, &worker);  // hops before it
      return;
    }
    // Hops on this pulse's path: the scope's inherited base, its committed hops, and
    // this segment's (deeper scopes hand theirs up when they die).
    if (scope->base_hops + scope->hops() + p.segment > t->hop_budget) {
      FailTrace(t, TraceError(t, p.node,
                              "hop budget of " + std::to_string(t->hop_budget) +
                                  " pulses exceeded (a loop that never ends?)"));
      p.TakePayload();
      if ((p.flags & Pulse::kOrderedFlag) != 0) NextInOrder(t, p.node, &worker);
      ReleaseUnit(scope, p.segment > 0 ? p.segment - 1 : 0, &worker);
      return;
    }
    ctx.Bind(t, t->graph, p.node, scope, p.index, p.segment);
    Node& node = t->graph->node(p.node);
    try {
      node.OnPulse(ctx, p.port, p.TakePayload());
    } catch (...) {
      FailFromException(ctx, std::current_exception());
    }
    // An ordered node's turn passes to the next waiting pulse of this trace, if any.
    if ((p.flags & Pulse::kOrderedFlag) != 0) NextInOrder(t, p.node, &worker);

    // Fast path: one pulse in the same frame continues on this worker; the running
    // pulse's unit passes to it, so no counter changes.
    if (ctx.outbox_.size() == 1 && ctx.created_scopes_.empty() && ctx.outbox_[0].scope == scope &&
        ctx.outbox_[0].flags == 0) {
      Pulse next = ctx.outbox_[0];
      ctx.outbox_.clear();
      next.segment = p.segment + 1;
      if (--inline_left > 0) {
        p = next;
        continue;
      }
      worker.Push(next);
      worker.Notify();
      return;
    }
    if (ctx.outbox_.empty() && ctx.created_scopes_.empty()) {  // the end of a branch
      ReleaseUnit(scope, p.segment, &worker);
      return;
    }
    Pulse next;
    bool has_next = false;
    Dispatch(ctx, scope, p.segment, worker, next, has_next);
    if (!has_next) return;
    if (--inline_left > 0) {
      p = next;
      continue;
    }
    worker.Push(next);
    worker.Notify();
    return;
  }
}

void Runtime::FailFromException(Context& ctx, std::exception_ptr error) {
  std::string message = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
  }
  // The node boundary (CONVENTIONS.md "Errors"): a throw becomes the node's failure. If
  // that throws too (a guard on the error edge), the trace fails.
  try {
    ctx.Fail(message);
  } catch (...) {
    FailTrace(ctx.trace_, TraceError(ctx.trace_, ctx.node_, message));
  }
}

void Runtime::Dispatch(Context& ctx, Scope* own, std::uint32_t segment, Worker& worker, Pulse& next,
                       bool& has_next) {
  // Count the new pulses per target scope; almost always one or two scopes.
  std::int64_t own_delta = static_cast<std::int64_t>(ctx.created_scopes_.size()) - 1;
  Scope* other = nullptr;  // the first other scope, counted without a table
  std::uint64_t other_count = 0;
  for (Pulse& q : ctx.outbox_) {
    q.segment = 1;
    if (q.scope == own) {
      ++own_delta;
    } else if (q.scope == other || other == nullptr) {
      other = q.scope;
      ++other_count;
    } else {
      q.scope->AddUnits(1);
    }
  }
  if (other != nullptr) other->AddUnits(other_count);
  // The running pulse's hops are committed with its unit: now if it has children in
  // this scope (they keep the scope alive), else when the unit goes back below.
  if (own_delta >= 0) {
    own->state.fetch_add((std::uint64_t{segment} << 32) + static_cast<std::uint64_t>(own_delta),
                         std::memory_order_relaxed);
  }

  // Pulses for ordered nodes wait their turn (counted above: a waiting pulse is active).
  std::size_t n = 0;
  for (Pulse& q : ctx.outbox_) {
    if ((q.flags & Pulse::kOrderedFlag) == 0 || TakeTurn(ctx.trace_, q)) ctx.outbox_[n++] = q;
  }
  ctx.outbox_.truncate(n);
  // Run the first child here; queue the others so the LIFO pops them in order and
  // thieves take the far end.
  if (n > 0) {
    next = ctx.outbox_[0];
    has_next = true;
    for (std::size_t i = n; i-- > 1;) worker.Push(ctx.outbox_[i]);
    if (n > 1) worker.Notify();
  }
  ctx.outbox_.clear();
  // Creation units of new split scopes: an all-dropped split dies here.
  if (!ctx.created_scopes_.empty()) {
    std::vector<Scope*> created;
    created.swap(ctx.created_scopes_);
    for (Scope* s : created) ReleaseUnit(s, 0, &worker);
    created.clear();
    if (ctx.created_scopes_.empty()) ctx.created_scopes_.swap(created);  // keep capacity
  }
  if (own_delta < 0) ReleaseUnit(own, segment, &worker);
}

void Runtime::ReleaseUnit(Scope* scope, std::uint64_t hops, Worker* worker) {
  for (;;) {
    const std::uint64_t old = scope->state.fetch_add((hops << 32) - 1, std::memory_order_acq_rel);
    if ((old & internal::kActiveMask) != 1) return;
    Trace* t = scope->trace;
    if (worker != nullptr && scope->has_state && !Dropping(t)) {
      // Quiescent with collects/joins waiting. Hold a guard unit while their handlers
      // run, so whatever they start (pulses, async operations, splits) keeps the scope
      // alive; then give the guard back, which brings us here again if it was the last.
      scope->AddUnits(1);
      RunQuiescence(scope, *worker);
      hops = 0;
      continue;
    }
    if (scope->parent == nullptr) {
      CompleteTrace(t, worker);
      return;
    }
    Scope* parent = scope->parent;
    hops = scope->hops();  // the dead scope's hops go up with its unit
    delete scope;
    scope = parent;
  }
}

void Runtime::RunQuiescence(Scope* scope, Worker& worker) {
  Trace* t = scope->trace;
  // Per-element state (joins) goes first: a join's error may still travel to a collect
  // of the same scope, so collects (whole-scope state) wait for a later quiescence in
  // which no per-element state is left.
  std::vector<internal::StateEntry> waiting;
  {
    std::lock_guard<internal::SpinLock> lock(t->state_lock);
    auto& states = t->states;
    for (bool whole_scope : {false, true}) {
      for (std::size_t i = 0; i < states.size();) {
        if (states[i].scope == scope && (states[i].index == internal::kWholeScope) == whole_scope) {
          waiting.push_back(std::move(states[i]));
          states[i] = std::move(states.back());
          states.pop_back();
        } else {
          ++i;
        }
      }
      if (!waiting.empty()) break;
    }
    scope->has_state = std::any_of(states.begin(), states.end(),
                                   [scope](const auto& e) { return e.scope == scope; });
  }
  if (waiting.empty()) return;
  store_.OnStatesFreed(worker.index(), static_cast<std::int64_t>(waiting.size()));
  // Deterministic order for several waiting nodes: by node id, then element.
  std::sort(waiting.begin(), waiting.end(), [](const auto& a, const auto& b) {
    return a.node != b.node ? a.node < b.node : a.index < b.index;
  });

  Context& ctx = ContextOf(worker);
  for (internal::StateEntry& e : waiting) {
    ctx.Bind(t, t->graph, e.node, scope, e.index == internal::kWholeScope ? 0 : e.index, 0);
    try {
      t->graph->node(e.node).OnQuiescent(ctx, std::move(e.state));
    } catch (...) {
      FailFromException(ctx, std::current_exception());
    }
  }
  // The scope holds the caller's guard unit, so counting and queueing need no care here.
  for (Pulse& q : ctx.outbox_) {
    q.segment = 1;
    q.scope->AddUnits(1);
  }
  scope->AddUnits(ctx.created_scopes_.size());
  for (const Pulse& q : ctx.outbox_) worker.Push(q);
  if (!ctx.outbox_.empty()) worker.Notify();
  ctx.outbox_.clear();
  std::vector<Scope*> created;
  created.swap(ctx.created_scopes_);
  for (Scope* s : created) ReleaseUnit(s, 0, &worker);
}

void Runtime::AsyncBegun(internal::AsyncSlot* slot) {
  armed_ops_.fetch_add(1, std::memory_order_relaxed);
  AsyncShard& shard = AsyncShardOf(slot);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    // Read under the lock: CancelAsyncOps sets it before taking any shard lock, so either
    // it walks this list after the link below, or this sees it set.
    if (!cancelling_.load(std::memory_order_relaxed)) {
      slot->next = shard.head;
      if (shard.head != nullptr) shard.head->prev = slot;
      shard.head = slot;
      return;
    }
  }
  // Begun after Stop cancelled everything (a node that was running then): cancelled now.
  slot->state.store(internal::AsyncSlot::kClaimed, std::memory_order_relaxed);
  CancelClaimed(slot, std::stop_source(std::nostopstate));
}

void Runtime::AsyncSettled(internal::AsyncSlot* slot) {
  AsyncShard& shard = AsyncShardOf(slot);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (slot->prev != nullptr) {
      slot->prev->next = slot->next;
    } else if (shard.head == slot) {
      shard.head = slot->next;
    }
    if (slot->next != nullptr) slot->next->prev = slot->prev;
    slot->prev = slot->next = nullptr;
  }
  slot->Unref();  // the list's reference; the handle still holds its own
}

std::stop_token Runtime::AsyncStopToken(internal::AsyncSlot* slot) {
  AsyncShard& shard = AsyncShardOf(slot);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (!slot->stop.stop_possible()) {
    slot->stop = std::stop_source();
    // Claimed while the handle still holds it: the runtime cancelled it already.
    if (slot->state.load(std::memory_order_acquire) == internal::AsyncSlot::kClaimed) {
      slot->stop.request_stop();
    }
  }
  return slot->stop.get_token();
}

std::uint64_t Runtime::CancelAsyncOps() {
  cancelling_.store(true, std::memory_order_relaxed);
  std::vector<std::pair<internal::AsyncSlot*, std::stop_source>> claimed;
  for (AsyncShard& shard : async_shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    internal::AsyncSlot* slot = shard.head;
    while (slot != nullptr) {
      internal::AsyncSlot* next = slot->next;
      // A handle settling it right now has claimed it: it unlists it itself.
      if (slot->state.exchange(internal::AsyncSlot::kClaimed, std::memory_order_acq_rel) ==
          internal::AsyncSlot::kArmed) {
        if (slot->prev != nullptr) {
          slot->prev->next = next;
        } else {
          shard.head = next;
        }
        if (next != nullptr) next->prev = slot->prev;
        slot->prev = slot->next = nullptr;
        claimed.emplace_back(slot, slot->stop);
      }
      slot = next;
    }
  }
  // Outside the locks: the outcome goes to observers, and a stop callback (an HTTP
  // request's) runs on this thread.
  for (auto& [slot, stop] : claimed) CancelClaimed(slot, std::move(stop));
  return claimed.size();
}

void Runtime::CancelClaimed(internal::AsyncSlot* slot, std::stop_source stop) {
  // The operation's unit keeps the trace alive until the pulse below gives it back.
  Trace* t = slot->pulse.scope->trace;
  t->failed.store(true, std::memory_order_relaxed);
  if (ClaimOutcome(t)) {
    SendOutcome(t, Outcome{Outcome::Kind::kError,
                           TraceError(t, t->entry, "runtime stopped before the trace completed")});
  }
  if (stop.stop_possible()) stop.request_stop();
  Pulse p = slot->pulse;
  p.port = kAbandonPort;
  p.segment = 1;
  scheduler_.Submit(p);  // dropped when dequeued; gives the unit back
  slot->Unref();         // the list's reference
  OpDone();
}

bool Runtime::ClaimOutcome(Trace* t) {
  return !t->outcome_sent.exchange(true, std::memory_order_acq_rel);
}

void Runtime::SendOutcome(Trace* t, Outcome outcome) {
  t->observer->OnOutcome(t->id, std::move(outcome));
  t->outcome_done.store(true, std::memory_order_release);
}

void Runtime::DeliverReply(Trace* t, Value payload) {
  if (!ClaimOutcome(t)) {
    t->late_replies.fetch_add(1, std::memory_order_relaxed);
    late_replies_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  SendOutcome(t, Outcome{Outcome::Kind::kReply, std::move(payload)});
}

void Runtime::FailTrace(Trace* t, Value error) {
  t->failed.store(true, std::memory_order_release);
  if (ClaimOutcome(t)) SendOutcome(t, Outcome{Outcome::Kind::kError, std::move(error)});
  CancelTimers(t);
}

void Runtime::CancelTimers(Trace* t) {
  // A cancelled timer's callback is destroyed unrun; the AsyncOp it owned is abandoned,
  // which gives its unit back, so the failed trace completes without waiting.
  std::vector<TimerService::Handle> timers;
  {
    std::lock_guard<internal::SpinLock> lock(t->state_lock);
    timers.swap(t->timers);
  }
  for (const TimerService::Handle& h : timers) timers_.Cancel(h);
}

bool IsDeadlineError(const Value& error) {
  const Value* message = error.Find("error");
  if (message == nullptr || !message->IsString()) return false;
  std::string_view text = message->AsString();
  return text.starts_with(kDeadlinePrefix) && text.ends_with(kDeadlineSuffix);
}

void Runtime::OnDeadline(Trace* t, bool fired) {
  // The timer's reference keeps the record, and its pin the graph, even if the trace
  // completed meanwhile (then the outcome was sent and FailTrace does nothing).
  if (fired && !t->outcome_sent.load(std::memory_order_acquire)) {
    FailTrace(t, TraceError(t, t->entry,
                            std::string(kDeadlinePrefix) + DurationText(t->timeout) +
                                std::string(kDeadlineSuffix)));
  }
  const Graph* graph = t->graph;
  const unsigned pin_shard = t->shard;
  store_.Release(t, store_.external_shard());
  graph->Unpin(pin_shard, reaper_.get());
}

void Runtime::CompleteTrace(Trace* t, Worker* worker) {
  const unsigned shard = worker != nullptr ? worker->index() : store_.external_shard();
  const bool failed =
      t->failed.load(std::memory_order_relaxed) || aborting_.load(std::memory_order_relaxed);
  if (ClaimOutcome(t)) {
    if (aborting_.load(std::memory_order_relaxed)) {
      SendOutcome(t,
                  Outcome{Outcome::Kind::kError,
                          TraceError(t, t->entry, "runtime stopped before the trace completed")});
    } else {
      SendOutcome(t, Outcome{Outcome::Kind::kNoReply, Value()});
    }
  } else {
    // Another thread (the deadline timer, Stop) may still be inside OnOutcome; the
    // observer is promised the outcome strictly before completion.
    while (!t->outcome_done.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  // Free all per-trace state at once (left over only when the trace failed).
  if (!t->states.empty()) {
    store_.OnStatesFreed(shard, static_cast<std::int64_t>(t->states.size()));
    t->states.clear();
  }
  if (t->deadline.id != 0 && timers_.Cancel(t->deadline)) {  // the timer's share
    store_.Release(t, shard);
    t->graph->Unpin(t->shard, reaper_.get());
  }
  TraceSummary summary{t->id, t->root.hops(), t->late_replies.load(std::memory_order_relaxed),
                       failed};
  TraceObserver* observer = t->observer;
  const Graph* graph = t->graph;
  const unsigned pin_shard = t->shard;
  store_.OnComplete(shard, failed);
  store_.Release(t, shard);
  graph->Unpin(pin_shard, reaper_.get());
  observer->OnComplete(summary);
  gate_.Leave(shard);  // last: Stop may return once every trace has left
}

bool Runtime::TakeTurn(Trace* t, const Pulse& pulse) {
  std::lock_guard<internal::SpinLock> lock(t->state_lock);
  for (Trace::OrderedSlot& slot : t->ordered) {
    if (slot.node != pulse.node) continue;
    if (!slot.busy) {
      slot.busy = true;
      return true;
    }
    slot.waiting.push_back(pulse);
    return false;
  }
  t->ordered.push_back({pulse.node, true, {}});
  return true;
}

void Runtime::NextInOrder(Trace* t, NodeId node, Worker* worker) {
  Pulse next;
  {
    std::lock_guard<internal::SpinLock> lock(t->state_lock);
    auto slot = std::find_if(t->ordered.begin(), t->ordered.end(),
                             [node](const Trace::OrderedSlot& s) { return s.node == node; });
    if (slot == t->ordered.end()) return;  // an origin's pulse: it never waited
    if (slot->waiting.empty()) {
      slot->busy = false;
      return;
    }
    next = slot->waiting.front();
    slot->waiting.pop_front();
  }
  if (worker != nullptr) {
    worker->Push(next);
    worker->Notify();
  } else {
    Discard(next);
  }
}

void Runtime::Discard(Pulse p) {
  if (p.is_job()) return;  // jobs own themselves
  if ((p.flags & Pulse::kOrderedFlag) != 0) NextInOrder(p.scope->trace, p.node, nullptr);
  p.TakePayload();
  // Only reachable if the scheduler stops with traces in flight; finish them without
  // running anything so their state and origins are released.
  aborting_.store(true, std::memory_order_relaxed);
  ReleaseUnit(p.scope, 0, nullptr);
}

}  // namespace epos
