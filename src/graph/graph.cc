#include "epos/graph/graph.h"

#include <charconv>

namespace epos {
namespace {

Result<PortIndex> ParsePort(std::string_view name, std::string_view base) {
  if (name == base) return PortIndex{0};
  // base[index]
  if (name.size() > base.size() + 2 && name.substr(0, base.size()) == base &&
      name[base.size()] == '[' && name.back() == ']') {
    std::string_view digits = name.substr(base.size() + 1, name.size() - base.size() - 2);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && end == digits.data() + digits.size() && value <= kMaxPortIndex) {
      return static_cast<PortIndex>(value);
    }
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "bad port name \"" + std::string(name) + "\" (expected " + std::string(base) +
                       " or " + std::string(base) +
                       "[N] with N <= " + std::to_string(kMaxPortIndex) + ")");
}

class FunctionGuard final : public Guard {
 public:
  FunctionGuard(std::function<bool(const Value&)> predicate, std::string text)
      : predicate_(std::move(predicate)), text_(std::move(text)) {}
  bool Holds(const Value& payload) const override { return predicate_(payload); }
  std::string_view text() const override { return text_; }

 private:
  std::function<bool(const Value&)> predicate_;
  std::string text_;
};

}  // namespace

Result<PortIndex> ParseOutPort(std::string_view name) {
  if (name == "error") return kErrorPort;
  return ParsePort(name, "out");
}

Result<PortIndex> ParseInPort(std::string_view name) { return ParsePort(name, "in"); }

std::string OutPortName(PortIndex port) {
  if (port == kErrorPort) return "error";
  return port == 0 ? "out" : "out[" + std::to_string(port) + "]";
}

std::string InPortName(PortIndex port) {
  return port == 0 ? "in" : "in[" + std::to_string(port) + "]";
}

std::unique_ptr<Guard> MakeGuard(std::function<bool(const Value&)> predicate, std::string text) {
  return std::make_unique<FunctionGuard>(std::move(predicate), std::move(text));
}

Graph::~Graph() = default;

void Graph::Unpin(unsigned shard, GraphRetirer* retirer) const {
  const std::int64_t old = pins_[shard % kPinShards].count.fetch_sub(1, std::memory_order_acq_rel);
  if (old < kRetired / 2) return;  // shard not retired: its count is all there is
  // Retired: this pin was moved into remaining_ by Release.
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (retirer != nullptr) {
    retirer->Retire(this);
  } else {
    delete this;
  }
}

void Graph::Release(const Graph* graph) {
  std::int64_t pinned = 0;
  for (PinCount& p : graph->pins_) {
    pinned += p.count.exchange(kRetired, std::memory_order_acq_rel);
  }
  // Drop the guard, keeping the pins just moved; whoever brings remaining_ to zero
  // (this, or the last unpin) deletes.
  const std::int64_t drop = kReleaseGuard - pinned;
  if (graph->remaining_.fetch_sub(drop, std::memory_order_acq_rel) == drop) delete graph;
}

NodeId Graph::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kInvalidNode : it->second;
}

std::vector<Graph::SourcedEdge> Graph::AllEdges() const {
  std::vector<SourcedEdge> all;
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    const NodeInfo& n = nodes_[id];
    for (PortIndex p = 0; p < n.out_ports; ++p) {
      for (const Edge& e : edges(id, p)) all.push_back({id, p, e});
    }
    for (const Edge& e : edges(id, kErrorPort)) all.push_back({id, kErrorPort, e});
  }
  return all;
}

}  // namespace epos
