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

void Graph::Unpin(unsigned shard) const {
  pins_[shard % kPinShards].count.fetch_sub(1, std::memory_order_seq_cst);
  if (released_.load(std::memory_order_seq_cst) && Unpinned() &&
      !deleting_.exchange(true, std::memory_order_acq_rel)) {
    delete this;
  }
}

void Graph::Release(const Graph* graph) {
  graph->released_.store(true, std::memory_order_seq_cst);
  if (graph->Unpinned() && !graph->deleting_.exchange(true, std::memory_order_acq_rel)) {
    delete graph;
  }
}

bool Graph::Unpinned() const {
  for (const PinCount& p : pins_) {
    if (p.count.load(std::memory_order_seq_cst) != 0) return false;
  }
  return true;
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
