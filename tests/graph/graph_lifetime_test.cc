// Graph lifetime: trace pins keep a graph alive after its last owner is gone, and the
// last of the owner's release and the unpins deletes it, exactly once.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"

namespace epos {
namespace {

// Counts destructions of the node that owns it, i.e. of the graph.
struct Sentinel {
  explicit Sentinel(std::atomic<int>* deleted) : deleted(deleted) {}
  ~Sentinel() { deleted->fetch_add(1); }
  std::atomic<int>* deleted;
};

std::shared_ptr<const Graph> GraphWithSentinel(std::atomic<int>* deleted) {
  GraphBuilder b;
  auto sentinel = std::make_shared<Sentinel>(deleted);
  b.AddNode("n", "fn", MakeFunctionNode([sentinel](Context&, PortIndex, Value) {}));
  auto g = b.Build();
  EXPECT_TRUE(g) << g.error().message;
  return *g;
}

TEST(GraphLifetimeTest, UnpinnedGraphIsDeletedWithItsLastOwner) {
  std::atomic<int> deleted{0};
  auto g = GraphWithSentinel(&deleted);
  g.reset();
  EXPECT_EQ(deleted.load(), 1);
}

TEST(GraphLifetimeTest, PinsOutliveTheOwnerAndTheLastUnpinDeletes) {
  std::atomic<int> deleted{0};
  auto g = GraphWithSentinel(&deleted);
  const Graph* raw = g.get();
  raw->Pin(0);
  raw->Pin(3);
  raw->Pin(3);
  g.reset();
  EXPECT_EQ(deleted.load(), 0);
  EXPECT_EQ(raw->name(0), "n");  // still readable
  raw->Unpin(3, nullptr);
  raw->Unpin(0, nullptr);
  EXPECT_EQ(deleted.load(), 0);
  raw->Unpin(3, nullptr);
  EXPECT_EQ(deleted.load(), 1);
}

// A retired graph's last unpin hands it to the retirer it is given instead of deleting it
// there (the Runtime's deletes it off the workers).
TEST(GraphLifetimeTest, LastUnpinHandsTheGraphToTheRetirer) {
  struct Collect final : GraphRetirer {
    void Retire(const Graph* graph) override { retired.reset(graph); }
    std::unique_ptr<const Graph> retired;
  } retirer;
  std::atomic<int> deleted{0};
  auto g = GraphWithSentinel(&deleted);
  const Graph* raw = g.get();
  raw->Pin(1);
  raw->Pin(2);
  raw->Unpin(2, &retirer);  // not retired yet: nothing to hand over
  EXPECT_EQ(retirer.retired, nullptr);
  g.reset();
  EXPECT_EQ(deleted.load(), 0);
  raw->Unpin(1, &retirer);
  EXPECT_EQ(retirer.retired.get(), raw);
  EXPECT_EQ(deleted.load(), 0);
  retirer.retired.reset();
  EXPECT_EQ(deleted.load(), 1);
}

// Unpins on several cores race with the owner's release; run under TSan/ASan in CI.
TEST(GraphLifetimeTest, ConcurrentUnpinsAndReleaseDeleteExactlyOnce) {
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> deleted{0};
    auto g = GraphWithSentinel(&deleted);
    const Graph* raw = g.get();
    constexpr int kThreads = 4;
    constexpr int kPins = 50;
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPins; ++i) raw->Pin(t);
    }
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < kPins; ++i) raw->Unpin(t, nullptr);
      });
    }
    go.store(true);
    g.reset();  // races with the unpins
    for (std::thread& th : threads) th.join();
    ASSERT_EQ(deleted.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace epos
