#include <algorithm>
#include <vector>

#include "epos/nodes/control.h"

namespace epos {
namespace {

// Per-thread free lists for the per-trace state of collect and join: one is created and
// destroyed per trace (per frame), often more than glibc's per-thread cache holds.
// A record freed on another worker simply joins that worker's list (all one size).
template <class T>
struct Pooled {
  static void* operator new(std::size_t size) {
    FreeList& list = List();
    if (size == sizeof(T) && !list.blocks.empty()) {
      void* block = list.blocks.back();
      list.blocks.pop_back();
      return block;
    }
    return ::operator new(size);
  }
  static void operator delete(void* block, std::size_t size) {
    FreeList& list = List();
    if (size == sizeof(T) && list.blocks.size() < kMaxPooled) {
      list.blocks.push_back(block);
    } else {
      ::operator delete(block);
    }
  }

 private:
  static constexpr std::size_t kMaxPooled = 4096;
  struct FreeList {
    std::vector<void*> blocks;
    ~FreeList() {
      for (void* block : blocks) ::operator delete(block);
    }
  };
  static FreeList& List() {
    thread_local FreeList list;
    return list;
  }
};

class NopNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex, Value payload) override { ctx.Emit(0, std::move(payload)); }
  PortShape ports() const override { return {1, 1, false}; }
};

class SplitNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    if (!payload.IsArray()) {
      ctx.Fail("split expects an array, got " + std::string(ValueKindName(payload.kind())));
      return;
    }
    ctx.EmitSplit(0, payload.AsArray());
  }
};

struct CollectState final : NodeState, Pooled<CollectState> {
  explicit CollectState(std::uint32_t count) : items(count), present(count, 0) {}
  std::vector<Value> items;           // by frame index; arrival order outside any split
  std::vector<std::uint8_t> present;  // which indices arrived (null is an item too)
  std::uint32_t received = 0;
};

class CollectNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    const std::uint32_t count = ctx.frame_count();
    std::unique_ptr<NodeState> done;
    {
      auto lock = ctx.LockState();
      auto* state = lock.Find<CollectState>(StateKey::kScope);
      if (state == nullptr) state = &lock.Emplace<CollectState>(StateKey::kScope, count);
      if (count == 0) {  // outside any split: keep arrival order, emit at quiescence
        state->items.push_back(std::move(payload));
        state->present.push_back(1);
        return;
      }
      const std::uint32_t index = ctx.frame_index();
      if (state->present[index] == 0) {  // a second pulse for an element is ignored
        state->present[index] = 1;
        state->items[index] = std::move(payload);
        if (++state->received == count) done = lock.Take(StateKey::kScope);
      }
    }
    if (done) Emit(ctx, static_cast<CollectState&>(*done));
  }

  void OnQuiescent(Context& ctx, std::unique_ptr<NodeState> state) override {
    Emit(ctx, static_cast<CollectState&>(*state));
  }

  PortShape ports() const override { return {1, 1, false}; }

 private:
  static void Emit(Context& ctx, CollectState& state) {
    if (state.received != state.items.size() && ctx.frame_count() != 0) {
      // Some elements were dropped: keep the others, in index order.
      std::size_t kept = 0;
      for (std::size_t i = 0; i < state.items.size(); ++i) {
        if (state.present[i]) state.items[kept++] = std::move(state.items[i]);
      }
      state.items.resize(kept);
    }
    ctx.EmitToParent(0, Value::Array(std::move(state.items)));
  }
};

// One slot per connected input; a second pulse on a filled slot waits in `overflow`
// for the next round (rare: loops feeding a join). Which slots are filled: a bit mask
// for up to 64 inputs, a byte vector beyond.
struct JoinState final : NodeState, Pooled<JoinState> {
  explicit JoinState(std::size_t ports) : slots(ports) {
    if (ports > 64) wide.assign(ports, 0);
  }
  bool filled(std::size_t i) const { return wide.empty() ? ((mask >> i) & 1) != 0 : wide[i] != 0; }
  void set_filled(std::size_t i) {
    if (wide.empty()) {
      mask |= std::uint64_t{1} << i;
    } else {
      wide[i] = 1;
    }
  }
  void clear_filled() {
    mask = 0;
    std::fill(wide.begin(), wide.end(), 0);
  }
  std::vector<Value> slots;
  std::uint64_t mask = 0;
  std::vector<std::uint8_t> wide;
  std::size_t count = 0;  // filled slots
  std::vector<std::pair<std::size_t, Value>> overflow;
};

class JoinNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    const std::vector<PortIndex>& inputs = ctx.graph().info(ctx.node()).connected_inputs;
    std::size_t slot = port;  // inputs are usually in[0..n-1]
    if (slot >= inputs.size() || inputs[slot] != port) {
      auto position = std::lower_bound(inputs.begin(), inputs.end(), port);
      if (position == inputs.end() || *position != port) return;  // not a wired port
      slot = static_cast<std::size_t>(position - inputs.begin());
    }
    Value joined;
    {
      auto lock = ctx.LockState();
      auto* state = lock.Find<JoinState>();
      if (state == nullptr) state = &lock.Emplace<JoinState>(StateKey::kFrame, inputs.size());
      if (state->filled(slot)) {
        state->overflow.emplace_back(slot, std::move(payload));
        return;
      }
      state->set_filled(slot);
      state->slots[slot] = std::move(payload);
      if (++state->count < inputs.size()) return;
      if (state->overflow.empty()) {
        joined = Value::Array(std::move(state->slots));
        lock.Take();
      } else {
        joined = Value::Array(std::vector<Value>(state->slots));
        Refill(*state);
        if (state->count == 0) lock.Take();
      }
    }
    ctx.Emit(0, std::move(joined));
  }

  void OnQuiescent(Context& ctx, std::unique_ptr<NodeState> state) override {
    auto& join = static_cast<JoinState&>(*state);
    const std::vector<PortIndex>& inputs = ctx.graph().info(ctx.node()).connected_inputs;
    std::vector<Value> missing;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!join.filled(i)) missing.emplace_back(static_cast<std::int64_t>(inputs[i]));
    }
    if (missing.empty()) return;
    ctx.FailWith(Value::Map(
        {{"error", Value("join incomplete")}, {"missing", Value::Array(std::move(missing))}}));
  }

  PortShape ports() const override { return {PortShape::kAny, 1, true}; }

 private:
  // Starts the next round from the queued pulses, oldest first per slot.
  static void Refill(JoinState& state) {
    state.clear_filled();
    state.count = 0;
    std::vector<std::pair<std::size_t, Value>> rest;
    for (auto& [slot, value] : state.overflow) {
      if (state.filled(slot)) {
        rest.emplace_back(slot, std::move(value));
      } else {
        state.set_filled(slot);
        state.slots[slot] = std::move(value);
        ++state.count;
      }
    }
    state.overflow = std::move(rest);
  }
};

class ReplyNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex, Value payload) override { ctx.Reply(std::move(payload)); }
  PortShape ports() const override { return {1, 0, false}; }
};

class ThrowNode final : public Node {
 public:
  explicit ThrowNode(std::string message) : message_(std::move(message)) {}
  void OnPulse(Context& ctx, PortIndex, Value) override { ctx.Fail(message_); }
  PortShape ports() const override { return {1, 0, true}; }

 private:
  std::string message_;
};

class SleepNode final : public Node {
 public:
  explicit SleepNode(std::chrono::nanoseconds duration) : duration_(duration) {}
  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    if (port == kResumePort) {
      ctx.Emit(0, std::move(payload));
    } else {
      ctx.StartTimer(duration_, std::move(payload));
    }
  }
  PortShape ports() const override { return {1, 1, false}; }

 private:
  std::chrono::nanoseconds duration_;
};

class FunctionNode final : public Node {
 public:
  FunctionNode(NodeFunction fn, PortShape shape) : fn_(std::move(fn)), shape_(shape) {}
  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    fn_(ctx, port, std::move(payload));
  }
  PortShape ports() const override { return shape_; }

 private:
  NodeFunction fn_;
  PortShape shape_;
};

}  // namespace

std::unique_ptr<Node> MakeNopNode() { return std::make_unique<NopNode>(); }
std::unique_ptr<Node> MakeSplitNode() { return std::make_unique<SplitNode>(); }
std::unique_ptr<Node> MakeCollectNode() { return std::make_unique<CollectNode>(); }
std::unique_ptr<Node> MakeJoinNode() { return std::make_unique<JoinNode>(); }
std::unique_ptr<Node> MakeReplyNode() { return std::make_unique<ReplyNode>(); }
std::unique_ptr<Node> MakeThrowNode(std::string message) {
  return std::make_unique<ThrowNode>(std::move(message));
}
std::unique_ptr<Node> MakeSleepNode(std::chrono::nanoseconds duration) {
  return std::make_unique<SleepNode>(duration);
}
std::unique_ptr<Node> MakeFunctionNode(NodeFunction fn, PortShape shape) {
  return std::make_unique<FunctionNode>(std::move(fn), shape);
}

}  // namespace epos
