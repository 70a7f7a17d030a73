// The C++ example of README.md, kept compiling and true.
#include <gtest/gtest.h>

#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"

namespace epos {
namespace {

TEST(ReadmeExampleTest, SplitDoubleCollectAnswersTheCaller) {
  Runtime runtime;
  runtime.Start();
  GraphBuilder b;
  auto split = b.AddNode("split", "split", MakeSplitNode());
  auto twice = b.AddNode(
      "twice", "function",
      MakeFunctionNode([](Context& ctx, PortIndex, Value v) { ctx.Emit(0, v.AsInt() * 2); }));
  auto gather = b.AddNode("gather", "collect", MakeCollectNode());
  b.Connect(split, 0, twice, 0);
  b.Connect(twice, 0, gather, 0);
  auto graph = b.Build();
  ASSERT_TRUE(graph) << graph.error().message;
  auto outcome = runtime.Call(*graph, split, 0, Value::Array({1, 2, 3})).get();
  EXPECT_EQ(outcome.kind, Outcome::Kind::kReply);
  EXPECT_EQ(outcome.value, Value::Array({2, 4, 6}));
  runtime.Stop();
  EXPECT_EQ(runtime.traces().live(), 0);
  EXPECT_EQ(runtime.traces().state_entries(), 0);
}

}  // namespace
}  // namespace epos
