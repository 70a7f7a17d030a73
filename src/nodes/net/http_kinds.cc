// http.listener and http.router (epos/nodes/http.h): the nodes and their spec kinds.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "epos/core/text.h"
#include "epos/exec/context.h"
#include "epos/graph/port.h"
#include "epos/nodes/http.h"

namespace epos {

std::string HttpListenerConfig::Address() const {
  // An IPv6 literal gets brackets so the port stays unambiguous.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

void HttpListenerNode::OnPulse(Context& ctx, PortIndex port, Value payload) {
  (void)port;
  ctx.Emit(0, std::move(payload));
}

namespace {

class HttpRouterNode final : public Node {
 public:
  HttpRouterNode(RouteTable routes, PortIndex outputs)
      : routes_(std::move(routes)), outputs_(outputs) {}

  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    (void)port;
    const Value* method = payload.Find("method");
    const Value* path = payload.Find("path");
    if (method == nullptr || path == nullptr || !method->IsString() || !path->IsString()) {
      ctx.Fail("router input must be an HTTP request {method, path, ...}");
      return;
    }
    RouteMatch match = routes_.Match(method->AsString(), path->AsString());
    switch (match.outcome) {
      case RouteMatch::Outcome::kMatched:
        ctx.Emit(static_cast<PortIndex>(match.port), WithParams(payload, std::move(match.params)));
        return;
      case RouteMatch::Outcome::kNotFound:
        ctx.Reply(Value::Map(
            {{"status", 404},
             {"body", Value::Map({{"error", "no route for " + std::string(method->AsString()) +
                                                " " + PathOnly(*path)}})}}));
        return;
      case RouteMatch::Outcome::kMethodNotAllowed:
        ctx.Reply(Value::Map(
            {{"status", 405},
             {"headers", Value::Map({{"Allow", match.AllowHeader()}})},
             {"body", Value::Map({{"error", "method " + std::string(method->AsString()) +
                                                " not allowed for " + PathOnly(*path)}})}}));
        return;
    }
  }

  PortShape ports() const override {
    return {.inputs = 1, .outputs = outputs_, .error_port = true};
  }

 private:
  static std::string PathOnly(const Value& path) {
    std::string_view p = path.AsString();
    return std::string(p.substr(0, p.find('?')));
  }

  // The request with `params` set (replacing one the request may already carry).
  static Value WithParams(const Value& request, Value params) {
    std::span<const MapEntry> entries = request.AsMap();
    std::vector<MapEntry> out;
    out.reserve(entries.size() + 1);
    for (const MapEntry& e : entries) {
      if (e.key != "params") out.push_back(e);
    }
    out.push_back({"params", std::move(params)});
    return Value::Map(std::move(out));
  }

  const RouteTable routes_;
  const PortIndex outputs_;
};

// A port field: 0..65535 as an integer or a numeric string (templates give strings).
std::optional<std::uint16_t> PortField(SpecDecoder& d, std::string_view field) {
  const Value* v = d.Field(field);
  if (v == nullptr) return 0;
  std::int64_t n = -1;
  if (v->IsInt()) {
    n = v->AsInt();
  } else if (v->IsString()) {
    std::string_view s = v->AsString();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) n = -1;
  }
  if (n < 0 || n > 65535) {
    d.Error(field, "must be a port number 0..65535 (0: any free port)");
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(n);
}

// A size entry of `limits`: bytes as an integer, or a size string ("2MiB").
void SizeLimit(SpecDecoder& d, const Value& limits, std::string_view key, std::size_t& out) {
  const Value* v = limits.Find(key);
  if (v == nullptr || v->IsNull()) return;
  std::string path = "limits." + std::string(key);
  if (v->IsInt() && v->AsInt() > 0) {
    out = static_cast<std::size_t>(v->AsInt());
    return;
  }
  if (v->IsString()) {
    Result<std::uint64_t> size = ParseByteSize(v->AsString());
    if (size && *size > 0) {
      out = static_cast<std::size_t>(*size);
      return;
    }
    d.Error(path, size ? "must be more than 0 bytes" : size.error().message);
    return;
  }
  d.Error(path, "must be a size such as 1048576 or \"1MiB\"");
}

template <class Duration>
void DurationLimit(SpecDecoder& d, const Value& limits, std::string_view key, Duration& out) {
  const Value* v = limits.Find(key);
  if (v == nullptr || v->IsNull()) return;
  std::string path = "limits." + std::string(key);
  Result<std::chrono::nanoseconds> parsed =
      v->IsString() ? ParseDuration(v->AsString())
      : v->IsNumber()
          ? Result<std::chrono::nanoseconds>(
                std::chrono::nanoseconds(static_cast<std::int64_t>(v->AsNumber() * 1e9)))
          : MakeError(ErrorCode::kInvalidArgument, "must be a duration such as \"10s\"");
  if (!parsed) {
    d.Error(path, parsed.error().message);
  } else if (parsed->count() <= 0) {
    d.Error(path, "must be more than 0s");
  } else {
    out = std::chrono::duration_cast<Duration>(*parsed);
    if (out.count() == 0) out = Duration(1);
  }
}

std::unique_ptr<Node> CompileListener(SpecDecoder& d) {
  HttpListenerConfig config;
  if (const Value* protocol = d.Field("protocol");
      protocol != nullptr && protocol->IsString() && protocol->AsString() == "https") {
    d.Error("protocol", "https is not supported: serve http and terminate TLS in a proxy");
  } else if (protocol != nullptr) {
    (void)d.Choice("protocol", {"http"});
  }
  if (std::optional<std::string> host = d.String("host", Need::kOptional)) {
    if (host->empty()) {
      d.Error("host", "must not be empty");
    } else {
      config.host = *host;
    }
  }
  std::optional<std::uint16_t> port = PortField(d, "port");
  if (port) config.port = *port;
  if (const Value* limits = d.Map("limits", Need::kOptional)) {
    static const std::vector<std::string> kKeys = {"body",           "header",       "inflight",
                                                   "header_timeout", "idle_timeout", "deadline"};
    for (const MapEntry& e : limits->AsMap()) {
      if (std::find(kKeys.begin(), kKeys.end(), e.key) == kKeys.end()) {
        d.Error("limits." + e.key, "unknown limit" + DidYouMean(e.key, kKeys) + " (known: " +
                                       "body, header, inflight, header_timeout, idle_timeout, " +
                                       "deadline)");
      }
    }
    SizeLimit(d, *limits, "body", config.limits.body_bytes);
    SizeLimit(d, *limits, "header", config.limits.header_bytes);
    if (const Value* inflight = limits->Find("inflight"); inflight && !inflight->IsNull()) {
      if (inflight->IsInt() && inflight->AsInt() > 0) {
        config.limits.max_inflight = static_cast<std::size_t>(inflight->AsInt());
      } else {
        d.Error("limits.inflight", "must be an integer more than 0");
      }
    }
    DurationLimit(d, *limits, "header_timeout", config.limits.header_timeout);
    DurationLimit(d, *limits, "idle_timeout", config.limits.idle_timeout);
    DurationLimit(d, *limits, "deadline", config.deadline);
  }
  if (!d.ok()) return nullptr;
  return std::make_unique<HttpListenerNode>(std::move(config));
}

std::unique_ptr<Node> CompileRouter(SpecDecoder& d) {
  const Value* routes = d.Array("routes");
  if (routes == nullptr) return nullptr;
  std::vector<RouteSpec> specs;
  PortIndex outputs = 1;
  for (std::size_t i = 0; i < routes->size(); ++i) {
    std::string path = "routes." + std::to_string(i);
    Value item = routes->At(i);
    if (!item.IsMap()) {
      d.Error(path, "must be a map {method, path, port}");
      continue;
    }
    for (const MapEntry& entry : item.AsMap()) {
      if (entry.key != "method" && entry.key != "path" && entry.key != "port") {
        d.Error(path + "." + entry.key, "unknown field (expected method, path and port)");
      }
    }
    std::optional<std::string> method =
        d.StringAt(item.Find("method"), path + ".method", Need::kOptional);
    std::optional<std::string> pattern = d.StringAt(item.Find("path"), path + ".path");
    const Value* port_value = item.Find("port");
    std::optional<PortIndex> port = port_value == nullptr ? std::optional<PortIndex>(0)
                                                          : d.OutPortAt(port_value, path + ".port");
    if (!pattern || !port) continue;
    outputs = std::max<PortIndex>(outputs, static_cast<PortIndex>(*port + 1));
    specs.push_back({method.value_or(""), std::move(*pattern), *port});
  }
  if (!d.ok()) return nullptr;
  // Every route passed the checks above, so RouteTable's "routes[i]: ..." is the spec's
  // index too: report it at that route's path.
  Result<RouteTable> table = RouteTable::Build(std::move(specs));
  if (!table) {
    const std::string& message = table.error().message;
    std::size_t index = 0;
    int consumed = 0;
    if (std::sscanf(message.c_str(), "routes[%zu]: %n", &index, &consumed) == 1 && consumed > 0) {
      d.Error("routes." + std::to_string(index) + ".path", message.substr(consumed));
    } else {
      d.Error("routes", message);
    }
    return nullptr;
  }
  return std::make_unique<HttpRouterNode>(std::move(*table), outputs);
}

}  // namespace

Status RegisterHttpServerKinds(Scheme& scheme) {
  Status status = scheme.Register({.name = "http.listener",
                                   .summary = "serves HTTP on host:port; one trace per request",
                                   .fields = {"protocol", "host", "port", "limits"},
                                   .compile = CompileListener});
  if (status) status = scheme.Alias("listener", "http.listener");
  if (!status) return status;
  status = scheme.Register({.name = "http.router",
                            .summary = "routes HTTP requests by method and path to out[i]",
                            .fields = {"routes"},
                            .compile = CompileRouter});
  if (status) status = scheme.Alias("router", "http.router");
  return status;
}

}  // namespace epos
