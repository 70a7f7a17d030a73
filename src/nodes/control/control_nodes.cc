#include <algorithm>
#include <optional>
#include <vector>

#include "epos/nodes/control.h"

namespace epos {
namespace {

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

struct CollectState final : NodeState {
  explicit CollectState(std::uint32_t count) : items(count) {}
  std::vector<std::optional<Value>> items;  // by frame index; arrival order at top level
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
        state->items.emplace_back(std::move(payload));
        return;
      }
      std::optional<Value>& slot = state->items[ctx.frame_index()];
      if (!slot) {
        slot = std::move(payload);
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
    std::vector<Value> items;
    items.reserve(state.items.size());
    for (std::optional<Value>& item : state.items) {
      if (item) items.push_back(std::move(*item));
    }
    ctx.EmitToParent(0, Value::Array(std::move(items)));
  }
};

struct JoinState final : NodeState {
  explicit JoinState(std::size_t ports) : slots(ports) {}
  std::vector<std::vector<Value>> slots;  // FIFO per connected port
  std::size_t filled = 0;                 // slots with at least one pulse
};

class JoinNode final : public Node {
 public:
  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    const std::vector<PortIndex>& inputs = ctx.graph().info(ctx.node()).connected_inputs;
    auto position = std::lower_bound(inputs.begin(), inputs.end(), port);
    if (position == inputs.end() || *position != port) return;  // cannot happen
    const auto slot = static_cast<std::size_t>(position - inputs.begin());
    Value joined;
    {
      auto lock = ctx.LockState();
      auto* state = lock.Find<JoinState>();
      if (state == nullptr) state = &lock.Emplace<JoinState>(StateKey::kFrame, inputs.size());
      std::vector<Value>& queue = state->slots[slot];
      if (queue.empty()) ++state->filled;
      queue.push_back(std::move(payload));
      if (state->filled < inputs.size()) return;
      std::vector<Value> round;
      round.reserve(inputs.size());
      state->filled = 0;
      for (std::vector<Value>& q : state->slots) {
        round.push_back(std::move(q.front()));
        q.erase(q.begin());
        if (!q.empty()) ++state->filled;
      }
      bool empty = std::all_of(state->slots.begin(), state->slots.end(),
                               [](const auto& q) { return q.empty(); });
      if (empty) lock.Take();
      joined = Value::Array(std::move(round));
    }
    ctx.Emit(0, std::move(joined));
  }

  void OnQuiescent(Context& ctx, std::unique_ptr<NodeState> state) override {
    auto& join = static_cast<JoinState&>(*state);
    const std::vector<PortIndex>& inputs = ctx.graph().info(ctx.node()).connected_inputs;
    std::vector<Value> missing;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (join.slots[i].empty()) missing.emplace_back(static_cast<std::int64_t>(inputs[i]));
    }
    if (missing.empty()) return;
    ctx.FailWith(Value::Map({{"error", Value("join incomplete")},
                             {"missing", Value::Array(std::move(missing))}}));
  }

  PortShape ports() const override { return {PortShape::kAny, 1, true}; }
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
