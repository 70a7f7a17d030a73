// Graph: one compiled namespace, immutable (DESIGN.md §2 "the map").
//
// Nodes are numbered 0..node_count()-1 in the order they were added. Each node has
// numbered output ports (out[i]) plus `error`; each output port has a list of edges to
// (target node, input port) with an optional guard. The edge lists live in one flat
// array so the emit path touches few cache lines.
//
// Thread-safety: immutable after GraphBuilder::Build; shared read-only by every worker
// through std::shared_ptr<const Graph>. A new version of a namespace is a new Graph;
// traces keep the version they started on.
//
// Lifetime: owners hold std::shared_ptr<const Graph>; traces pin the graph without
// touching that shared count (one atomic per trace on a line every worker writes would
// bounce between cores). Each trace adds one to the pin counter of the shard (worker)
// that started it and removes it from the same counter when it completes, so counters
// are per-core and exact per shard. When the last shared_ptr goes, Release moves every
// shard's count into one `remaining_` counter (marking the shard retired), so the last
// of the release and the remaining unpins deletes the graph — exactly one of them, and
// nobody reads the graph after that. No trace can start after the last owner is gone
// (starting needs a shared_ptr), so retired shards only count down.
//
// Retirement: the graph's destructor destroys its nodes, and a node may hold what takes
// time to let go of (an HTTP client joining its I/O thread, a database pool closing). So an
// Unpin that lets go of the last pin hands the graph to the GraphRetirer it is given (the
// Runtime's, which deletes graphs on a thread of its own), never deleting it in place on a
// worker or an I/O thread; the last shared_ptr owner, by contrast, deletes in place (the
// owners are the threads that activate graphs, which may block).
#ifndef EPOS_GRAPH_GRAPH_H_
#define EPOS_GRAPH_GRAPH_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "epos/graph/node.h"
#include "epos/graph/port.h"

namespace epos {

struct Edge {
  NodeId target;
  PortIndex port;      // input port of the target
  bool ordered;        // the target is `ordered: true` (DESIGN.md §4 Ordering)
  const Guard* guard;  // nullptr: always crosses; owned by the Graph
};

class Graph;

// Takes graphs whose last pin went away, to delete them where blocking is harmless.
// Thread-safety: Retire may be called from any thread at once.
class GraphRetirer {
 public:
  virtual ~GraphRetirer() = default;
  // Takes ownership of `graph`: no one else holds it any more.
  virtual void Retire(const Graph* graph) = 0;
};

class Graph {
 public:
  struct NodeInfo {
    std::string name;
    std::string kind;
    std::unique_ptr<Node> impl;
    PortShape shape;
    // `ordered: true`: the pulses of one trace run on this node one at a time, in the
    // order they were emitted (DESIGN.md §4 Ordering).
    bool ordered = false;
    // Connected input ports, ascending (a join waits for one pulse on each).
    std::vector<PortIndex> connected_inputs;
    std::uint32_t port_base = 0;  // index of out[0] in port_edges_
    PortIndex out_ports = 0;      // number of out[i] slots; error is at port_base+out_ports
  };

  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  ~Graph();

  std::string_view name_space() const { return namespace_; }
  std::uint64_t version() const { return version_; }

  std::size_t node_count() const { return nodes_.size(); }
  const NodeInfo& info(NodeId id) const { return nodes_[id]; }
  Node& node(NodeId id) const { return *hot_[id].impl; }
  const std::string& name(NodeId id) const { return nodes_[id].name; }
  const std::string& kind(NodeId id) const { return nodes_[id].kind; }
  // kInvalidNode when absent.
  NodeId Find(std::string_view name) const;

  // Edges leaving output `port` of `node`; empty when unconnected (a leaf).
  std::span<const Edge> edges(NodeId id, PortIndex port) const {
    const HotNode& n = hot_[id];
    std::uint32_t slot;
    if (port < n.out_ports) {
      slot = n.port_base + port;
    } else if (port == kErrorPort) {
      slot = n.port_base + n.out_ports;
    } else {
      return {};
    }
    const PortEdges& pe = port_edges_[slot];
    return {edges_.data() + pe.begin, pe.end - pe.begin};
  }

  // Every edge, for pictures and validation: (source, output port, edge).
  struct SourcedEdge {
    NodeId source;
    PortIndex port;
    Edge edge;
  };
  std::vector<SourcedEdge> AllEdges() const;

  // Trace pins (see Lifetime above); used by the Runtime. `shard` is any small integer
  // identifying the calling core; Unpin must get the same shard as the matching Pin. The
  // Unpin that lets go of a retired graph's last pin hands it to `retirer` (or deletes it
  // in place when that is nullptr).
  void Pin(unsigned shard) const {
    pins_[shard % kPinShards].count.fetch_add(1, std::memory_order_relaxed);
  }
  void Unpin(unsigned shard, GraphRetirer* retirer) const;

 private:
  friend class GraphBuilder;
  Graph() = default;
  // The shared_ptr deleter: the last owner is gone.
  static void Release(const Graph* graph);

  static constexpr unsigned kPinShards = 64;
  struct alignas(64) PinCount {
    std::atomic<std::int64_t> count{0};
  };
  // A retired shard holds kRetired minus the unpins that came after its retirement.
  static constexpr std::int64_t kRetired = std::int64_t{1} << 62;
  // Held in remaining_ until Release has moved every shard's count there, so unpins
  // racing with Release cannot bring it to zero early.
  static constexpr std::int64_t kReleaseGuard = std::int64_t{1} << 40;
  mutable std::array<PinCount, kPinShards> pins_;
  mutable std::atomic<std::int64_t> remaining_{kReleaseGuard};

  struct PortEdges {
    std::uint32_t begin;
    std::uint32_t end;
  };

  // What the hot path reads per hop, 16 bytes per node (NodeInfo is cold).
  struct HotNode {
    Node* impl;
    std::uint32_t port_base;
    PortIndex out_ports;
  };

  std::string namespace_;
  std::uint64_t version_ = 0;
  std::vector<HotNode> hot_;
  std::vector<NodeInfo> nodes_;
  std::vector<PortEdges> port_edges_;
  std::vector<Edge> edges_;
  std::vector<std::unique_ptr<Guard>> guards_;
  std::unordered_map<std::string, NodeId> by_name_;
};

}  // namespace epos

#endif  // EPOS_GRAPH_GRAPH_H_
