// The `epos` command line: run, call, validate, graph and bench. Run `epos --help`.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.h"
#include "compile_bench.h"
#include "engine_bench.h"
#include "epos/core/json.h"
#include "epos/core/text.h"

namespace {

void AddEngineBench(CLI::App& bench, epos::bench::EngineBenchOptions& o, int& exit_code) {
  CLI::App* engine = bench.add_subcommand(
      "engine", "Measure the pulse engine on a synthetic topology; prints one JSON line");
  engine->add_option("--topology", o.topology, "chain | fanout | split | lua-chain | guards")
      ->check(CLI::IsMember({"chain", "fanout", "split", "lua-chain", "guards"}))
      ->capture_default_str();
  engine->add_option("--nodes", o.nodes, "Nodes in the chain (chain, lua-chain)")
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

void AddCompileBench(CLI::App& bench, epos::bench::CompileBenchOptions& o, int& exit_code) {
  CLI::App* compile = bench.add_subcommand(
      "compile", "Measure loading and compiling a generated namespace; prints one JSON line");
  compile->add_option("--nodes", o.nodes, "Specs in the namespace")
      ->check(CLI::Range(1u, 10000000u))
      ->capture_default_str();
  compile->add_option("--repeat", o.repeat, "Runs; each phase reports its best")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  compile->callback([&o, &exit_code] {
    auto result = epos::bench::RunCompileBench(o);
    if (!result) {
      std::cerr << "epos bench compile: " << result.error().message << "\n";
      exit_code = 2;
      return;
    }
    std::cout << epos::ToJson(*result) << std::endl;
  });
}

// When `error` is CLI11's "A subcommand is required" — also its report for `epos frobnicate`,
// since it checks for a subcommand before it complains about an unexpected word — prints
// what went wrong instead: `epos: unknown command "frobnicate"` with the nearest command,
// or that a command is required, then the commands. False (nothing printed) otherwise.
bool ReportMissingCommand(const CLI::App& app, const CLI::ParseError& error) {
  if (dynamic_cast<const CLI::RequiredError*>(&error) == nullptr) return false;
  // The deepest command given, e.g. `bench` in `epos bench frob`.
  const CLI::App* command = &app;
  std::string path = "epos";
  while (!command->get_subcommands().empty()) {
    command = command->get_subcommands().front();
    path += " " + command->get_name();
  }
  if (command->get_require_subcommand_min() == 0) return false;
  std::vector<std::string> names;
  for (const CLI::App* sub : command->get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  if (names.empty()) return false;
  // Unmatched words land in the root's leftovers (subcommands fall through to it).
  const std::vector<std::string> leftovers = app.remaining(true);
  std::string word;
  for (const std::string& arg : leftovers) {
    if (!arg.empty() && arg[0] != '-') {
      word = arg;
      break;
    }
  }
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
  if (word.empty()) {
    std::cerr << path << ": a command is required";
    if (!leftovers.empty()) std::cerr << " (unknown option \"" << leftovers.front() << "\")";
    std::cerr << "\n";
  } else {
    std::cerr << path << ": unknown command \"" << word << "\"" << epos::DidYouMean(word, names)
              << "\n";
  }
  std::cerr << "Commands: " << list << "\nRun \"" << path << " --help\" for more information.\n";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "EPOS: a flow runtime. Workflows of nodes wired through ports run as traces of "
      "pulses on a work-stealing scheduler.\n"
      "Exit codes of run, call, validate and graph: 0 ok, 1 the trace failed (call), 2 the "
      "specs do not compile or an argument is bad, 3 no reply (call)."};
  app.set_version_flag("--version", "epos 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  int exit_code = 0;

  epos::cli::GlobalOptions global;
  app.add_option("--log-level", global.log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", global.log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--plugin", global.plugins,
                 "Load node kinds from a shared library (repeatable); see epos/spec/plugin.h")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  app.parse_complete_callback([&global] { epos::cli::ConfigureLogging(global); });

  epos::cli::AddRunCommand(app, global, exit_code);
  epos::cli::AddCallCommand(app, global, exit_code);
  epos::cli::AddValidateCommand(app, global, exit_code);
  epos::cli::AddGraphCommand(app, global, exit_code);

  CLI::App* bench = app.add_subcommand("bench", "Benchmarks users can run on their machine");
  bench->require_subcommand(1);
  epos::bench::EngineBenchOptions engine_options;
  AddEngineBench(*bench, engine_options, exit_code);
  epos::bench::CompileBenchOptions compile_options;
  AddCompileBench(*bench, compile_options, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (ReportMissingCommand(app, e)) return epos::cli::kExitBadSpecs;
    // --help and --version exit 0; a bad argument exits 2 as documented above, not with
    // CLI11's own codes (105, 106...).
    return app.exit(e) == 0 ? 0 : epos::cli::kExitBadSpecs;
  }
  return exit_code;
}
