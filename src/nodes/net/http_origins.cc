// HttpOrigins (epos/nodes/http.h): the listener sockets of the active graphs, and the
// mapping of trace outcomes to HTTP responses.
#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "epos/nodes/http.h"

namespace epos {

HttpResponse ResponseFromOutcome(const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::kReply:
      return ResponseFromReply(outcome.value);
    case Outcome::Kind::kNoReply:
      return NoReplyResponse();
    case Outcome::Kind::kError: {
      HttpResponse response = ResponseFromError(outcome.value);
      if (IsDeadlineError(outcome.value)) response.status = 504;
      return response;
    }
  }
  return NoReplyResponse();
}

namespace {

// The scheduler slot of this I/O thread when it could attach to one (Scheduler::Attach):
// then the traces it starts run right here, and their replies are written by the same
// thread, with no hand-off to a worker and back.
thread_local Worker* t_attached = nullptr;

// One request's trace: answers the Responder with the outcome, then frees itself when the
// trace completes.
class RequestObserver final : public TraceObserver {
 public:
  explicit RequestObserver(Responder respond) : respond_(std::move(respond)) {}
  void OnOutcome(TraceId, Outcome outcome) override { respond_(ResponseFromOutcome(outcome)); }
  void OnComplete(const TraceSummary&) override { delete this; }

  Responder respond_;
};

}  // namespace

struct HttpOrigins::Listener {
  // Where requests go: swapped by Apply, read by every request under `mu`.
  struct Target {
    std::shared_ptr<const Graph> graph;
    NodeId node = kInvalidNode;
    std::chrono::nanoseconds deadline{0};
  };

  std::string name_space;
  std::string node_name;
  HttpListenerConfig config;
  std::mutex mu;
  Target target;  // guarded by mu
  std::unique_ptr<HttpServer> server;

  void Handle(Runtime& runtime, HttpRequest request, Responder respond) {
    Result<Value> payload = RequestToValue(request);
    if (!payload) {
      respond(ErrorResponse(400, payload.error().message));
      return;
    }
    auto* observer = new RequestObserver(std::move(respond));
    Result<TraceId> started = [&] {
      std::lock_guard<std::mutex> lock(mu);
      TraceOptions options;
      options.timeout = target.deadline;
      return runtime.StartTrace(target.graph, target.node, 0, std::move(*payload), observer,
                                options);
    }();
    if (!started) {
      // The runtime is stopping: the request was not taken, the client may retry.
      HttpResponse busy = ErrorResponse(503, started.error().message);
      busy.headers.emplace_back("Retry-After", "1");
      observer->respond_(std::move(busy));
      delete observer;
      return;
    }
    if (t_attached != nullptr) runtime.scheduler().RunLocal(*t_attached);
  }
};

HttpOrigins::HttpOrigins(Runtime& runtime, Options options)
    : runtime_(runtime), options_(options) {}

HttpOrigins::~HttpOrigins() { Stop(std::chrono::milliseconds(0)); }

std::vector<std::string> HttpOrigins::Apply(
    const std::vector<std::shared_ptr<const Graph>>& graphs) {
  struct Wanted {
    std::shared_ptr<const Graph> graph;
    NodeId node;
    const HttpListenerConfig* config;
  };
  std::vector<std::string> errors;
  auto label = [](const Graph& graph, NodeId node) {
    return "listener \"" + graph.name(node) + "\" (namespace " + std::string(graph.name_space()) +
           ")";
  };

  // Namespace order, then node order, so which of two clashing listeners wins is stable.
  std::vector<std::shared_ptr<const Graph>> sorted;
  for (const auto& g : graphs) {
    if (g) sorted.push_back(g);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a->name_space() < b->name_space(); });
  std::map<std::string, Wanted> wanted;
  for (const auto& graph : sorted) {
    for (NodeId id = 0; id < graph->node_count(); ++id) {
      const auto* listener = dynamic_cast<const HttpListenerNode*>(&graph->node(id));
      if (listener == nullptr) continue;
      std::string address = listener->config().Address();
      auto [it, inserted] = wanted.try_emplace(address, Wanted{graph, id, &listener->config()});
      if (!inserted) {
        errors.push_back(label(*graph, id) + ": address " + address + " is already used by " +
                         label(*it->second.graph, it->second.node));
      }
    }
  }

  // Let go of addresses no longer wanted first, so a listener that moved between two
  // addresses sharing a port (0.0.0.0:80 and 127.0.0.1:80) can bind its new one.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("http listener {} (namespace {}) on {}: stopping", it->second->node_name,
                 it->second->name_space, it->first);
    it->second->server->Stop(options_.drain);
    it = listeners_.erase(it);
  }

  for (auto& [address, w] : wanted) {
    const HttpListenerConfig& config = *w.config;
    auto existing = listeners_.find(address);
    if (existing != listeners_.end()) {
      Listener& l = *existing->second;
      {
        std::lock_guard<std::mutex> lock(l.mu);
        l.target = {w.graph, w.node, config.deadline};
      }
      l.server->SetLimits(config.limits);
      l.name_space = std::string(w.graph->name_space());
      l.node_name = w.graph->name(w.node);
      l.config = config;
      continue;
    }
    auto l = std::make_unique<Listener>();
    l->name_space = std::string(w.graph->name_space());
    l->node_name = w.graph->name(w.node);
    l->config = config;
    l->target = {w.graph, w.node, config.deadline};
    HttpServerOptions server_options;
    server_options.host = config.host;
    server_options.port = config.port;
    server_options.limits = config.limits;
    server_options.io_threads = options_.io_threads;
    Listener* raw = l.get();
    Runtime* runtime = &runtime_;
    server_options.on_io_thread_start = [runtime] { t_attached = runtime->scheduler().Attach(); };
    server_options.on_io_thread_exit = [runtime] {
      if (t_attached != nullptr) runtime->scheduler().Detach(*t_attached);
      t_attached = nullptr;
    };
    l->server = std::make_unique<HttpServer>(
        server_options, [raw, runtime](HttpRequest request, Responder respond) {
          raw->Handle(*runtime, std::move(request), std::move(respond));
        });
    if (Status started = l->server->Start(); !started) {
      errors.push_back(label(*w.graph, w.node) + ": " + started.error().message);
      continue;
    }
    std::string host =
        config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host;
    spdlog::info("http listener {} (namespace {}) listening on http://{}:{}", l->node_name,
                 l->name_space, host, l->server->port());
    listeners_.emplace(address, std::move(l));
  }
  return errors;
}

void HttpOrigins::Stop(std::chrono::milliseconds drain) {
  // Each server's Stop stops accepting at once and then drains; several are stopped in
  // parallel so one listener's drain does not keep the others accepting.
  if (listeners_.size() == 1) {
    listeners_.begin()->second->server->Stop(drain);
  } else {
    std::vector<std::thread> stoppers;
    for (auto& [address, l] : listeners_) {
      stoppers.emplace_back([server = l->server.get(), drain] { server->Stop(drain); });
    }
    for (std::thread& t : stoppers) t.join();
  }
  listeners_.clear();
}

std::vector<HttpOrigins::Bound> HttpOrigins::bound() const {
  std::vector<Bound> out;
  for (const auto& [address, l] : listeners_) {
    out.push_back({l->name_space, l->node_name, l->config.host, l->server->port()});
  }
  return out;
}

}  // namespace epos
