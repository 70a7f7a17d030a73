#!/usr/bin/env bash
# Installs the Debian 12 packages EPOS needs to build, test and benchmark.
#
# Idempotent: asks dpkg-query which packages are missing and runs apt only for
# those. Prints nothing when everything is present, one line naming the packages
# otherwise (apt's own output goes to a log shown only on failure).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang clang-format
  # libFuzzer and sanitizer runtimes for clang (EPOS_BUILD_FUZZ); only a Recommends of clang
  libclang-rt-14-dev
  # libraries
  libboost-dev libboost-system-dev nlohmann-json3-dev rapidjson-dev libtbb-dev
  libcli11-dev libspdlog-dev libfmt-dev libexpected-dev libyaml-cpp-dev
  liblua5.4-dev libsqlite3-dev
  # tests and benchmarks (python3 reads the JSON lines in bench/run_engine.sh)
  libgtest-dev libgmock-dev libbenchmark-dev wrk python3
)

# One dpkg-query for all; packages dpkg has never heard of print nothing (and an error we drop).
declare -A installed=()
while read -r pkg status; do
  [[ $status == installed ]] && installed[${pkg%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for pkg in "${PACKAGES[@]}"; do
  [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}"

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: not root and no sudo; install these packages by hand: ${missing[*]}" >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo_cmd[@]}" apt-get update -q &&
       "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed" >&2
  exit 1
fi
