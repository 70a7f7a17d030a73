// The spec compile benchmark behind `epos bench compile`.
//
// Generates one namespace of `nodes` specs, a mix of what workflows hold (Lua snippets
// with small code, `if` and `switch` on conditions, guarded connections, split/collect,
// sleep, log, json literals, env templates), each wired to the next, as YAML text in
// memory. Then times the pipeline behind `epos run` on it, by phase: load (YAML text →
// Specs), templates (ExpandTemplates), compile (Scheme → Graph, Lua scripts included).
// Figures are milliseconds of wall time, and of the thread's CPU time (meaningful on a
// loaded machine), the best of `repeat` runs per phase; and the process's peak RSS.
#ifndef EPOS_BENCH_COMPILE_BENCH_H_
#define EPOS_BENCH_COMPILE_BENCH_H_

#include <cstdint>
#include <string>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos::bench {

struct CompileBenchOptions {
  unsigned nodes = 10000;  // specs in the namespace
  unsigned repeat = 1;     // runs; each phase reports its best
};

// The generated namespace: a YAML sequence of `nodes` specs in namespace "bench".
std::string CompileBenchYaml(unsigned nodes);

// Runs the benchmark; the result is one JSON-shaped map: nodes, graph_nodes, yaml_bytes,
// load_ms, template_ms, compile_ms, total_ms (their sum), the same as *_cpu_ms, and
// peak_rss_bytes. Errors: kInvalidArgument
// for bad options, kInternal when the generated namespace does not compile (a bug here).
Result<Value> RunCompileBench(const CompileBenchOptions& options);

}  // namespace epos::bench

#endif  // EPOS_BENCH_COMPILE_BENCH_H_
