#!/usr/bin/env bash
# Runs the engine benchmark on EPOS and on its oneTBB flow-graph peer, the same workload with
# the same --nodes/--pulses/--workers, and prints both JSON lines and their ratio. Then the
# EPOS-only benchmarks that have a target instead of a peer: the Lua topologies (lua-chain,
# guards) and `epos bench compile`.
#
# Usage: bench/run_engine.sh BUILD_DIR
#   BUILD_DIR holds epos and bench/peers/tbb/epos_tbb_peer (configure with -DEPOS_BUILD_BENCH=ON).
# Environment:
#   PULSES      inputs per run for every topology (default: chain 1000000, fanout 1000000,
#               split 100000)
#   NODES       chain length (default 10)
#   TOPOLOGIES  default "chain fanout split"
#   WORKERS     default "1 2"
#   REPEAT      runs per system and setting; the best (highest traces_per_s) is kept (default 1)
#   RUN_TIMEOUT seconds one run may take before it is stopped and counted as failed (default 300)
#   LUA_TOPOLOGIES  EPOS-only topologies with targets, default "lua-chain guards" ("" skips)
#   LUA_PULSES  inputs per run for those (default: lua-chain 200000, guards 500000)
#   COMPILE_NODES   specs in the `epos bench compile` namespace (default 10000; 0 skips)
#
# Per pair it prints, after the two JSON lines:
#   summary chain workers=1: traces/s epos 2.1e+06 onetbb 2.6e+06 epos/onetbb 0.81 |
#           ns/hop epos 45.1 onetbb 38.7 onetbb/epos 0.86
# A ratio above 1 means EPOS is faster on that measure. For the targets:
#   target lua-chain workers=1: ns/hop epos 312.0 target 400 target/epos 1.28 | traces/s 3.2e+05
#   target guards workers=1: ns/guard epos 81.2 target 100 target/epos 1.23 | reused payload
#           ns/guard 60.1 target/epos 1.66 | traces/s 1.5e+06
#   target compile nodes=10000: total ms epos 850.1 target 1000 target/epos 1.18 | load 400.2
#           template 50.3 compile 399.6 | cpu ms total 801.0 load 380.1 compile 371.5 | peak rss
#           60 MiB
# A ratio below 1 misses the target. Exits 1 if any run failed or a binary is missing (the
# other system still runs, so its figures are printed).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build_dir=$1
epos_bin=$build_dir/epos
tbb_bin=$build_dir/bench/peers/tbb/epos_tbb_peer
nodes=${NODES:-10}
topologies=${TOPOLOGIES:-chain fanout split}
workers_list=${WORKERS:-1 2}
repeat=${REPEAT:-1}
run_timeout=${RUN_TIMEOUT:-300}
lua_topologies=${LUA_TOPOLOGIES-lua-chain guards}
compile_nodes=${COMPILE_NODES:-10000}

command -v python3 >/dev/null || { echo "run_engine.sh: python3 is needed (scripts/install-deps.sh)" >&2; exit 2; }

default_pulses() {
  case $1 in
    split) echo 100000 ;;
    lua-chain) echo 200000 ;;
    guards) echo 500000 ;;
    *) echo 1000000 ;;
  esac
}

# Extracts the last JSON object line of a run's output, or prints nothing.
last_json() { grep -E '^[[:space:]]*\{' <<<"$1" | tail -n 1 || true; }

# run_best NAME BINARY ARGS...: runs BINARY REPEAT times, echoes the JSON line of the run with
# the highest traces_per_s (with BEST_KEY=-KEY set: the lowest KEY); returns 1 (with the reason
# on stderr) if any run fails or prints no JSON line.
run_best() {
  local name=$1 bin=$2
  shift 2
  local lines="" out i
  for ((i = 0; i < repeat; i++)); do
    local rc=0
    out=$(timeout -k 10 "$run_timeout" "$bin" "$@" 2>&1) || rc=$?
    if ((rc == 124)); then
      echo "run_engine.sh: $name timed out after ${run_timeout}s: $bin $*" >&2
      return 1
    elif ((rc != 0)); then
      echo "run_engine.sh: $name failed (exit $rc): $bin $*" >&2
      [[ -z $out ]] || echo "$out" >&2
      return 1
    fi
    local json
    json=$(last_json "$out")
    if [[ -z $json ]]; then
      echo "run_engine.sh: $name printed no JSON line: $bin $*" >&2
      echo "$out" >&2
      return 1
    fi
    lines+=$json$'\n'
  done
  BEST_KEY=${BEST_KEY:-traces_per_s} python3 -c '
import json, os, sys
runs = [json.loads(l) for l in sys.stdin if l.strip()]
key = os.environ["BEST_KEY"]
if key.startswith("-"):
    best = min(runs, key=lambda r: r.get(key[1:]) or float("inf"))
else:
    best = max(runs, key=lambda r: r.get(key) or 0)
print(json.dumps(best, separators=(",", ":")))
' <<<"$lines"
}

# summary TOPOLOGY WORKERS EPOS_JSON TBB_JSON (either may be empty).
summary() {
  python3 - "$@" <<'PY'
import json, sys
topology, workers, epos_line, tbb_line = sys.argv[1:5]

def load(line):
    try:
        return json.loads(line) if line else {}
    except json.JSONDecodeError:
        return {}

def num(run, key):
    value = run.get(key)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None

def fmt(value, spec):
    return format(value, spec) if value is not None else "n/a"

def ratio(a, b):
    return fmt(a / b, ".2f") if a is not None and b is not None else "n/a"

epos, tbb = load(epos_line), load(tbb_line)
e_tps, t_tps = num(epos, "traces_per_s"), num(tbb, "traces_per_s")
e_ns, t_ns = num(epos, "ns_per_hop"), num(tbb, "ns_per_hop")
print(f"summary {topology} workers={workers}: "
      f"traces/s epos {fmt(e_tps, '.3g')} onetbb {fmt(t_tps, '.3g')} epos/onetbb {ratio(e_tps, t_tps)} | "
      f"ns/hop epos {fmt(e_ns, '.1f')} onetbb {fmt(t_ns, '.1f')} onetbb/epos {ratio(t_ns, e_ns)}")
PY
}

# target KIND LABEL EPOS_JSON (may be empty): one EPOS figure against its target: a Lua snippet
# hop <= 400 ns, a guard <= 100 ns, a 10000-spec namespace loaded and compiled in <= 1 s.
target() {
  python3 - "$@" <<'PY'
import json, sys
kind, label, line = sys.argv[1:4]
try:
    run = json.loads(line) if line else {}
except json.JSONDecodeError:
    run = {}

def num(key):
    value = run.get(key)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None

def fmt(value, spec):
    return format(value, spec) if value is not None else "n/a"

def vs(value, goal):
    return f"epos {fmt(value, '.1f')} target {goal} target/epos " + (
        format(goal / value, ".2f") if value is not None else "n/a")

if kind == "lua-chain":
    print(f"target lua-chain {label}: ns/hop {vs(num('ns_per_hop'), 400)} | "
          f"traces/s {fmt(num('traces_per_s'), '.3g')}")
elif kind == "guards":
    print(f"target guards {label}: ns/guard {vs(num('ns_per_guard'), 100)} | reused payload "
          f"ns/guard {vs(num('ns_per_guard_reused'), 100)} | traces/s "
          f"{fmt(num('traces_per_s'), '.3g')}")
else:
    print(f"target compile {label}: total ms {vs(num('total_ms'), 1000)} | load "
          f"{fmt(num('load_ms'), '.1f')} template {fmt(num('template_ms'), '.1f')} compile "
          f"{fmt(num('compile_ms'), '.1f')} | cpu ms total {fmt(num('total_cpu_ms'), '.1f')} load "
          f"{fmt(num('load_cpu_ms'), '.1f')} compile {fmt(num('compile_cpu_ms'), '.1f')} | peak rss "
          f"{fmt((num('peak_rss_bytes') or 0) / 2**20 or None, '.0f')} MiB")
PY
}

# A missing binary is reported once; the other system's figures are still printed.
status=0
have_epos=1 have_tbb=1
if [[ ! -x $epos_bin ]]; then
  echo "run_engine.sh: $epos_bin not found or not executable: no EPOS figures (build: make bench)" >&2
  have_epos=0 status=1
fi
if [[ ! -x $tbb_bin ]]; then
  echo "run_engine.sh: $tbb_bin not found or not executable: no oneTBB figures" \
    "(configure with -DEPOS_BUILD_BENCH=ON: make bench)" >&2
  have_tbb=0 status=1
fi
((have_epos || have_tbb)) || exit 1

for topology in $topologies; do
  pulses=${PULSES:-$(default_pulses "$topology")}
  for workers in $workers_list; do
    args=(--topology "$topology" --workers "$workers" --nodes "$nodes" --pulses "$pulses")
    epos_json="" tbb_json=""
    if ((have_epos)); then
      epos_json=$(run_best epos "$epos_bin" bench engine "${args[@]}") || status=1
    fi
    if ((have_tbb)); then
      tbb_json=$(run_best onetbb "$tbb_bin" "${args[@]}") || status=1
    fi
    [[ -n $epos_json ]] && echo "$epos_json"
    [[ -n $tbb_json ]] && echo "$tbb_json"
    summary "$topology" "$workers" "$epos_json" "$tbb_json"
  done
done

# EPOS-only benchmarks, measured against targets rather than a peer.
if ((have_epos)); then
  for topology in $lua_topologies; do
    pulses=${LUA_PULSES:-$(default_pulses "$topology")}
    for workers in $workers_list; do
      args=(--topology "$topology" --workers "$workers" --nodes "$nodes" --pulses "$pulses")
      epos_json=$(run_best epos "$epos_bin" bench engine "${args[@]}") || status=1
      [[ -n $epos_json ]] && echo "$epos_json"
      target "$topology" "workers=$workers" "$epos_json"
    done
  done
  if ((compile_nodes > 0)); then
    epos_json=$(BEST_KEY=-total_ms run_best epos "$epos_bin" bench compile \
      --nodes "$compile_nodes") || status=1
    [[ -n $epos_json ]] && echo "$epos_json"
    target compile "nodes=$compile_nodes" "$epos_json"
  fi
fi
exit $status
