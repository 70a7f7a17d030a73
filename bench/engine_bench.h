// The engine benchmark behind `epos bench engine` (issue: pulse engine).
//
// Topologies, one trace per input:
//   chain   N no-op nodes in a row; the last one's output is a leaf, so it replies.
//   fanout  source → 8 no-op nodes → join (in[0..7]) → sink (replies).
//   split   split of a shared 64-element array → no-op → collect (replies).
//   lua-chain  N Lua snippets `return payload + 1` in a row, compiled from YAML through the
//              spec path (loader, templates, StandardScheme); 0 in, every reply must be N.
//   guards  a no-op source → 8 edges, each with a Lua guard `payload.n % 8 == K` → 8 no-op
//           leaves (exactly one guard holds, its leaf replies); from YAML like lua-chain.
//           Each trace gets a fresh map {n, source, ok}; then the run is repeated with one
//           map shared by all traces. Adds ns_per_guard (seconds / (traces × 8)) and
//           ns_per_guard_reused, traces_per_s_reused.
// The Lua topologies fail (an error, no figures) when a trace fails, replies wrongly or
// takes other than the expected hops (N for lua-chain, 2 for guards).
// Inputs are fed by one generator job per worker that keeps at most `window` traces in
// flight, like independent origins. Figures: wall seconds from first start to last
// completion, pulses actually processed (from the traces' hop counts), ns per hop,
// traces per second, peak RSS. With `inflight` > 0 it first measures the bytes one
// started-but-not-run trace costs (RSS growth over `inflight` queued traces).
#ifndef EPOS_BENCH_ENGINE_BENCH_H_
#define EPOS_BENCH_ENGINE_BENCH_H_

#include <cstdint>
#include <string>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos::bench {

struct EngineBenchOptions {
  std::string topology = "chain";
  unsigned nodes = 10;             // chain length (chain, lua-chain)
  std::uint64_t pulses = 1000000;  // traces to run
  unsigned workers = 1;
  std::uint64_t window = 4096;  // traces in flight per generator
  std::uint64_t inflight = 0;   // memory probe: traces held in flight at once
  double idle_seconds = 0;      // CPU probe: seconds of idling after the run
};

// Runs the benchmark; the result is one JSON-shaped map (see the README for keys).
Result<Value> RunEngineBench(const EngineBenchOptions& options);

}  // namespace epos::bench

#endif  // EPOS_BENCH_ENGINE_BENCH_H_
