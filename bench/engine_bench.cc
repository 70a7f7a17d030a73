#include "engine_bench.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"

namespace epos::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

std::int64_t CurrentRssBytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Result<std::shared_ptr<const Graph>> BuildTopology(const EngineBenchOptions& o) {
  GraphBuilder b("bench");
  if (o.topology == "chain") {
    if (o.nodes == 0) return MakeError(ErrorCode::kInvalidArgument, "--nodes must be >= 1");
    NodeId prev = kInvalidNode;
    for (unsigned i = 0; i < o.nodes; ++i) {
      NodeId id = b.AddNode("n" + std::to_string(i), "nop", MakeNopNode());
      if (prev != kInvalidNode) b.Connect(prev, 0, id, 0);
      prev = id;
    }
  } else if (o.topology == "fanout") {
    NodeId source = b.AddNode("source", "nop", MakeNopNode());
    NodeId join = b.AddNode("join", "join", MakeJoinNode());
    NodeId sink = b.AddNode("sink", "nop", MakeNopNode());
    for (PortIndex i = 0; i < 8; ++i) {
      NodeId w = b.AddNode("w" + std::to_string(i), "nop", MakeNopNode());
      b.Connect(source, 0, w, 0);
      b.Connect(w, 0, join, i);
    }
    b.Connect(join, 0, sink, 0);
  } else if (o.topology == "split") {
    NodeId split = b.AddNode("split", "split", MakeSplitNode());
    NodeId work = b.AddNode("work", "nop", MakeNopNode());
    NodeId collect = b.AddNode("collect", "collect", MakeCollectNode());
    b.Connect(split, 0, work, 0);
    b.Connect(work, 0, collect, 0);
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown topology \"" + o.topology + "\" (chain, fanout, split)");
  }
  return b.Build();
}

// Counts outcomes and completed hops; per-worker slots so the counting itself does not
// bounce cache lines between cores.
class CountingObserver final : public TraceObserver {
 public:
  explicit CountingObserver(Scheduler& scheduler) : scheduler_(scheduler), slots_(64) {}
  void OnOutcome(TraceId, Outcome outcome) override {
    if (outcome.kind != Outcome::Kind::kReply) Slot().bad.fetch_add(1, std::memory_order_relaxed);
  }
  // Completions always run on a worker: each slot has a single writer.
  void OnComplete(const TraceSummary& summary) override {
    Counters& c = Slot();
    c.hops.store(c.hops.load(std::memory_order_relaxed) + summary.hops, std::memory_order_relaxed);
  }
  std::uint64_t hops() const {
    std::uint64_t n = 0;
    for (const auto& s : slots_) n += s.hops.load(std::memory_order_relaxed);
    return n;
  }
  std::uint64_t bad() const {
    std::uint64_t n = 0;
    for (const auto& s : slots_) n += s.bad.load(std::memory_order_relaxed);
    return n;
  }

 private:
  struct alignas(64) Counters {
    std::atomic<std::uint64_t> hops{0};
    std::atomic<std::uint64_t> bad{0};
  };
  Counters& Slot() {
    Worker* w = scheduler_.CurrentWorker();
    return slots_[w != nullptr ? (w->index() % 63) : 63];
  }
  Scheduler& scheduler_;
  std::vector<Counters> slots_;
};

// Starts `total` traces in batches, keeping at most `window` of its own in flight, and
// re-queues itself through the injector between batches.
class Generator final : public Job {
 public:
  Generator(Runtime& runtime, std::shared_ptr<const Graph> graph, Value input,
            TraceObserver* observer, std::uint64_t total, std::uint64_t window, bool vary_payload)
      : runtime_(runtime),
        graph_(std::move(graph)),
        input_(std::move(input)),
        observer_(observer),
        total_(total),
        window_(window),
        vary_payload_(vary_payload) {}

  void Run(Worker&) override {
    const std::uint64_t live =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, runtime_.traces().live()));
    const std::uint64_t budget = live >= window_ ? 0 : window_ - live;
    std::uint64_t batch = std::min<std::uint64_t>({budget, 256, total_ - started_});
    for (std::uint64_t i = 0; i < batch; ++i, ++started_) {
      Value payload = vary_payload_ ? Value(static_cast<std::int64_t>(started_)) : input_;
      (void)runtime_.StartTrace(graph_, 0, 0, std::move(payload), observer_);
    }
    if (started_ < total_) runtime_.scheduler().Inject(this);  // injector: after local work
    // The last batch: nothing to do; the runner owns this object.
  }

 private:
  Runtime& runtime_;
  std::shared_ptr<const Graph> graph_;
  Value input_;
  TraceObserver* observer_;
  std::uint64_t total_;
  std::uint64_t window_;
  bool vary_payload_;
  std::uint64_t started_ = 0;
};

void WaitForCompletions(const Runtime& runtime, std::uint64_t target) {
  // A benchmark harness polls; a run lasts far longer than the 100us step.
  while (runtime.traces().completed() < target) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

Result<Value> RunEngineBench(const EngineBenchOptions& o) {
  if (o.workers == 0) return MakeError(ErrorCode::kInvalidArgument, "--workers must be >= 1");
  auto graph = BuildTopology(o);
  if (!graph) return tl::unexpected(graph.error());
  Value input;
  if (o.topology == "split") {
    std::vector<Value> items;
    for (int i = 0; i < 64; ++i) items.emplace_back(i);
    input = Value::Array(std::move(items));
  }
  const bool vary_payload = o.topology != "split";

  Runtime runtime(RuntimeOptions{o.workers, {}});
  CountingObserver observer(runtime.scheduler());
  std::vector<MapEntry> result;

  // Memory probe: start `inflight` traces before the workers run, so every one of them
  // is in flight at once (its record plus its queued pulse), and read the RSS growth.
  std::uint64_t expected = 0;
  if (o.inflight > 0) {
    const std::int64_t before = CurrentRssBytes();
    for (std::uint64_t i = 0; i < o.inflight; ++i) {
      Value payload = vary_payload ? Value(static_cast<std::int64_t>(i)) : input;
      (void)runtime.StartTrace(*graph, 0, 0, std::move(payload), &observer);
    }
    const std::int64_t after = CurrentRssBytes();
    result.push_back({"inflight_traces", Value(static_cast<std::int64_t>(o.inflight))});
    result.push_back({"bytes_per_inflight_trace", Value(static_cast<double>(after - before) /
                                                        static_cast<double>(o.inflight))});
    result.push_back(
        {"trace_record_bytes", Value(static_cast<std::int64_t>(TraceStore::TraceBytes()))});
    expected += o.inflight;
    runtime.Start();
    WaitForCompletions(runtime, expected);
  } else {
    runtime.Start();
  }
  const std::uint64_t hops_before = observer.hops();

  std::vector<std::unique_ptr<Generator>> generators;
  for (unsigned w = 0; w < o.workers; ++w) {
    std::uint64_t share = o.pulses / o.workers + (w < o.pulses % o.workers ? 1 : 0);
    if (share == 0) continue;
    generators.push_back(std::make_unique<Generator>(runtime, *graph, input, &observer, share,
                                                     o.window, vary_payload));
  }
  expected += o.pulses;
  const Clock::time_point start = Clock::now();
  for (auto& g : generators) runtime.scheduler().Submit(g.get());
  WaitForCompletions(runtime, expected);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::uint64_t hops = observer.hops() - hops_before;

  if (o.idle_seconds > 0) {
    const double cpu_before = CpuSeconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
    const double cpu = CpuSeconds() - cpu_before;
    result.push_back({"idle_cpu_percent", Value(100.0 * cpu / o.idle_seconds)});
  }
  runtime.Stop();

  std::vector<MapEntry> head = {
      {"system", Value("epos")},
      {"topology", Value(o.topology)},
      {"workers", Value(static_cast<std::int64_t>(o.workers))},
      {"nodes", Value(static_cast<std::int64_t>(o.topology == "chain" ? o.nodes : 0))},
      {"pulses", Value(static_cast<std::int64_t>(o.pulses))},
      {"hops", Value(static_cast<std::int64_t>(hops))},
      {"seconds", Value(seconds)},
      {"ns_per_hop", Value(hops > 0 ? seconds * 1e9 / static_cast<double>(hops) : 0.0)},
      {"traces_per_s", Value(static_cast<double>(o.pulses) / seconds)},
      {"peak_rss_bytes", Value(PeakRssBytes())},
      {"failed_traces", Value(static_cast<std::int64_t>(observer.bad()))},
  };
  head.insert(head.end(), std::make_move_iterator(result.begin()),
              std::make_move_iterator(result.end()));
  return Value::Map(std::move(head));
}

}  // namespace epos::bench
