// Pieces shared by the `epos` subcommands: the options every workflow command takes,
// loading and compiling workflows with errors on stderr, and logging set-up.
#ifndef EPOS_CLI_CLI_H_
#define EPOS_CLI_CLI_H_

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "epos/spec/compiler.h"
#include "epos/spec/scheme.h"

namespace epos::cli {

// Exit codes of the workflow commands (documented in `epos --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitTraceFailed = 1;
inline constexpr int kExitServeFailed = 1;  // run: a listener could not start
inline constexpr int kExitBadSpecs = 2;     // specs do not compile, or bad arguments
inline constexpr int kExitNoReply = 3;

// Options of the main command, given before or after the subcommand.
struct GlobalOptions {
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> plugins;
};

// FILE... --values F -e K=V, shared by run, call, validate and graph.
struct WorkflowOptions {
  WorkflowSources sources;
};
void AddWorkflowOptions(CLI::App& command, WorkflowOptions& options);

// Sets up the default spdlog logger on stderr: `text` (time, level, message) or `json`
// (one object per line: time, level, msg). Level names as spdlog's (trace ... off).
void ConfigureLogging(const GlobalOptions& options);

// The scheme (standard kinds plus the --plugin ones) and the compiled workflows.
struct LoadedWorkflows {
  std::unique_ptr<Scheme> scheme;
  CompileOutput compiled;
};

// Loads the plugins, then loads and compiles the workflows. Prints a plugin error or every
// diagnostic (in file order) on stderr and returns nullopt when anything failed; the
// caller then exits with kExitBadSpecs.
std::optional<LoadedWorkflows> LoadWorkflows(const GlobalOptions& global,
                                             const WorkflowOptions& options, const char* command);

// The graph of namespace `name_space`; an error naming it (with a did-you-mean) if no spec
// is in it.
[[nodiscard]] Result<std::shared_ptr<const Graph>> FindNamespace(const CompileOutput& compiled,
                                                                 const std::string& name_space);

void AddRunCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddCallCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddValidateCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddGraphCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);

}  // namespace epos::cli

#endif  // EPOS_CLI_CLI_H_
