// `epos validate` and `epos graph`: compile without running.
#include <iostream>

#include "cli.h"
#include "epos/core/text.h"
#include "epos/graph/picture.h"

namespace epos::cli {
namespace {

struct GraphOptions {
  WorkflowOptions workflows;
  std::string name_space = "default";
  std::string format = "dot";
};

}  // namespace

void AddValidateCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<WorkflowOptions>();
  CLI::App* validate = app.add_subcommand(
      "validate",
      "Check spec files without running them. Exit 0 when every namespace compiles, else 2 "
      "with every error on stderr (file:line:column: spec: field: message).");
  AddWorkflowOptions(*validate, *o);
  validate->callback([&global, &exit_code, o] {
    std::optional<LoadedWorkflows> loaded = LoadWorkflows(global, *o, "validate");
    if (!loaded) {
      exit_code = kExitBadSpecs;
      return;
    }
    for (const auto& [name, graph] : loaded->compiled.graphs) {
      std::cout << "namespace " << name << ": " << graph->node_count() << " nodes, "
                << graph->AllEdges().size() << " connections: ok\n";
    }
    exit_code = kExitOk;
  });
}

void AddGraphCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<GraphOptions>();
  CLI::App* graph = app.add_subcommand(
      "graph",
      "Print a namespace's compiled graph as Graphviz DOT or a Mermaid flowchart: nodes "
      "labelled with name and kind, connections with ports and guards.");
  AddWorkflowOptions(*graph, o->workflows);
  graph->add_option("--namespace", o->name_space, "Namespace to draw")->capture_default_str();
  graph->add_option("--format", o->format, "dot or mermaid")
      ->check(CLI::IsMember({"dot", "mermaid"}))
      ->capture_default_str();
  graph->callback([&global, &exit_code, o] {
    exit_code = kExitBadSpecs;
    std::optional<LoadedWorkflows> loaded = LoadWorkflows(global, o->workflows, "graph");
    if (!loaded) return;
    Result<std::shared_ptr<const Graph>> found = FindNamespace(loaded->compiled, o->name_space);
    if (!found) {
      std::cerr << "epos graph: " << found.error().message << "\n";
      return;
    }
    std::cout << (o->format == "dot" ? RenderDot(**found) : RenderMermaid(**found));
    exit_code = kExitOk;
  });
}

}  // namespace epos::cli
