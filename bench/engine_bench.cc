#include "engine_bench.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/nodes/control.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"
#include "epos/spec/scheme.h"
#include "epos/spec/template.h"

namespace epos::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

// The runtime is not stopping and the topology's entry node and port are valid, so
// StartTrace cannot fail here; if it did, the run would wait forever for that trace.
void CheckStarted(const Result<TraceId>& id) {
  if (!id) {
    std::fprintf(stderr, "epos bench engine: trace not started: %s\n", id.error().message.c_str());
    std::abort();
  }
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

// Guards of the `guards` topology: exactly one of the 8 holds for any integer n.
constexpr int kGuardEdges = 8;

// What a generator gives each trace it starts.
enum class PayloadMode : std::uint8_t {
  kFixed,     // the same Value every time (shared, never copied)
  kCounter,   // the trace's index as an int
  kGuardMap,  // a fresh map {n: index, source: "bench", ok: true} per trace
};

Value MakePayload(PayloadMode mode, const Value& fixed, std::uint64_t index) {
  switch (mode) {
    case PayloadMode::kFixed:
      return fixed;
    case PayloadMode::kCounter:
      return Value(static_cast<std::int64_t>(index));
    case PayloadMode::kGuardMap:
      return Value::Map({{"n", Value(static_cast<std::int64_t>(index))},
                         {"source", Value("bench")},
                         {"ok", Value(true)}});
  }
  return fixed;
}

struct Topology {
  std::shared_ptr<const Graph> graph;
  NodeId start = 0;
};

// The YAML a user would write for the Lua topologies (DESIGN.md §3).
std::string TopologyYaml(const EngineBenchOptions& o) {
  std::string y;
  if (o.topology == "lua-chain") {
    for (unsigned i = 0; i < o.nodes; ++i) {
      y += "- kind: snippet\n  name: n" + std::to_string(i) +
           "\n  code: \"return function(payload, ctx) return payload + 1 end\"\n";
      if (i + 1 < o.nodes)
        y += "  ports:\n    out:\n      - name: n" + std::to_string(i + 1) + "\n";
    }
  } else {  // guards
    y += "- kind: nop\n  name: source\n  ports:\n    out:\n";
    for (int k = 0; k < kGuardEdges; ++k) {
      y += "      - name: leaf" + std::to_string(k) + "\n        when: \"payload.n % " +
           std::to_string(kGuardEdges) + " == " + std::to_string(k) + "\"\n";
    }
    for (int k = 0; k < kGuardEdges; ++k)
      y += "- kind: nop\n  name: leaf" + std::to_string(k) + "\n";
  }
  return y;
}

// Load, expand and compile through the spec path, as `epos run` does.
Result<Topology> CompileTopology(const EngineBenchOptions& o) {
  if (o.nodes == 0) return MakeError(ErrorCode::kInvalidArgument, "--nodes must be >= 1");
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(TopologyYaml(o), "bench.yaml", diags);
  TemplateBindings bindings;
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  const Scheme scheme = StandardScheme();
  CompileOutput out = Compile(specs, scheme, diags);
  if (!diags.empty()) return tl::unexpected(diags.ToError());
  auto it = out.graphs.find("default");
  if (it == out.graphs.end()) return MakeError(ErrorCode::kInternal, "no graph compiled");
  Topology t{it->second, it->second->Find(o.topology == "lua-chain" ? "n0" : "source")};
  return t;
}

Result<Topology> BuildTopology(const EngineBenchOptions& o) {
  if (o.topology == "lua-chain" || o.topology == "guards") return CompileTopology(o);
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
    return MakeError(
        ErrorCode::kInvalidArgument,
        "unknown topology \"" + o.topology + "\" (chain, fanout, split, lua-chain, guards)");
  }
  auto graph = b.Build();
  if (!graph) return tl::unexpected(graph.error());
  return Topology{*graph, 0};
}

// Counts outcomes and completed hops; per-worker slots so the counting itself does not
// bounce cache lines between cores. With an expected reply set, a reply that differs from
// it counts as bad too.
class CountingObserver final : public TraceObserver {
 public:
  CountingObserver(Scheduler& scheduler, std::optional<Value> expected_reply)
      : scheduler_(scheduler), expected_reply_(std::move(expected_reply)), slots_(64) {}
  void OnOutcome(TraceId, Outcome outcome) override {
    if (outcome.kind != Outcome::Kind::kReply ||
        (expected_reply_ && !(outcome.value == *expected_reply_))) {
      Slot().bad.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Completions always run on a worker: each slot has a single writer. `done` is
  // released after `hops`, so a reader that saw a completion (acquire) sees its hops.
  void OnComplete(const TraceSummary& summary) override {
    Counters& c = Slot();
    c.hops.store(c.hops.load(std::memory_order_relaxed) + summary.hops, std::memory_order_relaxed);
    c.done.store(c.done.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // Completions observed so far. The store counts a trace completed before its observer
  // is told, so a run's figures are read only once this has caught up.
  std::uint64_t completed() const {
    std::uint64_t n = 0;
    for (const auto& s : slots_) n += s.done.load(std::memory_order_acquire);
    return n;
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
    std::atomic<std::uint64_t> done{0};
  };
  Counters& Slot() {
    Worker* w = scheduler_.CurrentWorker();
    return slots_[w != nullptr ? (w->index() % 63) : 63];
  }
  Scheduler& scheduler_;
  const std::optional<Value> expected_reply_;
  std::vector<Counters> slots_;
};

// Starts `total` traces in batches, keeping at most `window` of its own in flight, and
// re-queues itself through the injector between batches.
class Generator final : public Job {
 public:
  Generator(Runtime& runtime, const Topology& topology, Value input, PayloadMode mode,
            TraceObserver* observer, std::uint64_t total, std::uint64_t window)
      : runtime_(runtime),
        topology_(topology),
        input_(std::move(input)),
        mode_(mode),
        observer_(observer),
        total_(total),
        window_(window) {}

  void Run(Worker&) override {
    const std::uint64_t live =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, runtime_.traces().live()));
    const std::uint64_t budget = live >= window_ ? 0 : window_ - live;
    std::uint64_t batch = std::min<std::uint64_t>({budget, 256, total_ - started_});
    for (std::uint64_t i = 0; i < batch; ++i, ++started_) {
      CheckStarted(runtime_.StartTrace(topology_.graph, topology_.start, 0,
                                       MakePayload(mode_, input_, started_), observer_));
    }
    if (started_ < total_) runtime_.scheduler().Inject(this);  // injector: after local work
    // The last batch: nothing to do; the runner owns this object.
  }

 private:
  Runtime& runtime_;
  const Topology& topology_;
  Value input_;
  PayloadMode mode_;
  TraceObserver* observer_;
  std::uint64_t total_;
  std::uint64_t window_;
  std::uint64_t started_ = 0;
};

void WaitForCompletions(const Runtime& runtime, std::uint64_t target) {
  // A benchmark harness polls; a run lasts far longer than the 100us step.
  while (runtime.traces().completed() < target) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

// After WaitForCompletions: the last observer calls may still be running.
void WaitForObserver(const CountingObserver& observer, std::uint64_t target) {
  while (observer.completed() < target) std::this_thread::yield();
}

struct RunFigures {
  double seconds = 0;
  std::uint64_t hops = 0;
  std::uint64_t bad = 0;
};

// Runs `o.pulses` traces from one generator per worker on a started runtime and waits for
// them; `expected` is the number of traces the runtime will have completed by then.
RunFigures MeasureRun(Runtime& runtime, CountingObserver& observer, const Topology& topology,
                      const EngineBenchOptions& o, const Value& input, PayloadMode mode,
                      std::uint64_t expected) {
  const std::uint64_t hops_before = observer.hops();
  const std::uint64_t bad_before = observer.bad();
  std::vector<std::unique_ptr<Generator>> generators;
  for (unsigned w = 0; w < o.workers; ++w) {
    std::uint64_t share = o.pulses / o.workers + (w < o.pulses % o.workers ? 1 : 0);
    if (share == 0) continue;
    generators.push_back(
        std::make_unique<Generator>(runtime, topology, input, mode, &observer, share, o.window));
  }
  const Clock::time_point start = Clock::now();
  for (auto& g : generators) runtime.scheduler().Submit(g.get());
  WaitForCompletions(runtime, expected);
  RunFigures f;
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  WaitForObserver(observer, expected);
  f.hops = observer.hops() - hops_before;
  f.bad = observer.bad() - bad_before;
  return f;
}

}  // namespace

Result<Value> RunEngineBench(const EngineBenchOptions& o) {
  if (o.workers == 0) return MakeError(ErrorCode::kInvalidArgument, "--workers must be >= 1");
  auto topology = BuildTopology(o);
  if (!topology) return tl::unexpected(topology.error());
  if (topology->start == kInvalidNode) {
    return MakeError(ErrorCode::kInternal, "topology has no start node");
  }
  const bool lua_chain = o.topology == "lua-chain";
  const bool guards = o.topology == "guards";
  Value input;
  PayloadMode mode = PayloadMode::kCounter;
  std::optional<Value> expected_reply;
  if (o.topology == "split") {
    std::vector<Value> items;
    for (int i = 0; i < 64; ++i) items.emplace_back(i);
    input = Value::Array(std::move(items));
    mode = PayloadMode::kFixed;
  } else if (lua_chain) {
    input = Value(std::int64_t{0});  // each hop adds one: N out
    mode = PayloadMode::kFixed;
    expected_reply = Value(static_cast<std::int64_t>(o.nodes));
  } else if (guards) {
    mode = PayloadMode::kGuardMap;
  }
  // Hops one trace takes when it runs as designed, where that is fixed.
  const std::uint64_t hops_per_trace = lua_chain ? o.nodes : guards ? 2 : 0;

  Runtime runtime(RuntimeOptions{o.workers, {}});
  CountingObserver observer(runtime.scheduler(), std::move(expected_reply));
  std::vector<MapEntry> result;

  // Memory probe: start `inflight` traces before the workers run, so every one of them
  // is in flight at once (its record plus its queued pulse), and read the RSS growth.
  std::uint64_t expected = 0;
  if (o.inflight > 0) {
    const std::int64_t before = CurrentRssBytes();
    for (std::uint64_t i = 0; i < o.inflight; ++i) {
      CheckStarted(runtime.StartTrace(topology->graph, topology->start, 0,
                                      MakePayload(mode, input, i), &observer));
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
    WaitForObserver(observer, expected);
  } else {
    runtime.Start();
  }

  expected += o.pulses;
  const RunFigures run = MeasureRun(runtime, observer, *topology, o, input, mode, expected);
  const double seconds = run.seconds;
  const std::uint64_t hops = run.hops;

  if (guards) {
    // The same traces with one payload shared by all of them: what a guard costs when the
    // payload's body is already known to the VM.
    const Value reused = MakePayload(PayloadMode::kGuardMap, Value(), 3);
    expected += o.pulses;
    const RunFigures again =
        MeasureRun(runtime, observer, *topology, o, reused, PayloadMode::kFixed, expected);
    const double guard_count = static_cast<double>(o.pulses) * kGuardEdges;
    result.push_back({"guards_per_trace", Value(std::int64_t{kGuardEdges})});
    result.push_back({"ns_per_guard", Value(seconds * 1e9 / guard_count)});
    result.push_back({"ns_per_guard_reused", Value(again.seconds * 1e9 / guard_count)});
    result.push_back({"traces_per_s_reused", Value(static_cast<double>(o.pulses) / again.seconds)});
    if (again.bad > 0 || again.hops != o.pulses * hops_per_trace) {
      runtime.Stop();
      return MakeError(ErrorCode::kInternal,
                       "guards (reused payload): " + std::to_string(again.bad) +
                           " traces failed or did not reply; " + std::to_string(again.hops) +
                           " hops, expected " + std::to_string(o.pulses * hops_per_trace));
    }
  }

  if (o.idle_seconds > 0) {
    const double cpu_before = CpuSeconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
    const double cpu = CpuSeconds() - cpu_before;
    result.push_back({"idle_cpu_percent", Value(100.0 * cpu / o.idle_seconds)});
  }
  runtime.Stop();

  // The Lua topologies check their own results: a benchmark of wrong answers is no figure.
  if (hops_per_trace > 0 && (run.bad > 0 || hops != o.pulses * hops_per_trace)) {
    return MakeError(
        ErrorCode::kInternal,
        o.topology + ": " + std::to_string(run.bad) +
            (lua_chain ? " traces failed or replied other than " + std::to_string(o.nodes)
                       : std::string(" traces failed or did not reply")) +
            "; " + std::to_string(hops) + " hops, expected " +
            std::to_string(o.pulses * hops_per_trace));
  }

  const bool has_nodes = o.topology == "chain" || lua_chain;
  std::vector<MapEntry> head = {
      {"system", Value("epos")},
      {"topology", Value(o.topology)},
      {"workers", Value(static_cast<std::int64_t>(o.workers))},
      {"nodes", Value(static_cast<std::int64_t>(has_nodes ? o.nodes : 0))},
      {"pulses", Value(static_cast<std::int64_t>(o.pulses))},
      {"hops", Value(static_cast<std::int64_t>(hops))},
      {"seconds", Value(seconds)},
      {"ns_per_hop", Value(hops > 0 ? seconds * 1e9 / static_cast<double>(hops) : 0.0)},
      {"traces_per_s", Value(static_cast<double>(o.pulses) / seconds)},
      {"peak_rss_bytes", Value(PeakRssBytes())},
      {"failed_traces", Value(static_cast<std::int64_t>(run.bad))},
  };
  head.insert(head.end(), std::make_move_iterator(result.begin()),
              std::make_move_iterator(result.end()));
  return Value::Map(std::move(head));
}

}  // namespace epos::bench
