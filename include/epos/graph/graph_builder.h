// GraphBuilder: assembles nodes and edges and checks the wiring before producing an
// immutable Graph.
//
// Checks, all reported at once by Build (one line each, naming node and port):
// empty or malformed node name ([A-Za-z0-9_.-]+), duplicate name, edge to an unknown
// node, output or input port the node does not have (PortShape), duplicate edge.
//
// Thread-safety: a builder is used by one thread; the Graph it builds is immutable.
#ifndef EPOS_GRAPH_GRAPH_BUILDER_H_
#define EPOS_GRAPH_GRAPH_BUILDER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/status.h"
#include "epos/graph/graph.h"

namespace epos {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name_space = "default", std::uint64_t version = 1);

  // Adds a node; returns its id. A bad or duplicate name is reported by Build.
  NodeId AddNode(std::string name, std::string kind, std::unique_ptr<Node> impl);

  // Declares node `id` ordered (DESIGN.md §4 Ordering): the pulses of one trace are
  // processed by it one at a time, in the order they were emitted. Call before Build.
  void SetOrdered(NodeId id, bool ordered = true);

  // Wires output `out` of `from` to input `in` of `to`, with an optional guard.
  void Connect(NodeId from, PortIndex out, NodeId to, PortIndex in,
               std::unique_ptr<Guard> guard = nullptr);
  // Same, by names ("out", "out[1]", "error"; "in", "in[2]"); unknown names are
  // reported by Build (with a "did you mean" when a node name is close).
  void Connect(std::string_view from, std::string_view out, std::string_view to,
               std::string_view in, std::unique_ptr<Guard> guard = nullptr);

  // Every problem found, one per line in the error message; also in diagnostics().
  [[nodiscard]] Result<std::shared_ptr<const Graph>> Build();
  const std::vector<std::string>& diagnostics() const { return diagnostics_; }

 private:
  struct PendingEdge {
    std::string from, out, to, in;  // by-name form; empty when ids are set
    NodeId from_id = kInvalidNode, to_id = kInvalidNode;
    PortIndex out_port = 0, in_port = 0;
    std::unique_ptr<Guard> guard;
  };

  std::unique_ptr<Graph> graph_;
  std::vector<PendingEdge> edges_;
  std::vector<std::string> diagnostics_;
};

}  // namespace epos

#endif  // EPOS_GRAPH_GRAPH_BUILDER_H_
