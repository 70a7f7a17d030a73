#!/usr/bin/env bash
# Usage: tests/package/run.sh BUILD_DIR
#
# Checks EPOS as an installed package, the way a user gets it: installs BUILD_DIR (built
# first if it is not up to date) into a fresh temporary prefix, checks what is there and
# that no EPOS build flag (warnings, sanitizers) is exported, then configures this
# directory as an outside project with find_package(epos) against that prefix, builds
# a program and a node kind plugin, and runs the program (the README's C++ example and
# the plugin's kind in a YAML workflow). The installed `epos` must run too, and run the
# plugin built outside. Removes everything it made; exits non-zero naming the failed step.
# CI runs it on `build` after `make test` (.ci/run, stage "package").
# JOBS (default 2): parallel compile jobs. KEEP=1 keeps the temporary directory.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1/CMakeCache.txt ]]; then
  echo "usage: $0 BUILD_DIR   (a configured EPOS build directory)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${JOBS:-2}
start=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/epos-package.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
  trap 'echo "package: kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix
consumer=$work/build
log=$work/step.log

fail() {
  echo "package: FAILED: $*" >&2
  exit 1
}
# run WHAT COMMAND...: runs COMMAND quietly; on failure prints its output and fails WHAT.
run() {
  local what=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "$what ($*)"
  fi
}

# A sanitizer build's static libraries need a runtime that the package does not hand on.
sanitize=$(sed -n 's/^EPOS_SANITIZE:STRING=//p' "$build/CMakeCache.txt")
[[ -z $sanitize ]] || fail "$build is an EPOS_SANITIZE=$sanitize build; install a plain one"

echo "package: build $build and install it into $prefix"
run "build $build" cmake --build "$build" -j "$jobs"
run "install" cmake --install "$build" --prefix "$prefix"

# What the package holds: every module's library, the binary, the headers, the config.
modules=$(sed -n 's/^epos_module(\([a-z_]*\).*/\1/p' "$root/CMakeLists.txt")
[[ -n $modules ]] || fail "no epos_module() found in $root/CMakeLists.txt"
cmake_dir=$prefix/lib/cmake/epos
[[ -d $cmake_dir ]] || cmake_dir=$(dirname "$(find "$prefix" -name eposConfig.cmake | head -n 1)")
for f in bin/epos include/epos/spec/plugin.h include/epos/exec/runtime.h; do
  [[ -e $prefix/$f ]] || fail "not installed: $f"
done
for f in eposConfig.cmake eposConfigVersion.cmake eposTargets.cmake; do
  [[ -f $cmake_dir/$f ]] || fail "not installed: $cmake_dir/$f"
done
for m in $modules; do
  [[ -n $(find "$prefix" -name "libepos_$m.a") ]] || fail "not installed: libepos_$m.a"
  grep -q "add_library(epos::$m STATIC IMPORTED)" "$cmake_dir/eposTargets.cmake" ||
    fail "eposTargets.cmake has no epos::$m"
done
for t in epos plugin_api; do
  grep -q "add_library(epos::$t INTERFACE IMPORTED)" "$cmake_dir/eposTargets.cmake" ||
    fail "eposTargets.cmake has no epos::$t"
done
if stray=$(find "$prefix" -name '*bench*' -o -name '*epos_tests*' -o -name '*_plugin*' | grep .); then
  fail "test or bench files installed: $stray"
fi
# EPOS's own flags stay in its build: no warning, sanitizer or rare-path flag, no
# epos_settings and no path into the source or build tree in the exported targets.
if leaks=$(grep -n -E -e '-fsanitize|-W(all|extra|pedantic|no-)|EPOS_FORCE_RARE_PATHS|epos_settings' \
             -e "$root|$build" "$cmake_dir"/*.cmake); then
  fail "the exported targets carry EPOS build settings or build paths:"$'\n'"$leaks"
fi
run "installed epos --help" "$prefix/bin/epos" --help

echo "package: configure and build tests/package against the prefix"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
run "configure tests/package (find_package(epos))" \
  cmake -S "$here" -B "$consumer" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
found=$(sed -n 's/^epos_DIR:PATH=//p' "$consumer/CMakeCache.txt")
[[ $found == "$cmake_dir" ]] || fail "find_package(epos) found '$found', not $cmake_dir"
run "build tests/package" cmake --build "$consumer" -j "$jobs"
# The outside build compiles with its own flags and the installed headers only.
if leaks=$(grep -o -E -e '-fsanitize[^ ]*|-W(all|extra|pedantic|no-)[^ ]*' \
             -e "-I$root/include|-isystem $root/include" "$consumer/compile_commands.json"); then
  fail "EPOS's build flags or source tree reach the outside build: $(sort -u <<<"$leaks")"
fi

echo "package: run"
"$consumer/package_host" || fail "package_host exited $?"
plugin=$(find "$consumer" -maxdepth 1 -name '*shout_plugin.so' | head -n 1)
[[ -n $plugin ]] || fail "the plugin was not built"
got=$("$prefix/bin/epos" --plugin "$plugin" call "$here/shout.yaml" --node shout \
  --payload '"hello"') || fail "installed epos --plugin ... call exited $?"
want='{"length":6,"text":"HELLO!"}'
[[ $got == "$want" ]] || fail "installed epos with the plugin answered $got, not $want"
echo "installed epos with the plugin: $got"
echo "package: passed in $((SECONDS - start))s"
