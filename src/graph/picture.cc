#include "epos/graph/picture.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "epos/graph/node.h"
#include "epos/graph/port.h"

namespace epos {
namespace {

constexpr std::string_view kArrow = " \xE2\x86\x92 ";  // " → " in UTF-8

bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }

// Graphviz double-quoted string: `"` and `\` escaped; a newline becomes the label line
// break `\n`; other control characters become spaces so every statement stays on a line.
std::string DotEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += IsControl(c) ? ' ' : c;
    }
  }
  return out;
}

// Mermaid label text: characters that end a label or start markup become entity codes
// (`#` too, so user text cannot spell an entity); a newline becomes `<br>`.
std::string MermaidEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      case '|':
        out += "#124;";
        break;
      case '#':
        out += "#35;";
        break;
      case '&':
        out += "#amp;";
        break;
      case '\n':
        out += "<br>";
        break;
      default:
        out += IsControl(c) ? ' ' : c;
    }
  }
  return out;
}

// Unescaped label lines of an edge: the ports unless they are the default out → in
// ("out[1]", "out → in[2]", "error"), then "when: <guard>" for a guarded edge.
std::vector<std::string> EdgeLines(const Graph::SourcedEdge& e) {
  std::vector<std::string> lines;
  if (e.port != 0 || e.edge.port != 0) {
    std::string ports = OutPortName(e.port);
    if (e.edge.port != 0) ports += std::string(kArrow) + InPortName(e.edge.port);
    lines.push_back(std::move(ports));
  }
  if (e.edge.guard != nullptr) lines.push_back("when: " + std::string(e.edge.guard->text()));
  return lines;
}

template <typename Escape>
std::string JoinEscaped(const std::vector<std::string>& lines, std::string_view line_break,
                        Escape escape) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += line_break;
    out += escape(line);
  }
  return out;
}

// By source, then output port (error last), then wiring order.
std::vector<Graph::SourcedEdge> SortedEdges(const Graph& graph) {
  std::vector<Graph::SourcedEdge> edges = graph.AllEdges();
  std::stable_sort(edges.begin(), edges.end(), [](const auto& a, const auto& b) {
    return a.source != b.source ? a.source < b.source : a.port < b.port;
  });
  return edges;
}

}  // namespace

std::string RenderDot(const Graph& graph) {
  std::string out = "digraph \"" + DotEscape(graph.name_space()) + "\" {\n  rankdir=LR;\n";
  for (NodeId id = 0; id < graph.node_count(); ++id) {
    out += "  n" + std::to_string(id) + " [label=\"" + DotEscape(graph.name(id)) + "\\n(" +
           DotEscape(graph.kind(id)) + ")\"];\n";
  }
  for (const Graph::SourcedEdge& e : SortedEdges(graph)) {
    out += "  n" + std::to_string(e.source) + " -> n" + std::to_string(e.edge.target);
    std::string label = JoinEscaped(EdgeLines(e), "\\n", DotEscape);
    std::string attrs = label.empty() ? "" : "label=\"" + label + "\"";
    if (e.port == kErrorPort) {
      attrs += std::string(attrs.empty() ? "" : ", ") + "style=dashed, color=red, fontcolor=red";
    }
    if (!attrs.empty()) out += " [" + attrs + "]";
    out += ";\n";
  }
  out += "}\n";
  return out;
}

std::string RenderMermaid(const Graph& graph) {
  std::string out = "flowchart LR\n";
  for (NodeId id = 0; id < graph.node_count(); ++id) {
    out += "  n" + std::to_string(id) + "[\"" + MermaidEscape(graph.name(id)) + " (" +
           MermaidEscape(graph.kind(id)) + ")\"]\n";
  }
  for (const Graph::SourcedEdge& e : SortedEdges(graph)) {
    std::string label = JoinEscaped(EdgeLines(e), "<br>", MermaidEscape);
    out += "  n" + std::to_string(e.source) + (e.port == kErrorPort ? " -.->" : " -->");
    // Quoted: Mermaid ends a bare edge label at any bracket, and port names have them.
    if (!label.empty()) out += "|\"" + label + "\"|";
    out += " n" + std::to_string(e.edge.target) + "\n";
  }
  return out;
}

}  // namespace epos
