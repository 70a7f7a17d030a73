// The `epos` command line. Subcommands today: `bench engine`. Run `epos --help`.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "engine_bench.h"
#include "epos/core/json.h"

namespace {

void AddEngineBench(CLI::App& bench, epos::bench::EngineBenchOptions& o, int& exit_code) {
  CLI::App* engine = bench.add_subcommand(
      "engine", "Measure the pulse engine on a synthetic topology; prints one JSON line");
  engine->add_option("--topology", o.topology, "chain | fanout | split")
      ->check(CLI::IsMember({"chain", "fanout", "split"}))
      ->capture_default_str();
  engine->add_option("--nodes", o.nodes, "Nodes in the chain")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  engine->add_option("--pulses", o.pulses, "Traces to run (one per input)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  engine->add_option("--workers", o.workers, "Worker threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  engine->add_option("--window", o.window, "Traces in flight per generator")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  engine->add_option("--inflight", o.inflight,
                     "First hold this many traces in flight at once and report bytes per trace");
  engine->add_option("--idle-seconds", o.idle_seconds,
                     "Afterwards idle this long and report the CPU used (percent of one core)");
  engine->callback([&o, &exit_code] {
    auto result = epos::bench::RunEngineBench(o);
    if (!result) {
      std::cerr << "epos bench engine: " << result.error().message << "\n";
      exit_code = 2;
      return;
    }
    std::cout << epos::ToJson(*result) << std::endl;
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "EPOS: a flow runtime. Workflows of nodes wired through ports run as traces of "
      "pulses on a work-stealing scheduler."};
  app.set_version_flag("--version", "epos 0.1.0");
  app.require_subcommand(1);
  int exit_code = 0;

  CLI::App* bench = app.add_subcommand("bench", "Benchmarks users can run on their machine");
  bench->require_subcommand(1);
  epos::bench::EngineBenchOptions engine_options;
  AddEngineBench(*bench, engine_options, exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
