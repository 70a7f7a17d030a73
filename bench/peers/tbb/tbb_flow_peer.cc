// The EPOS engine benchmark workloads (`epos bench engine`) built on oneTBB's flow graph, so
// bench/run_engine.sh can print both systems' figures from the same run and their ratio.
//
// What is measured: the wall time from the first try_put to the return of wait_for_all, for
// `pulses` inputs fed by one thread (the arena's own thread) calling try_put in a loop. Graph
// construction and teardown are outside the timed region, and one untimed round of the same
// workload runs first (--warmup): the feeding thread spawns up to pulses x fan-out tasks before
// any runs, and without the warm-up the first touch of that memory (page faults, up to 2 GB for
// fanout) dominates the 1-worker figures. Every node body is trivial, so the figure is the cost
// of the runtime: task creation, scheduling, stealing and message passing.
//
// Usage: epos_tbb_peer --topology chain|fanout|split --nodes N --pulses N --workers N
//                      [--join queueing|key_matching|tag_matching] [--warmup N]
//
// A "hop" is one message delivered to one node body (one EPOS pulse consumed by one node);
// joins that only match messages are not counted. Per input:
//   chain  : N serial function_nodes                                  -> N hops
//   fanout : broadcast (1) + 8 parallel workers (8) + sink after join (1) -> 10 hops
//   split  : splitter (1) + 64 no-op items (64) + 64 collector arrivals  -> 129 hops
//
// Output: one JSON line
//   {"system":"onetbb","topology":..,"workers":..,"nodes":..,"pulses":..,"seconds":..,
//    "ns_per_hop":..,"traces_per_s":..,"peak_rss_bytes":..}
// where nodes is the number of flow-graph nodes built, traces_per_s = pulses / seconds,
// ns_per_hop = seconds * 1e9 / (pulses * hops per input), peak_rss_bytes = ru_maxrss * 1024.
//
// Build: see CMakeLists.txt beside this file, or
//   g++ -O2 -std=c++20 bench/peers/tbb/tbb_flow_peer.cc -ltbb

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

namespace {

namespace flow = oneapi::tbb::flow;

struct Options {
  std::string topology = "chain";
  int nodes = 10;
  std::int64_t pulses = 0;  // 0: the topology's default, see DefaultPulses().
  int workers = 1;
  std::string join = "queueing";
  int warmup = 1;  // Untimed rounds of the whole workload before the timed one.
};

// Defaults sized so each run takes about a second on one core.
std::int64_t DefaultPulses(const std::string& topology) {
  if (topology == "split") return 100'000;
  return 1'000'000;  // chain, fanout
}

// What one workload run reports back to main().
struct Measurement {
  double seconds = 0;
  std::int64_t hops = 0;  // Over the whole run: pulses * hops per input.
  int graph_nodes = 0;
};

// Counts completed inputs. On its own cache line: the sink of every worker hits it.
struct alignas(64) CompletionCounter {
  std::atomic<std::int64_t> count{0};
  void Add(std::int64_t n = 1) { count.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t Get() const { return count.load(std::memory_order_relaxed); }
};

// Runs `feed` (a loop of try_put), then waits for the graph to drain; returns the seconds taken
// by the last of `1 + warmup` such rounds. The warm-up rounds fault in the memory of the tasks
// the feeding thread spawns ahead of execution (up to pulses x fan-out of them: 2 GB for fanout),
// which TBB keeps pooled; without them page faults dominate the 1-worker figures.
template <typename Feed>
double TimeFeed(flow::graph& g, int warmup, Feed&& feed) {
  for (int i = 0; i < warmup; ++i) {
    feed();
    g.wait_for_all();
  }
  const auto start = std::chrono::steady_clock::now();
  feed();
  g.wait_for_all();
  const auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stop - start).count();
}

// Exits with a message when a workload lost or duplicated messages: its figures would be wrong.
void CheckCompleted(const char* topology, std::int64_t completed, std::int64_t expected) {
  if (completed != expected) {
    std::fprintf(stderr, "tbb_flow_peer: %s: %lld inputs completed, expected %lld\n", topology,
                 static_cast<long long>(completed), static_cast<long long>(expected));
    std::exit(1);
  }
}

// chain: N function_nodes in series, unlimited concurrency, each passing its int on; the last
// counts the input as completed. N hops per input.
Measurement RunChain(const Options& opt) {
  flow::graph g;
  CompletionCounter completed;
  std::vector<std::unique_ptr<flow::function_node<int, int>>> chain;
  chain.reserve(opt.nodes);
  for (int i = 0; i < opt.nodes; ++i) {
    const bool last = i + 1 == opt.nodes;
    auto body = [last, &completed](int v) {
      if (last) completed.Add();
      return v;
    };
    chain.push_back(std::make_unique<flow::function_node<int, int>>(g, flow::unlimited, body));
    if (i > 0) flow::make_edge(*chain[i - 1], *chain[i]);
  }
  const double seconds = TimeFeed(g, opt.warmup, [&] {
    for (std::int64_t i = 0; i < opt.pulses; ++i) chain.front()->try_put(static_cast<int>(i));
  });
  CheckCompleted("chain", completed.Get(), opt.pulses * (1 + opt.warmup));
  return {seconds, opt.pulses * opt.nodes, opt.nodes};
}

// fanout: broadcast_node -> 8 function_nodes in parallel -> join_node of the 8 results -> sink.
// Hops per input: the broadcast (1), the 8 workers (8) and the sink (1) = 10; the join only
// pairs messages and is not counted. JoinPolicy is flow::queueing (pairs results in arrival
// order; enough here since only the count matters), or flow::key_matching<int> /
// flow::tag_matching (pair the results of the same input, as an EPOS join within one trace
// does). queueing was the fastest here (see --join), so it is the default.
constexpr int kFanoutWidth = 8;
constexpr int kFanoutHopsPerInput = 1 + kFanoutWidth + 1;

// Connects worker I to input port I of the join (port indices are template arguments).
template <typename Workers, typename Join, std::size_t... I>
void ConnectToJoin(Workers& workers, Join& join, std::index_sequence<I...>) {
  (flow::make_edge(*workers[I], flow::input_port<I>(join)), ...);
}

template <typename JoinPolicy>
Measurement RunFanout(const Options& opt) {
  using Results = std::tuple<int, int, int, int, int, int, int, int>;
  static_assert(std::tuple_size_v<Results> == kFanoutWidth);
  using Join = flow::join_node<Results, JoinPolicy>;

  flow::graph g;
  CompletionCounter completed;
  flow::broadcast_node<int> source(g);
  std::array<std::unique_ptr<flow::function_node<int, int>>, kFanoutWidth> workers;
  for (auto& w : workers) {
    w = std::make_unique<flow::function_node<int, int>>(g, flow::unlimited,
                                                        [](int v) { return v; });
  }
  std::unique_ptr<Join> join;
  if constexpr (std::is_same_v<JoinPolicy, flow::queueing>) {
    join = std::make_unique<Join>(g);
  } else if constexpr (std::is_same_v<JoinPolicy, flow::tag_matching>) {
    const auto tag = [](int v) { return static_cast<flow::tag_value>(v); };
    join = std::make_unique<Join>(g, tag, tag, tag, tag, tag, tag, tag, tag);
  } else {
    const auto key = [](int v) { return v; };
    join = std::make_unique<Join>(g, key, key, key, key, key, key, key, key);
  }
  flow::function_node<Results, flow::continue_msg> sink(g, flow::unlimited,
                                                        [&completed](const Results&) {
                                                          completed.Add();
                                                          return flow::continue_msg();
                                                        });
  for (auto& w : workers) flow::make_edge(source, *w);
  ConnectToJoin(workers, *join, std::make_index_sequence<kFanoutWidth>());
  flow::make_edge(*join, sink);

  const double seconds = TimeFeed(g, opt.warmup, [&] {
    for (std::int64_t i = 0; i < opt.pulses; ++i) source.try_put(static_cast<int>(i));
  });
  CheckCompleted("fanout", completed.Get(), opt.pulses * (1 + opt.warmup));
  return {seconds, opt.pulses * kFanoutHopsPerInput, 1 + kFanoutWidth + 1 + 1};
}

// split: each input is a 64-element array; a multifunction_node splits it into 64 items, each
// goes through a no-op function_node, and a collector gathers the 64 results of the input back
// into one array in index order (the EPOS split -> node -> collect shape).
// Hops per input: the split (1) + 64 no-op items (64) + 64 arrivals at the collector = 129.
//
// The collector runs with unlimited concurrency: each item carries a pointer to its input's
// Frame, arrivals write their slot and count down, and the last arrival completes the input
// and frees the Frame. This is the concurrent equivalent of a map keyed by input id, without
// the map lookup, i.e. the fastest collector this workload allows on TBB.
constexpr int kSplitWidth = 64;
constexpr int kSplitHopsPerInput = 1 + kSplitWidth + kSplitWidth;

struct Frame {
  std::atomic<int> pending{kSplitWidth};
  std::array<int, kSplitWidth> gathered{};
};

struct Item {
  Frame* frame;  // Owned by the input's in-flight items; freed by the last arrival.
  int index;
  int value;
};

using Batch = std::shared_ptr<const std::vector<int>>;

Measurement RunSplit(const Options& opt) {
  flow::graph g;
  CompletionCounter completed;
  std::atomic<std::int64_t> checksum{0};  // Keeps the gathered arrays observable.

  using Splitter = flow::multifunction_node<Batch, std::tuple<Item>>;
  Splitter split(g, flow::unlimited, [](const Batch& batch, Splitter::output_ports_type& out) {
    // Ownership passes to the 64 items; the collector's last arrival deletes the frame.
    Frame* frame = std::make_unique<Frame>().release();
    for (int i = 0; i < kSplitWidth; ++i) std::get<0>(out).try_put(Item{frame, i, (*batch)[i]});
  });
  flow::function_node<Item, Item> noop(g, flow::unlimited, [](const Item& item) { return item; });
  flow::function_node<Item, flow::continue_msg> collect(
      g, flow::unlimited, [&completed, &checksum](const Item& item) {
        item.frame->gathered[item.index] = item.value;
        // acq_rel: the last arrival must see every other arrival's slot write.
        if (item.frame->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::unique_ptr<Frame> frame(item.frame);
          checksum.fetch_add(frame->gathered.back(), std::memory_order_relaxed);
          completed.Add();
        }
        return flow::continue_msg();
      });
  flow::make_edge(flow::output_port<0>(split), noop);
  flow::make_edge(noop, collect);

  const double seconds = TimeFeed(g, opt.warmup, [&] {
    for (std::int64_t i = 0; i < opt.pulses; ++i) {
      // Each input carries its own array, as each request of an EPOS trace would.
      auto batch = std::make_shared<std::vector<int>>(kSplitWidth);
      for (int k = 0; k < kSplitWidth; ++k) (*batch)[k] = static_cast<int>(i) + k;
      split.try_put(Batch(std::move(batch)));
    }
  });
  CheckCompleted("split", completed.Get(), opt.pulses * (1 + opt.warmup));
  return {seconds, opt.pulses * kSplitHopsPerInput, 3};
}

Measurement Run(const Options& opt) {
  if (opt.topology == "chain") return RunChain(opt);
  if (opt.topology == "fanout") {
    if (opt.join == "tag_matching") return RunFanout<flow::tag_matching>(opt);
    if (opt.join == "key_matching") return RunFanout<flow::key_matching<int>>(opt);
    return RunFanout<flow::queueing>(opt);
  }
  return RunSplit(opt);
}

std::int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB on Linux.
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"oneTBB flow-graph peer of `epos bench engine`; prints one JSON line"};
  app.add_option("--topology", opt.topology, "Workload shape")
      ->check(CLI::IsMember({"chain", "fanout", "split"}))
      ->capture_default_str();
  app.add_option("--nodes", opt.nodes, "Chain length (chain only)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--pulses", opt.pulses,
                 "Inputs fed; default 1000000 for chain and fanout, 100000 for split")
      ->check(CLI::PositiveNumber);
  app.add_option("--workers", opt.workers, "Threads, the feeding thread included")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--join", opt.join, "fanout join policy (queueing was the faster here)")
      ->check(CLI::IsMember({"queueing", "key_matching", "tag_matching"}))
      ->capture_default_str();
  app.add_option("--warmup", opt.warmup,
                 "Untimed rounds of the whole workload before the timed one")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (opt.pulses == 0) opt.pulses = DefaultPulses(opt.topology);
  if (opt.pulses > std::numeric_limits<int>::max()) {
    std::fprintf(stderr, "tbb_flow_peer: --pulses must fit an int (payloads are int)\n");
    return 2;
  }

  // Caps TBB's whole thread pool, then runs everything in an arena of that many slots; the
  // calling thread takes one slot, so `workers` threads in all execute graph tasks.
  oneapi::tbb::global_control parallelism(oneapi::tbb::global_control::max_allowed_parallelism,
                                          static_cast<std::size_t>(opt.workers));
  oneapi::tbb::task_arena arena(opt.workers);
  Measurement m;
  // The graph must be built inside the arena: it attaches to the arena it is constructed in.
  arena.execute([&] { m = Run(opt); });

  nlohmann::ordered_json out;
  out["system"] = "onetbb";
  out["topology"] = opt.topology;
  out["workers"] = opt.workers;
  out["nodes"] = m.graph_nodes;
  out["pulses"] = opt.pulses;
  out["seconds"] = m.seconds;
  out["ns_per_hop"] = m.seconds * 1e9 / static_cast<double>(m.hops);
  out["traces_per_s"] = static_cast<double>(opt.pulses) / m.seconds;
  out["peak_rss_bytes"] = PeakRssBytes();
  std::cout << out.dump() << std::endl;
  return 0;
}
