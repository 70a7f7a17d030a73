#include "epos/exec/context.h"

#include <algorithm>
#include <cassert>

#include "epos/exec/runtime.h"
#include "trace_internal.h"

namespace epos {

using internal::Scope;
using internal::Trace;

void internal::PulseBuffer::Grow() {
  std::unique_ptr<Pulse[]> bigger(new Pulse[capacity_ * 2]);
  std::copy(data_.get(), data_.get() + size_, bigger.get());
  data_ = std::move(bigger);
  capacity_ *= 2;
}

void AsyncOp::Deliver(PortIndex port, Value payload) {
  assert(armed());
  internal::AsyncSlot* slot = std::exchange(slot_, nullptr);
  if (slot->state.exchange(internal::AsyncSlot::kClaimed, std::memory_order_acq_rel) ==
      internal::AsyncSlot::kArmed) {
    // Ours to settle: the runtime is alive until OpDone (Stop waits for settlements in
    // progress), and it no longer lists the operation once AsyncSettled returns.
    Runtime* runtime = slot->runtime;
    runtime->AsyncSettled(slot);
    Pulse p = slot->pulse;
    p.port = port;
    p.segment = 1;
    p.SetPayload(std::move(payload));
    // The operation's unit passes to this pulse.
    runtime->scheduler().Submit(p);
    runtime->OpDone();  // last: the runtime may be destroyed from here on
  }
  // Else the runtime cancelled it and gave its unit back: the result has nowhere to go.
  slot->Unref();
}

std::stop_token AsyncOp::stop_token() {
  assert(armed());
  return slot_->runtime->AsyncStopToken(slot_);
}

TraceId Context::trace_id() const { return trace_->id; }

std::uint32_t Context::frame_count() const { return scope_->count; }

std::size_t Context::frame_depth() const {
  std::size_t depth = 0;
  for (const Scope* s = scope_; s->parent != nullptr; s = s->parent) ++depth;
  return depth;
}

namespace {
std::uint8_t OrderedFlag(const Edge& e) { return e.ordered ? Pulse::kOrderedFlag : 0; }
}  // namespace

void Context::EmitInFrame(PortIndex port, Value payload, Scope* scope, std::uint32_t index) {
  std::span<const Edge> edges = graph_->edges(node_, port);
  if (edges.empty()) {
    // A leaf: an out-type port replies; an unconnected error port fails the trace.
    if (port == kErrorPort) {
      runtime_->FailTrace(trace_, std::move(payload));
    } else {
      runtime_->DeliverReply(trace_, std::move(payload));
    }
    return;
  }
  // Copies share the payload's body; the last crossing edge takes the original.
  const Edge* last = nullptr;
  for (const Edge& e : edges) {
    if (e.guard != nullptr && !e.guard->Holds(payload)) continue;
    if (last != nullptr) {
      RawValue raw = Value(payload).Leak();
      outbox_.push_back(
          Pulse{raw.bits, raw.kind, OrderedFlag(*last), last->port, last->target, scope, index, 0});
    }
    last = &e;
  }
  if (last != nullptr) {
    RawValue raw = std::move(payload).Leak();
    outbox_.push_back(
        Pulse{raw.bits, raw.kind, OrderedFlag(*last), last->port, last->target, scope, index, 0});
  }
}

void Context::EmitSplit(PortIndex port, std::span<const Value> items) {
  if (items.empty()) return;
  std::span<const Edge> edges = graph_->edges(node_, port);
  if (edges.empty()) {
    for (const Value& item : items) EmitInFrame(port, item, scope_, index_);  // replies
    return;
  }
  auto* child = new Scope();
  child->state.store(1, std::memory_order_relaxed);  // creation unit, see Dispatch
  child->parent = scope_;
  child->trace = trace_;
  child->parent_index = index_;
  child->count = static_cast<std::uint32_t>(items.size());
  child->base_hops = scope_->base_hops + scope_->hops() + segment_;
  created_scopes_.push_back(child);
  if (edges.size() == 1 && edges[0].guard == nullptr) {  // one plain edge: a tight loop
    const Edge& e = edges[0];
    for (std::uint32_t i = 0; i < items.size(); ++i) {
      RawValue raw = Value(items[i]).Leak();
      outbox_.push_back(Pulse{raw.bits, raw.kind, OrderedFlag(e), e.port, e.target, child, i, 0});
    }
    return;
  }
  for (std::uint32_t i = 0; i < items.size(); ++i) EmitInFrame(port, items[i], child, i);
}

void Context::EmitToParent(PortIndex port, Value payload) {
  if (scope_->parent == nullptr) {
    Emit(port, std::move(payload));
  } else {
    EmitInFrame(port, std::move(payload), scope_->parent, scope_->parent_index);
  }
}

void Context::Reply(Value payload) { runtime_->DeliverReply(trace_, std::move(payload)); }

Value Context::ErrorValue(std::string_view message) const {
  return Value::Map(
      {{"error", Value(message)}, {"node", Value(node_name())}, {"kind", Value(node_kind())}});
}

void Context::Fail(std::string_view message) { Emit(kErrorPort, ErrorValue(message)); }

void Context::FailWith(Value error) {
  std::vector<MapEntry> entries;
  if (error.IsMap()) {
    entries.assign(error.AsMap().begin(), error.AsMap().end());
  } else {
    entries.push_back({"error", error});
  }
  if (error.Find("node") == nullptr) entries.push_back({"node", Value(node_name())});
  if (error.Find("kind") == nullptr) entries.push_back({"kind", Value(node_kind())});
  Emit(kErrorPort, Value::Map(std::move(entries)));
}

Context::StateLock::StateLock(Context& ctx) : ctx_(ctx) { ctx_.trace_->state_lock.lock(); }

Context::StateLock::~StateLock() { ctx_.trace_->state_lock.unlock(); }

NodeState* Context::StateLock::FindRaw(StateKey key) {
  const std::uint32_t index = key == StateKey::kScope ? internal::kWholeScope : ctx_.index_;
  for (const internal::StateEntry& e : ctx_.trace_->states) {
    if (e.node == ctx_.node_ && e.scope == ctx_.scope_ && e.index == index) return e.state.get();
  }
  return nullptr;
}

void Context::StateLock::InsertRaw(StateKey key, std::unique_ptr<NodeState> state) {
  const std::uint32_t index = key == StateKey::kScope ? internal::kWholeScope : ctx_.index_;
  auto& states = ctx_.trace_->states;
  if (states.capacity() == 0) states.reserve(4);
  states.push_back({ctx_.node_, ctx_.scope_, index, std::move(state)});
  ctx_.scope_->has_state = true;
  ctx_.runtime_->traces().OnStateCreated(ctx_.shard_);
}

std::unique_ptr<NodeState> Context::StateLock::Take(StateKey key) {
  const std::uint32_t index = key == StateKey::kScope ? internal::kWholeScope : ctx_.index_;
  auto& states = ctx_.trace_->states;
  for (std::size_t i = 0; i < states.size(); ++i) {
    internal::StateEntry& e = states[i];
    if (e.node == ctx_.node_ && e.scope == ctx_.scope_ && e.index == index) {
      std::unique_ptr<NodeState> state = std::move(e.state);
      e = std::move(states.back());
      states.pop_back();
      ctx_.runtime_->traces().OnStatesFreed(ctx_.shard_, 1);
      return state;
    }
  }
  return nullptr;
}

AsyncOp Context::BeginAsync() {
  // Counted now, not at dispatch: the operation may complete before this node returns.
  scope_->AddUnits(1);
  Pulse p{};
  p.node = node_;
  p.scope = scope_;
  p.index = index_;
  auto* slot = new internal::AsyncSlot(runtime_, p);
  runtime_->AsyncBegun(slot);
  return AsyncOp(slot);
}

Status Context::RunBlocking(UniqueFunction<Result<Value>()> fn) {
  AsyncOp op = BeginAsync();
  // If the pool refuses, the task (and the op in it) is destroyed: the op is abandoned.
  return runtime_->blocking_pool().Submit([fn = std::move(fn), op = std::move(op)]() mutable {
    Result<Value> result = fn();
    if (result) {
      op.Resume(std::move(*result));
    } else {
      op.ResumeError(result.error().message);
    }
  });
}

void Context::StartTimer(std::chrono::nanoseconds delay, Value payload) {
  AsyncOp op = BeginAsync();
  TimerService::Handle handle =
      runtime_->timers().After(delay, [op = std::move(op), payload = std::move(payload)](
                                          bool) mutable { op.Resume(std::move(payload)); });
  {
    std::lock_guard<internal::SpinLock> lock(trace_->state_lock);
    trace_->timers.push_back(handle);
  }
  // The trace may have failed while this node ran, after it swept its timers.
  if (trace_->failed.load(std::memory_order_acquire)) runtime_->CancelTimers(trace_);
}

}  // namespace epos
