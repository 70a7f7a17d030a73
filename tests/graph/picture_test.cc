// Tests of the DOT and Mermaid pictures of a graph: exact text, escaping, ordering.
#include "epos/graph/picture.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "epos/graph/graph.h"
#include "epos/graph/graph_builder.h"
#include "epos/graph/node.h"
#include "epos/nodes/control.h"

namespace epos {
namespace {

std::unique_ptr<Guard> Guarded(std::string text) {
  return MakeGuard([](const Value&) { return true; }, std::move(text));
}

std::unique_ptr<Node> Shaped(PortShape shape) {
  return MakeFunctionNode([](Context&, PortIndex, Value) {}, shape);
}

std::shared_ptr<const Graph> BuildOrDie(GraphBuilder& b) {
  auto g = b.Build();
  EXPECT_TRUE(g) << g.error().message;
  return g ? *g : nullptr;
}

// split → collect (guarded), split error → reply, collect → reply; wired out of order.
std::shared_ptr<const Graph> SplitCollect() {
  GraphBuilder b("shop");
  b.AddNode("split", "split", MakeSplitNode());
  b.AddNode("collect", "collect", MakeCollectNode());
  b.AddNode("reply", "reply", MakeReplyNode());
  b.Connect("collect", "out", "reply", "in");
  b.Connect("split", "error", "reply", "in");
  b.Connect("split", "out", "collect", "in", Guarded("payload.n > 3"));
  return BuildOrDie(b);
}

// The hostile parts: namespace, kind and guard text (node names are [A-Za-z0-9_.-]+).
std::shared_ptr<const Graph> Hostile() {
  GraphBuilder b("ns\"1\\2\n3");
  b.AddNode("x", "q\"b\\s<l>|p#e&n\nt\tu", Shaped({1, 1, true}));
  b.AddNode("y", "nop", MakeNopNode());
  b.Connect("x", "out", "y", "in", Guarded("a == \"1|2\" \\ b<c\nd"));
  b.Connect("x", "error", "y", "in", Guarded("ok"));
  return BuildOrDie(b);
}

// Every combination of default and indexed ports, wired out of order.
std::shared_ptr<const Graph> Indexed() {
  GraphBuilder b("idx");
  b.AddNode("a", "fn", Shaped({PortShape::kAny, PortShape::kAny, true}));
  b.AddNode("b", "fn", Shaped({PortShape::kAny, PortShape::kAny, true}));
  b.Connect("a", "out[1]", "b", "in[2]");
  b.Connect("a", "out", "b", "in[2]");
  b.Connect("a", "out[1]", "b", "in");
  b.Connect("a", "out", "b", "in");
  return BuildOrDie(b);
}

TEST(PictureDotTest, SplitCollectReply) {
  auto g = SplitCollect();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderDot(*g), R"pic(digraph "shop" {
  rankdir=LR;
  n0 [label="split\n(split)"];
  n1 [label="collect\n(collect)"];
  n2 [label="reply\n(reply)"];
  n0 -> n1 [label="when: payload.n > 3"];
  n0 -> n2 [label="error", style=dashed, color=red, fontcolor=red];
  n1 -> n2;
}
)pic");
}

TEST(PictureMermaidTest, SplitCollectReply) {
  auto g = SplitCollect();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderMermaid(*g), R"pic(flowchart LR
  n0["split (split)"]
  n1["collect (collect)"]
  n2["reply (reply)"]
  n0 -->|"when: payload.n #gt; 3"| n1
  n0 -.->|"error"| n2
  n1 --> n2
)pic");
}

TEST(PictureDotTest, EscapesHostileText) {
  auto g = Hostile();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderDot(*g), R"pic(digraph "ns\"1\\2\n3" {
  rankdir=LR;
  n0 [label="x\n(q\"b\\s<l>|p#e&n\nt u)"];
  n1 [label="y\n(nop)"];
  n0 -> n1 [label="when: a == \"1|2\" \\ b<c\nd"];
  n0 -> n1 [label="error\nwhen: ok", style=dashed, color=red, fontcolor=red];
}
)pic");
}

TEST(PictureMermaidTest, EscapesHostileText) {
  auto g = Hostile();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderMermaid(*g), R"pic(flowchart LR
  n0["x (q#quot;b\s#lt;l#gt;#124;p#35;e#amp;n<br>t u)"]
  n1["y (nop)"]
  n0 -->|"when: a == #quot;1#124;2#quot; \ b#lt;c<br>d"| n1
  n0 -.->|"error<br>when: ok"| n1
)pic");
}

TEST(PictureDotTest, EmptyGraph) {
  GraphBuilder b("empty");
  auto g = BuildOrDie(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderDot(*g), "digraph \"empty\" {\n  rankdir=LR;\n}\n");
}

TEST(PictureMermaidTest, EmptyGraph) {
  GraphBuilder b("empty");
  auto g = BuildOrDie(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderMermaid(*g), "flowchart LR\n");
}

TEST(PictureDotTest, IndexedPorts) {
  auto g = Indexed();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderDot(*g), R"pic(digraph "idx" {
  rankdir=LR;
  n0 [label="a\n(fn)"];
  n1 [label="b\n(fn)"];
  n0 -> n1 [label="out → in[2]"];
  n0 -> n1;
  n0 -> n1 [label="out[1] → in[2]"];
  n0 -> n1 [label="out[1]"];
}
)pic");
}

TEST(PictureMermaidTest, IndexedPorts) {
  auto g = Indexed();
  ASSERT_TRUE(g);
  EXPECT_EQ(RenderMermaid(*g), R"pic(flowchart LR
  n0["a (fn)"]
  n1["b (fn)"]
  n0 -->|"out → in[2]"| n1
  n0 --> n1
  n0 -->|"out[1] → in[2]"| n1
  n0 -->|"out[1]"| n1
)pic");
}

}  // namespace
}  // namespace epos
