#include <cstdio>
#include <iostream>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli.h"
#include "epos/core/json.h"
#include "epos/core/text.h"
#include "epos/nodes/standard.h"
#include "epos/spec/plugin.h"

namespace epos::cli {
namespace {

// `%*`: the log message as a JSON string (quoted and escaped), for --log-format json.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = ToJson(Value(std::string_view(msg.payload.data(), msg.payload.size())));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

void AddWorkflowOptions(CLI::App& command, WorkflowOptions& options) {
  command.add_option("files", options.sources.files, "Spec files (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  command
      .add_option("--values", options.sources.values_files,
                  "Values file for env entries {name: ...} and templates (repeatable)")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  command
      .add_option("-e,--env", options.sources.overrides,
                  "Bind a template variable, NAME=VALUE (repeatable)")
      ->allow_extra_args(false);
}

void ConfigureLogging(const GlobalOptions& options) {
  auto logger = spdlog::stderr_color_mt("epos");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (options.log_format == "json") {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","msg":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_default_logger(std::move(logger));
}

std::optional<LoadedWorkflows> LoadWorkflows(const GlobalOptions& global,
                                             const WorkflowOptions& options, const char* command) {
  LoadedWorkflows loaded{std::make_unique<Scheme>(StandardScheme()), {}};
  for (const std::string& path : global.plugins) {
    if (Status s = LoadPlugin(*loaded.scheme, path); !s) {
      std::cerr << "epos " << command << ": " << s.error().message << "\n";
      return std::nullopt;
    }
  }
  Diagnostics diags;
  loaded.compiled = BuildWorkflows(options.sources, *loaded.scheme, diags);
  diags.SortByPosition();
  if (!diags.empty()) {
    std::cerr << diags.ToString() << "\n";
    std::cerr << diags.size() << (diags.size() == 1 ? " error" : " errors") << "\n";
    return std::nullopt;
  }
  return loaded;
}

Result<std::shared_ptr<const Graph>> FindNamespace(const CompileOutput& compiled,
                                                   const std::string& name_space) {
  auto it = compiled.graphs.find(name_space);
  if (it != compiled.graphs.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& [name, graph] : compiled.graphs) known.push_back(name);
  return MakeError(ErrorCode::kNotFound,
                   "no specs in namespace \"" + name_space + "\"" + DidYouMean(name_space, known));
}

}  // namespace epos::cli
