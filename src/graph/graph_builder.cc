#include "epos/graph/graph_builder.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "epos/core/text.h"

namespace epos {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

}  // namespace

GraphBuilder::GraphBuilder(std::string name_space, std::uint64_t version) : graph_(new Graph()) {
  graph_->namespace_ = std::move(name_space);
  graph_->version_ = version;
}

NodeId GraphBuilder::AddNode(std::string name, std::string kind, std::unique_ptr<Node> impl) {
  auto id = static_cast<NodeId>(graph_->nodes_.size());
  if (!ValidName(name)) {
    diagnostics_.push_back("node \"" + name + "\": name must match [A-Za-z0-9_.-]+");
  } else if (!graph_->by_name_.emplace(name, id).second) {
    diagnostics_.push_back("node \"" + name + "\": duplicate name in namespace \"" +
                           graph_->namespace_ + "\"");
  }
  Graph::NodeInfo info;
  info.shape = impl ? impl->ports() : PortShape{};
  info.name = std::move(name);
  info.kind = std::move(kind);
  info.impl = std::move(impl);
  graph_->nodes_.push_back(std::move(info));
  return id;
}

void GraphBuilder::SetOrdered(NodeId id, bool ordered) { graph_->nodes_[id].ordered = ordered; }

void GraphBuilder::Connect(NodeId from, PortIndex out, NodeId to, PortIndex in,
                           std::unique_ptr<Guard> guard) {
  PendingEdge e;
  e.from_id = from;
  e.to_id = to;
  e.out_port = out;
  e.in_port = in;
  e.guard = std::move(guard);
  edges_.push_back(std::move(e));
}

void GraphBuilder::Connect(std::string_view from, std::string_view out, std::string_view to,
                           std::string_view in, std::unique_ptr<Guard> guard) {
  PendingEdge e;
  e.from = from;
  e.out = out;
  e.to = to;
  e.in = in;
  e.guard = std::move(guard);
  edges_.push_back(std::move(e));
}

Result<std::shared_ptr<const Graph>> GraphBuilder::Build() {
  Graph& g = *graph_;
  auto hint = [&](std::string_view name) -> std::string {
    std::string best;
    std::size_t best_distance = 3;  // only suggest close names
    for (const auto& [candidate, id] : g.by_name_) {
      std::size_t d = EditDistance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
  };

  for (std::size_t i = 0; i < g.nodes_.size(); ++i) {
    if (!g.nodes_[i].impl)
      diagnostics_.push_back("node \"" + g.nodes_[i].name + "\": no implementation");
  }

  // Resolve names and check ports against each node's shape.
  struct Resolved {
    NodeId from;
    PortIndex out;
    NodeId to;
    PortIndex in;
    std::unique_ptr<Guard> guard;
  };
  std::vector<Resolved> resolved;
  for (PendingEdge& e : edges_) {
    bool ok = true;
    if (e.from_id == kInvalidNode) {
      e.from_id = g.Find(e.from);
      if (e.from_id == kInvalidNode) {
        diagnostics_.push_back("edge from \"" + e.from + "\": unknown node" + hint(e.from));
        ok = false;
      }
      if (auto port = ParseOutPort(e.out)) {
        e.out_port = *port;
      } else {
        diagnostics_.push_back("node \"" + e.from + "\": " + port.error().message);
        ok = false;
      }
      e.to_id = g.Find(e.to);
      if (e.to_id == kInvalidNode) {
        diagnostics_.push_back("node \"" + e.from + "\" port " + e.out + ": target \"" + e.to +
                               "\" not found" + hint(e.to));
        ok = false;
      }
      if (auto port = ParseInPort(e.in)) {
        e.in_port = *port;
      } else {
        diagnostics_.push_back("node \"" + e.from + "\" → \"" + e.to +
                               "\": " + port.error().message);
        ok = false;
      }
    } else if (e.from_id >= g.nodes_.size() || e.to_id >= g.nodes_.size()) {
      diagnostics_.push_back("edge with unknown node id");
      ok = false;
    }
    if (!ok) continue;
    const Graph::NodeInfo& src = g.nodes_[e.from_id];
    const Graph::NodeInfo& dst = g.nodes_[e.to_id];
    if (e.out_port == kErrorPort
            ? !src.shape.error_port
            : (e.out_port > kMaxPortIndex ||
               (src.shape.outputs != PortShape::kAny && e.out_port >= src.shape.outputs))) {
      diagnostics_.push_back("node \"" + src.name + "\" (" + src.kind + ") has no output port " +
                             OutPortName(e.out_port));
      continue;
    }
    if (e.in_port > kMaxPortIndex ||
        (dst.shape.inputs != PortShape::kAny && e.in_port >= dst.shape.inputs)) {
      diagnostics_.push_back("node \"" + dst.name + "\" (" + dst.kind + ") has no input port " +
                             InPortName(e.in_port));
      continue;
    }
    resolved.push_back({e.from_id, e.out_port, e.to_id, e.in_port, std::move(e.guard)});
  }
  edges_.clear();

  // Duplicate edges (same ports, neither guarded) would deliver every pulse twice.
  {
    std::set<std::tuple<NodeId, PortIndex, NodeId, PortIndex>> seen;
    for (const Resolved& r : resolved) {
      if (r.guard) continue;
      if (!seen.emplace(r.from, r.out, r.to, r.in).second) {
        diagnostics_.push_back("node \"" + g.nodes_[r.from].name + "\" port " + OutPortName(r.out) +
                               ": duplicate edge to \"" + g.nodes_[r.to].name + "\" " +
                               InPortName(r.in));
      }
    }
  }

  if (!diagnostics_.empty()) {
    std::string message;
    for (const std::string& d : diagnostics_) {
      if (!message.empty()) message += '\n';
      message += d;
    }
    return MakeError(ErrorCode::kInvalidArgument, std::move(message));
  }

  // Lay out port slots: each node gets out_ports slots (enough for every connected or
  // declared out[i]) plus one for error.
  for (Graph::NodeInfo& n : g.nodes_) {
    PortIndex declared = n.shape.outputs == PortShape::kAny ? 0 : n.shape.outputs;
    n.out_ports = declared;
  }
  for (const Resolved& r : resolved) {
    if (r.out != kErrorPort) {
      Graph::NodeInfo& n = g.nodes_[r.from];
      n.out_ports = std::max<PortIndex>(n.out_ports, r.out + 1);
    }
    std::vector<PortIndex>& inputs = g.nodes_[r.to].connected_inputs;
    if (std::find(inputs.begin(), inputs.end(), r.in) == inputs.end()) inputs.push_back(r.in);
  }
  std::uint32_t slots = 0;
  for (Graph::NodeInfo& n : g.nodes_) {
    std::sort(n.connected_inputs.begin(), n.connected_inputs.end());
    n.port_base = slots;
    slots += n.out_ports + 1;
  }
  auto slot_of = [&](NodeId node, PortIndex port) {
    const Graph::NodeInfo& n = g.nodes_[node];
    return port == kErrorPort ? n.port_base + n.out_ports : n.port_base + port;
  };
  std::stable_sort(resolved.begin(), resolved.end(), [&](const Resolved& a, const Resolved& b) {
    return slot_of(a.from, a.out) < slot_of(b.from, b.out);
  });
  for (const Graph::NodeInfo& n : g.nodes_) {
    g.hot_.push_back(Graph::HotNode{n.impl.get(), n.port_base, n.out_ports});
  }
  g.port_edges_.assign(slots, Graph::PortEdges{0, 0});
  g.edges_.reserve(resolved.size());
  std::size_t i = 0;
  for (std::uint32_t slot = 0; slot < slots; ++slot) {
    auto begin = static_cast<std::uint32_t>(g.edges_.size());
    while (i < resolved.size() && slot_of(resolved[i].from, resolved[i].out) == slot) {
      Resolved& r = resolved[i++];
      g.edges_.push_back(Edge{r.to, r.in, g.nodes_[r.to].ordered, r.guard.get()});
      if (r.guard) g.guards_.push_back(std::move(r.guard));
    }
    g.port_edges_[slot] = {begin, static_cast<std::uint32_t>(g.edges_.size())};
  }
  std::shared_ptr<const Graph> built(graph_.release(), &Graph::Release);
  graph_.reset(new Graph());
  return built;
}

}  // namespace epos
