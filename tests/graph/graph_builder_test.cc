// Tests of port names, GraphBuilder's wiring checks, and the built Graph's lookups.
#include "epos/graph/graph_builder.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/graph/graph.h"
#include "epos/graph/node.h"
#include "epos/graph/port.h"
#include "epos/nodes/control.h"

namespace epos {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A node with a declared shape that does nothing.
std::unique_ptr<Node> Shaped(PortShape shape) {
  return MakeFunctionNode([](Context&, PortIndex, Value) {}, shape);
}

// --- Port names -------------------------------------------------------------------

TEST(PortNameTest, ParsesOutputPorts) {
  ASSERT_TRUE(ParseOutPort("out"));
  EXPECT_EQ(*ParseOutPort("out"), 0);
  EXPECT_EQ(*ParseOutPort("out[0]"), 0);
  EXPECT_EQ(*ParseOutPort("out[3]"), 3);
  EXPECT_EQ(*ParseOutPort("out[4095]"), kMaxPortIndex);
  EXPECT_EQ(*ParseOutPort("error"), kErrorPort);
}

TEST(PortNameTest, ParsesInputPorts) {
  EXPECT_EQ(*ParseInPort("in"), 0);
  EXPECT_EQ(*ParseInPort("in[0]"), 0);
  EXPECT_EQ(*ParseInPort("in[2]"), 2);
  EXPECT_EQ(*ParseInPort("in[4095]"), kMaxPortIndex);
}

TEST(PortNameTest, RejectsBadNames) {
  for (const char* bad : {"", "outt", "Out", "out[]", "out[", "out]", "out[-1]", "out[+1]", "out[1",
                          "out[a]", "out[1]x", "out [1]", "out[ 1]", "out[4096]",
                          "out[99999999999999999999]", "error[0]", "errors", "in", "in[1]"}) {
    auto port = ParseOutPort(bad);
    EXPECT_FALSE(port) << "accepted out port \"" << bad << "\"";
    if (!port) {
      EXPECT_EQ(port.error().code, ErrorCode::kInvalidArgument);
      EXPECT_TRUE(Contains(port.error().message, "\"" + std::string(bad) + "\""))
          << port.error().message;
    }
  }
  for (const char* bad :
       {"", "inn", "In", "in[]", "in[x]", "in[4096]", "out", "error", "in[2", "in(2)"}) {
    EXPECT_FALSE(ParseInPort(bad)) << "accepted in port \"" << bad << "\"";
  }
}

TEST(PortNameTest, NamesRoundTrip) {
  EXPECT_EQ(OutPortName(0), "out");
  EXPECT_EQ(OutPortName(3), "out[3]");
  EXPECT_EQ(OutPortName(kErrorPort), "error");
  EXPECT_EQ(InPortName(0), "in");
  EXPECT_EQ(InPortName(2), "in[2]");
  for (PortIndex p : {PortIndex{0}, PortIndex{1}, PortIndex{7}, kMaxPortIndex, kErrorPort}) {
    EXPECT_EQ(*ParseOutPort(OutPortName(p)), p);
  }
  for (PortIndex p : {PortIndex{0}, PortIndex{1}, PortIndex{9}, kMaxPortIndex}) {
    EXPECT_EQ(*ParseInPort(InPortName(p)), p);
  }
}

// --- Builder checks ---------------------------------------------------------------

TEST(GraphBuilderTest, BuildsAValidGraph) {
  GraphBuilder b("shop", 7);
  NodeId a = b.AddNode("a", "nop", MakeNopNode());
  NodeId c = b.AddNode("c.d-e_1", "nop", MakeNopNode());
  b.Connect("a", "out", "c.d-e_1", "in");
  auto g = b.Build();
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_TRUE(b.diagnostics().empty());
  EXPECT_EQ((*g)->name_space(), "shop");
  EXPECT_EQ((*g)->version(), 7u);
  EXPECT_EQ((*g)->node_count(), 2u);
  EXPECT_EQ((*g)->name(a), "a");
  EXPECT_EQ((*g)->kind(c), "nop");
  ASSERT_EQ((*g)->edges(a, 0).size(), 1u);
  EXPECT_EQ((*g)->edges(a, 0)[0].target, c);
}

TEST(GraphBuilderTest, RejectsDuplicateNames) {
  GraphBuilder b("ns");
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("a", "nop", MakeNopNode());
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(g.error().message, "node \"a\": duplicate name in namespace \"ns\""))
      << g.error().message;
  EXPECT_EQ(b.diagnostics().size(), 1u);
}

TEST(GraphBuilderTest, RejectsBadNameCharacters) {
  for (const char* bad : {"", "a b", "a/b", "a:b", "ä", "a\nb", "{{x}}", "a[0]"}) {
    GraphBuilder b;
    b.AddNode(bad, "nop", MakeNopNode());
    auto g = b.Build();
    EXPECT_FALSE(g) << "accepted node name \"" << bad << "\"";
    if (!g) {
      EXPECT_TRUE(Contains(g.error().message, "[A-Za-z0-9_.-]+")) << g.error().message;
    }
  }
  GraphBuilder ok;
  ok.AddNode("Az09_.-", "nop", MakeNopNode());
  EXPECT_TRUE(ok.Build());
}

TEST(GraphBuilderTest, UnknownTargetSuggestsCloseName) {
  GraphBuilder b;
  b.AddNode("source", "nop", MakeNopNode());
  b.AddNode("process", "nop", MakeNopNode());
  b.Connect("source", "out", "procss", "in");
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "target \"procss\" not found")) << g.error().message;
  EXPECT_TRUE(Contains(g.error().message, "did you mean \"process\"?")) << g.error().message;
}

TEST(GraphBuilderTest, UnknownTargetWithoutCloseNameHasNoHint) {
  GraphBuilder b;
  b.AddNode("source", "nop", MakeNopNode());
  b.Connect("source", "out", "completely_different", "in");
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "\"completely_different\" not found"));
  EXPECT_FALSE(Contains(g.error().message, "did you mean")) << g.error().message;
}

TEST(GraphBuilderTest, UnknownSourceIsReported) {
  GraphBuilder b;
  b.AddNode("sink", "nop", MakeNopNode());
  b.Connect("snk", "out", "sink", "in");
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "\"snk\": unknown node")) << g.error().message;
  EXPECT_TRUE(Contains(g.error().message, "did you mean \"sink\"?")) << g.error().message;
}

TEST(GraphBuilderTest, BadPortNamesAreReported) {
  GraphBuilder b;
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("b", "nop", MakeNopNode());
  b.Connect("a", "outt", "b", "in");
  b.Connect("a", "out", "b", "inn");
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "\"outt\"")) << g.error().message;
  EXPECT_TRUE(Contains(g.error().message, "\"inn\"")) << g.error().message;
  EXPECT_EQ(b.diagnostics().size(), 2u);
}

TEST(GraphBuilderTest, PortTheNodeDoesNotHave) {
  GraphBuilder b;
  NodeId two_out = b.AddNode("two_out", "fn", Shaped({1, 2, false}));
  NodeId one_in = b.AddNode("one_in", "fn", Shaped({1, 1, true}));
  b.AddNode("reply", "reply", MakeReplyNode());
  b.Connect("two_out", "out[1]", "one_in", "in");  // fine
  b.Connect("two_out", "out[2]", "one_in", "in");  // no out[2]
  b.Connect("two_out", "error", "one_in", "in");   // no error port
  b.Connect("two_out", "out", "one_in", "in[1]");  // no in[1]
  b.Connect("reply", "out", "one_in", "in");       // reply has no outputs
  b.Connect(two_out, kResumePort, one_in, 0);      // reserved index, by id
  b.Connect(two_out, 0, one_in, kResumePort);      // reserved index, by id
  auto g = b.Build();
  ASSERT_FALSE(g);
  const std::string& m = g.error().message;
  EXPECT_TRUE(Contains(m, "node \"two_out\" (fn) has no output port out[2]")) << m;
  EXPECT_TRUE(Contains(m, "node \"two_out\" (fn) has no output port error")) << m;
  EXPECT_TRUE(Contains(m, "node \"one_in\" (fn) has no input port in[1]")) << m;
  EXPECT_TRUE(Contains(m, "node \"reply\" (reply) has no output port out")) << m;
  EXPECT_EQ(b.diagnostics().size(), 6u) << m;
}

TEST(GraphBuilderTest, AnyShapeAcceptsEveryIndexedPort) {
  GraphBuilder b;
  NodeId fan = b.AddNode("fan", "fn", Shaped({1, PortShape::kAny, true}));
  NodeId join = b.AddNode("join", "join", MakeJoinNode());
  b.Connect("fan", "out[9]", "join", "in[4000]");
  b.Connect("fan", "out", "join", "in");
  auto g = b.Build();
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ((*g)->info(fan).out_ports, 10);
  EXPECT_EQ((*g)->edges(fan, 9).size(), 1u);
  EXPECT_TRUE((*g)->edges(fan, 5).empty());
  EXPECT_TRUE((*g)->edges(fan, 10).empty());  // beyond the slots: a leaf
  EXPECT_EQ((*g)->info(join).connected_inputs, (std::vector<PortIndex>{0, 4000}));
}

TEST(GraphBuilderTest, RejectsDuplicateEdge) {
  GraphBuilder b;
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("b", "nop", MakeNopNode());
  b.Connect("a", "out", "b", "in");
  b.Connect("a", "out", "b", "in");
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "node \"a\" port out: duplicate edge to \"b\" in"))
      << g.error().message;
}

TEST(GraphBuilderTest, GuardedEdgesToTheSamePortAreNotDuplicates) {
  GraphBuilder b;
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("b", "nop", MakeNopNode());
  b.Connect("a", "out", "b", "in", MakeGuard([](const Value&) { return true; }, "x"));
  b.Connect("a", "out", "b", "in", MakeGuard([](const Value&) { return false; }, "y"));
  EXPECT_TRUE(b.Build());
}

// An edge repeated with another edge of the same port in between delivers every pulse
// twice just the same, so it must be reported too.
TEST(GraphBuilderTest, RejectsDuplicateEdgeThatIsNotAdjacent) {
  GraphBuilder b;
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("b", "nop", MakeNopNode());
  b.AddNode("c", "nop", MakeNopNode());
  b.Connect("a", "out", "b", "in");
  b.Connect("a", "out", "c", "in");
  b.Connect("a", "out", "b", "in");
  auto g = b.Build();
  EXPECT_FALSE(g) << "a→b wired twice was accepted";
  if (!g) {
    EXPECT_TRUE(Contains(g.error().message, "duplicate edge to \"b\"")) << g.error().message;
  }
}

TEST(GraphBuilderTest, ReportsAllErrorsAtOnce) {
  GraphBuilder b;
  b.AddNode("a", "nop", MakeNopNode());
  b.AddNode("a", "nop", MakeNopNode());         // 1 duplicate
  b.AddNode("bad name", "nop", MakeNopNode());  // 2 bad characters
  b.AddNode("r", "reply", MakeReplyNode());
  b.AddNode("empty", "nop", nullptr);      // 3 no implementation
  b.Connect("a", "out", "nowhere", "in");  // 4 unknown target
  b.Connect("a", "out[x]", "r", "in");     // 5 bad port name
  b.Connect("r", "out", "a", "in");        // 6 port the node does not have
  b.Connect("a", "out", "r", "in");
  b.Connect("a", "out", "r", "in");  // 7 duplicate edge
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_EQ(b.diagnostics().size(), 7u) << g.error().message;
  // One line per problem, in the message as in diagnostics().
  std::string joined;
  for (const std::string& d : b.diagnostics()) joined += (joined.empty() ? "" : "\n") + d;
  EXPECT_EQ(g.error().message, joined);
  EXPECT_TRUE(Contains(g.error().message, "duplicate name"));
  EXPECT_TRUE(Contains(g.error().message, "\"bad name\""));
  EXPECT_TRUE(Contains(g.error().message, "no implementation"));
  EXPECT_TRUE(Contains(g.error().message, "\"nowhere\" not found"));
  EXPECT_TRUE(Contains(g.error().message, "\"out[x]\""));
  EXPECT_TRUE(Contains(g.error().message, "has no output port out"));
  EXPECT_TRUE(Contains(g.error().message, "duplicate edge"));
}

TEST(GraphBuilderTest, UnknownNodeIdIsReported) {
  GraphBuilder b;
  NodeId a = b.AddNode("a", "nop", MakeNopNode());
  b.Connect(a, 0, NodeId{42}, 0);
  auto g = b.Build();
  ASSERT_FALSE(g);
  EXPECT_TRUE(Contains(g.error().message, "unknown node id")) << g.error().message;
}

// --- Built graph ------------------------------------------------------------------

TEST(GraphTest, EdgesKeepConnectOrderAndGuards) {
  GraphBuilder b;
  NodeId src = b.AddNode("src", "fn", Shaped({1, 3, true}));
  NodeId x = b.AddNode("x", "nop", MakeNopNode());
  NodeId y = b.AddNode("y", "nop", MakeNopNode());
  NodeId j = b.AddNode("j", "join", MakeJoinNode());
  b.Connect("src", "out", "y", "in");
  b.Connect("src", "out[2]", "j", "in[3]");
  b.Connect("src", "out", "x", "in",
            MakeGuard([](const Value& v) { return v.IsInt(); }, "payload is int"));
  b.Connect("src", "error", "j", "in[1]");
  b.Connect("x", "out", "j", "in[1]");
  b.Connect(y, 0, j, 0);
  auto built = b.Build();
  ASSERT_TRUE(built) << built.error().message;
  const Graph& g = **built;

  auto out0 = g.edges(src, 0);
  ASSERT_EQ(out0.size(), 2u);
  EXPECT_EQ(out0[0].target, y);
  EXPECT_EQ(out0[0].port, 0);
  EXPECT_EQ(out0[0].guard, nullptr);
  EXPECT_EQ(out0[1].target, x);
  ASSERT_NE(out0[1].guard, nullptr);
  EXPECT_EQ(out0[1].guard->text(), "payload is int");
  EXPECT_TRUE(out0[1].guard->Holds(Value(3)));
  EXPECT_FALSE(out0[1].guard->Holds(Value("3")));

  EXPECT_TRUE(g.edges(src, 1).empty());  // declared, unconnected: a leaf
  ASSERT_EQ(g.edges(src, 2).size(), 1u);
  EXPECT_EQ(g.edges(src, 2)[0].port, 3);
  ASSERT_EQ(g.edges(src, kErrorPort).size(), 1u);
  EXPECT_EQ(g.edges(src, kErrorPort)[0].target, j);
  EXPECT_EQ(g.edges(src, kErrorPort)[0].port, 1);
  EXPECT_TRUE(g.edges(j, 0).empty());
  EXPECT_TRUE(g.edges(j, kErrorPort).empty());
  EXPECT_TRUE(g.edges(src, 3).empty());  // no such slot

  // Connected inputs: sorted, each once, whatever port the edge came from.
  EXPECT_EQ(g.info(j).connected_inputs, (std::vector<PortIndex>{0, 1, 3}));
  EXPECT_EQ(g.info(x).connected_inputs, (std::vector<PortIndex>{0}));
  EXPECT_TRUE(g.info(src).connected_inputs.empty());

  EXPECT_EQ(g.Find("src"), src);
  EXPECT_EQ(g.Find("j"), j);
  EXPECT_EQ(g.Find("nope"), kInvalidNode);
  EXPECT_EQ(g.Find(""), kInvalidNode);

  auto all = g.AllEdges();
  ASSERT_EQ(all.size(), 6u);
  int error_edges = 0;
  for (const auto& e : all) {
    if (e.port == kErrorPort) {
      ++error_edges;
      EXPECT_EQ(e.source, src);
    }
  }
  EXPECT_EQ(error_edges, 1);
}

}  // namespace
}  // namespace epos
