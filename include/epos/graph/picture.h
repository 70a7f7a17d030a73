// Pictures of a compiled graph (`epos graph`): Graphviz DOT and Mermaid flowchart text.
//
// Nodes are labelled "name (kind)" under stable ids n<NodeId>. An edge is labelled with
// its ports unless they are the default out → in ("out[1]", "out → in[2]",
// "out[1] → in[2]", "error"), then a line "when: <guard text>" for a guarded edge.
// Edges from `error` are dashed (red in DOT). Labels are escaped for each format, so any
// namespace, kind or guard text yields valid input; a newline in them becomes a line
// break in the label. Output is deterministic: nodes by id, edges by source node, then
// output port (error last), then wiring order.
//
// Thread-safety: reads the immutable Graph only; call from any thread.
#ifndef EPOS_GRAPH_PICTURE_H_
#define EPOS_GRAPH_PICTURE_H_

#include <string>

#include "epos/graph/graph.h"

namespace epos {

// `digraph "namespace" {`, `rankdir=LR;`, then one statement per line:
// `n0 [label="name\n(kind)"];` and `n0 -> n1 [label="..."];`.
std::string RenderDot(const Graph& graph);
// `flowchart LR`, then one line per node (`n0["name (kind)"]`) and per edge
// (`n0 --> n1`, `n0 -->|"label"| n1`, `n0 -.->|"error"| n2`). Characters that break
// Mermaid labels are entity codes (#quot; #lt; #gt; #124; #35; #amp;).
std::string RenderMermaid(const Graph& graph);

}  // namespace epos

#endif  // EPOS_GRAPH_PICTURE_H_
