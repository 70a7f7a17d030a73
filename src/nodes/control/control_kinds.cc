// The spec kinds of DESIGN.md §5 that need no network or database, on top of the native
// control nodes (control.h) and the Lua nodes (lua_nodes.h).
#include <string>
#include <utility>
#include <vector>

#include "epos/core/json.h"
#include "epos/graph/port.h"
#include "epos/nodes/control.h"
#include "epos/nodes/lua_nodes.h"
#include "epos/nodes/standard.h"
#include "epos/spec/loader.h"
#include "epos/spec/scheme.h"

namespace epos {
namespace {

// Kinds without fields: one native node each.
NodeKind Plain(std::string name, std::string summary, std::unique_ptr<Node> (*make)()) {
  return {.name = std::move(name),
          .summary = std::move(summary),
          .fields = {},
          .compile = [make](SpecDecoder&) { return make(); }};
}

std::unique_ptr<Node> CompileSnippet(SpecDecoder& d) {
  std::optional<std::string> language = d.Has("language")
                                            ? d.Choice("language", {"lua", "text", "json", "yaml"})
                                            : std::optional<std::string>("lua");
  std::optional<std::string> code = d.String("code");
  std::optional<std::chrono::nanoseconds> timeout = d.Duration("timeout", Need::kOptional);
  if (!language || !code) return nullptr;
  if (*language == "text") return MakeLiteralNode(Value(*code));
  if (*language == "json") {
    Result<Value> literal = ParseJson(*code);
    if (!literal) {
      d.Error("code", "invalid JSON: " + literal.error().message);
      return nullptr;
    }
    return MakeLiteralNode(std::move(*literal));
  }
  if (*language == "yaml") {
    const SourcePos& pos = d.spec().PosOf("code");
    Result<Value> literal = ParseYamlValue(*code, pos.file);
    if (!literal) {
      d.Error("code", "invalid YAML: " + literal.error().message);
      return nullptr;
    }
    return MakeLiteralNode(std::move(*literal));
  }
  std::shared_ptr<const lua::Script> script = d.Snippet("code", std::move(*code));
  if (!script || !d.ok()) return nullptr;
  return MakeLuaSnippetNode(std::move(script), d.env(),
                            timeout.value_or(std::chrono::nanoseconds{}));
}

std::unique_ptr<Node> CompileIf(SpecDecoder& d) {
  std::optional<std::string> when = d.String("when");
  if (!when) return nullptr;
  std::shared_ptr<const lua::Script> condition = d.Expression("when", std::move(*when));
  if (!condition) return nullptr;
  return MakeIfNode(std::move(condition), d.env());
}

std::unique_ptr<Node> CompileSwitch(SpecDecoder& d) {
  const Value* matches = d.Array("matches");
  if (matches == nullptr) return nullptr;
  std::vector<SwitchCase> cases;
  for (std::size_t i = 0; i < matches->size(); ++i) {
    std::string path = "matches." + std::to_string(i);
    Value item = matches->At(i);
    if (!item.IsMap()) {
      d.Error(path, "must be a map {when, port}");
      continue;
    }
    std::optional<std::string> when = d.StringAt(item.Find("when"), path + ".when");
    std::optional<PortIndex> port = d.OutPortAt(item.Find("port"), path + ".port");
    for (const MapEntry& entry : item.AsMap()) {
      if (entry.key != "when" && entry.key != "port") {
        d.Error(path + "." + std::string(entry.key), "unknown field (expected when and port)");
      }
    }
    if (!when) continue;
    std::shared_ptr<const lua::Script> condition = d.Expression(path + ".when", std::move(*when));
    if (condition && port) cases.push_back({std::move(condition), *port});
  }
  if (!d.ok()) return nullptr;
  return MakeSwitchNode(std::move(cases), d.env());
}

std::unique_ptr<Node> CompileLog(SpecDecoder& d) {
  std::optional<std::string> level =
      d.Has("level") ? d.Choice("level", {"trace", "debug", "info", "warn", "error", "critical"})
                     : std::optional<std::string>("info");
  std::optional<std::string> message = d.String("message", Need::kOptional);
  if (!level || !d.ok()) return nullptr;
  return MakeLogNode(*level, message.value_or("{{ payload }}"));
}

}  // namespace

Status RegisterControlKinds(Scheme& scheme) {
  std::vector<NodeKind> kinds = {
      Plain("nop", "emits its input", &MakeNopNode),
      Plain("split", "one pulse per array element, in a new frame", &MakeSplitNode),
      Plain("collect", "gathers a split frame's pulses into an array", &MakeCollectNode),
      Plain("join", "waits for one pulse on each connected in[i]", &MakeJoinNode),
      Plain("reply", "answers the trace's origin", &MakeReplyNode),
      {.name = "throw",
       .summary = "fails with a message",
       .fields = {"message"},
       .compile = [](SpecDecoder& d) -> std::unique_ptr<Node> {
         std::optional<std::string> message = d.String("message", Need::kOptional);
         if (!d.ok()) return nullptr;
         return MakeThrowNode(message.value_or("thrown by " + d.spec().Label()));
       }},
      {.name = "sleep",
       .summary = "emits its input after a delay",
       .fields = {"duration"},
       .compile = [](SpecDecoder& d) -> std::unique_ptr<Node> {
         auto duration = d.Duration("duration");
         if (!duration) return nullptr;
         return MakeSleepNode(*duration);
       }},
      {.name = "snippet",
       .summary = "Lua code, or a text/json/yaml literal",
       .fields = {"language", "code", "timeout"},
       .compile = &CompileSnippet},
      {.name = "if",
       .summary = "routes on a Lua condition: out[0] true, out[1] false",
       .fields = {"when"},
       .compile = &CompileIf},
      {.name = "switch",
       .summary = "routes to the port of the first matching condition",
       .fields = {"matches"},
       .compile = &CompileSwitch},
      {.name = "log",
       .summary = "logs a message and passes the payload on",
       .fields = {"level", "message"},
       .compile = &CompileLog},
  };
  for (NodeKind& kind : kinds) {
    if (Status status = scheme.Register(std::move(kind)); !status) return status;
  }
  return {};
}

}  // namespace epos
