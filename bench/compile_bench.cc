#include "compile_bench.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"
#include "epos/spec/scheme.h"
#include "epos/spec/template.h"

namespace epos::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Wall and CPU time of one phase; the CPU figure stays meaningful on a loaded machine.
class PhaseTimer {
 public:
  PhaseTimer() : wall_(Clock::now()), cpu_(ThreadCpuMs()) {}
  double WallMs() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - wall_).count();
  }
  double CpuMs() const { return ThreadCpuMs() - cpu_; }

 private:
  static double ThreadCpuMs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
  Clock::time_point wall_;
  double cpu_;
};

std::int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

// Specs of one kind each, in this order, repeat down the namespace.
constexpr unsigned kMixLength = 10;

void AppendSpec(std::string& y, unsigned i, unsigned nodes) {
  const std::string n = std::to_string(i);
  const std::string name = "s" + n;
  auto target = [&](unsigned j) { return "s" + std::to_string(j); };
  const bool has_next = i + 1 < nodes;
  const std::string next = target(i + 1);
  y += "- kind: ";
  switch (i % kMixLength) {
    case 0:  // a Lua snippet whose output is guarded
      y += "snippet\n  name: " + name + "\n  language: lua\n  code: |\n" +
           "    return function(payload, ctx)\n"
           "      local n = payload.n or 0\n"
           "      return {n = n + " +
           n + ", tag = \"" + name +
           "\"}\n"
           "    end\n";
      if (has_next) {
        y += "  ports:\n    out:\n      - name: " + next + "\n        when: \"payload.n >= " + n +
             "\"\n";
      }
      return;
    case 1:  // a condition routing both ways
      y += "if\n  name: " + name + "\n  when: \"payload.n % 3 == " + std::to_string(i % 3) + "\"\n";
      if (has_next) {
        y += "  ports:\n    out[0]:\n      - name: " + next + "\n";
        if (i + 2 < nodes) y += "    out[1]:\n      - name: " + target(i + 2) + "\n";
      }
      return;
    case 2:  // a snippet with env templates and an error port
      y += "snippet\n  name: " + name + "\n  env:\n    LIMIT: {data: \"" + n +
           "\"}\n  code: |\n"
           "    return function(payload, ctx)\n"
           "      if payload.n > {{ .LIMIT }} then ctx.emit(\"error\", payload) end\n"
           "      return payload\n"
           "    end\n";
      if (has_next) {
        y += "  ports:\n    out:\n      - name: " + next + "\n    error:\n      - name: " + next +
             "\n        when: \"payload.n ~= nil\"\n";
      }
      return;
    case 3:
      y += "log\n  name: " + name + "\n  level: debug\n  message: \"step " + n +
           ": {{ payload }}\"\n";
      break;
    case 4:
      y += "split\n  name: " + name + "\n";
      break;
    case 5:
      y += "snippet\n  name: " + name +
           "\n  code: \"return function(payload, ctx) return payload * 2 end\"\n";
      break;
    case 6:
      y += "collect\n  name: " + name + "\n";
      break;
    case 7:
      y += "sleep\n  name: " + name + "\n  duration: 1ms\n  annotations: {team: bench}\n";
      break;
    case 8:  // a switch over three cases
      y += "switch\n  name: " + name + "\n  matches:\n";
      for (int k = 0; k < 3; ++k) {
        y += "    - when: \"payload.n < " + std::to_string(i + k * 10) + "\"\n      port: out[" +
             std::to_string(k) + "]\n";
      }
      if (has_next) {
        y += "  ports:\n";
        for (int k = 0; k < 3; ++k)
          y += "    out[" + std::to_string(k) + "]:\n      - name: " + next + "\n";
      }
      return;
    default:
      y += "snippet\n  name: " + name + "\n  language: json\n  code: '{\"step\": " + n +
           ", \"ok\": true}'\n";
      break;
  }
  if (has_next) y += "  ports:\n    out:\n      - name: " + next + "\n";
}

}  // namespace

std::string CompileBenchYaml(unsigned nodes) {
  std::string y;
  y.reserve(static_cast<std::size_t>(nodes) * 160);
  for (unsigned i = 0; i < nodes; ++i) {
    AppendSpec(y, i, nodes);
    y += "  namespace: bench\n";
  }
  return y;
}

Result<Value> RunCompileBench(const CompileBenchOptions& o) {
  if (o.nodes == 0) return MakeError(ErrorCode::kInvalidArgument, "--nodes must be >= 1");
  if (o.repeat == 0) return MakeError(ErrorCode::kInvalidArgument, "--repeat must be >= 1");
  const std::string yaml = CompileBenchYaml(o.nodes);
  const Scheme scheme = StandardScheme();
  constexpr double kNone = std::numeric_limits<double>::infinity();
  // Per phase, wall then CPU milliseconds: the best over the runs.
  std::vector<double> best(8, kNone);
  std::int64_t graph_nodes = 0;
  for (unsigned r = 0; r < o.repeat; ++r) {
    Diagnostics diags;
    std::vector<double> ms;
    PhaseTimer load;
    std::vector<Spec> specs = LoadSpecText(yaml, "bench.yaml", diags);
    ms.insert(ms.end(), {load.WallMs(), load.CpuMs()});
    PhaseTimer templates;
    TemplateBindings bindings;
    for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
    ms.insert(ms.end(), {templates.WallMs(), templates.CpuMs()});
    PhaseTimer compile;
    CompileOutput out = Compile(specs, scheme, diags);
    ms.insert(ms.end(), {compile.WallMs(), compile.CpuMs()});
    if (!diags.empty()) {
      return MakeError(ErrorCode::kInternal, "generated namespace does not compile:\n" +
                                                 diags.ToString().substr(0, 2000));
    }
    auto graph = out.graphs.find("bench");
    if (graph == out.graphs.end()) return MakeError(ErrorCode::kInternal, "no graph compiled");
    graph_nodes = static_cast<std::int64_t>(graph->second->node_count());
    ms.insert(ms.end(), {ms[0] + ms[2] + ms[4], ms[1] + ms[3] + ms[5]});
    for (std::size_t i = 0; i < best.size(); ++i) best[i] = std::min(best[i], ms[i]);
  }
  return Value::Map({{"system", Value("epos")},
                     {"bench", Value("compile")},
                     {"nodes", Value(static_cast<std::int64_t>(o.nodes))},
                     {"graph_nodes", Value(graph_nodes)},
                     {"yaml_bytes", Value(static_cast<std::int64_t>(yaml.size()))},
                     {"repeat", Value(static_cast<std::int64_t>(o.repeat))},
                     {"load_ms", Value(best[0])},
                     {"template_ms", Value(best[2])},
                     {"compile_ms", Value(best[4])},
                     {"total_ms", Value(best[6])},
                     {"load_cpu_ms", Value(best[1])},
                     {"template_cpu_ms", Value(best[3])},
                     {"compile_cpu_ms", Value(best[5])},
                     {"total_cpu_ms", Value(best[7])},
                     {"peak_rss_bytes", Value(PeakRssBytes())}});
}

}  // namespace epos::bench
