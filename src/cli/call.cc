// `epos call`: one trace, its outcome on stdout as one line of compact JSON.
#include <iostream>

#include "cli.h"
#include "epos/core/json.h"
#include "epos/core/text.h"
#include "epos/exec/runtime.h"
#include "epos/graph/port.h"

namespace epos::cli {
namespace {

struct CallOptions {
  WorkflowOptions workflows;
  std::string name_space = "default";
  std::string node;
  std::string port = "in";
  std::string payload = "null";
  std::string timeout;
  unsigned workers = 0;
  std::uint32_t hop_budget = kDefaultHopBudget;
};

int Call(const GlobalOptions& global, const CallOptions& o) {
  auto fail = [](const std::string& message) {
    std::cerr << "epos call: " << message << "\n";
    return kExitBadSpecs;
  };
  TraceOptions trace_options;
  trace_options.hop_budget = o.hop_budget;
  if (!o.timeout.empty()) {
    auto timeout = ParseDuration(o.timeout);
    if (!timeout) return fail("--timeout: " + timeout.error().message);
    trace_options.timeout = *timeout;
  }
  Result<Value> payload = ParseJson(o.payload);
  if (!payload) return fail("--payload: invalid JSON: " + payload.error().message);
  Result<PortIndex> port = ParseInPort(o.port);
  if (!port) return fail("--port: " + port.error().message);

  std::optional<LoadedWorkflows> loaded = LoadWorkflows(global, o.workflows, "call");
  if (!loaded) return kExitBadSpecs;
  Result<std::shared_ptr<const Graph>> found = FindNamespace(loaded->compiled, o.name_space);
  if (!found) return fail(found.error().message);
  const std::shared_ptr<const Graph>& graph = *found;
  NodeId node = graph->Find(o.node);
  if (node == kInvalidNode) {
    std::vector<std::string> names;
    for (NodeId id = 0; id < graph->node_count(); ++id) names.push_back(graph->name(id));
    return fail("node \"" + o.node + "\" not found in namespace \"" + o.name_space + "\"" +
                DidYouMean(o.node, names));
  }

  RuntimeOptions runtime_options;
  runtime_options.workers = o.workers;
  Runtime runtime(runtime_options);
  runtime.Start();
  Outcome outcome = runtime.Call(graph, node, *port, std::move(*payload), trace_options).get();
  runtime.Stop();
  switch (outcome.kind) {
    case Outcome::Kind::kReply:
      std::cout << ToJson(outcome.value) << std::endl;
      return kExitOk;
    case Outcome::Kind::kError:
      std::cout << ToJson(outcome.value) << std::endl;
      return kExitTraceFailed;
    case Outcome::Kind::kNoReply:
      break;
  }
  return kExitNoReply;
}

}  // namespace

void AddCallCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<CallOptions>();
  CLI::App* call = app.add_subcommand(
      "call",
      "Start one trace and print its outcome as one line of JSON.\n"
      "Exit 0: a reply (printed). 1: the trace failed (the error printed). 2: the specs do not "
      "compile or an argument is bad (errors on stderr). 3: the trace completed with no reply.");
  AddWorkflowOptions(*call, o->workflows);
  call->add_option("--node", o->node, "Node that receives the payload")->required();
  call->add_option("--port", o->port, "Input port of that node: in or in[N]")
      ->capture_default_str();
  call->add_option("--payload", o->payload, "Payload as JSON")->capture_default_str();
  call->add_option("--namespace", o->name_space, "Namespace of the node")->capture_default_str();
  call->add_option("--timeout", o->timeout,
                   "Trace deadline, e.g. 500ms or 2s; past it the trace fails (exit 1)");
  call->add_option("--hop-budget", o->hop_budget, "Pulses the trace may process")
      ->capture_default_str();
  call->add_option("--workers", o->workers, "Worker threads (0: one per core)")
      ->check(CLI::Range(0u, 1024u))
      ->capture_default_str();
  call->callback([&global, &exit_code, o] { exit_code = Call(global, *o); });
}

}  // namespace epos::cli
