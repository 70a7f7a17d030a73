// The HTTP server kinds of DESIGN.md §5: `http.listener` (alias `listener`) and
// `http.router` (alias `router`), and HttpOrigins, which serves the listeners of the active
// graphs.
//
// http.listener — fields:
//   protocol  "http" (the only one; accepted for uniflow's specs)
//   host      address or name to bind, default "127.0.0.1"
//   port      0..65535, an integer or a numeric string ('{{ .PORT }}'); 0 takes an
//             ephemeral port, logged when the listener starts
//   limits    map, every entry optional:
//     body            request body size (1MiB); larger → 413 and the connection closes
//     header          request header size (16KiB); larger → 431
//     inflight        requests being served at once (10000); beyond → 503 + Retry-After: 1
//     header_timeout  time to read a request header (10s); then the connection closes
//     idle_timeout    a kept-alive connection's wait for its next request, and the time
//                     budget to read a body and write a response (60s)
//     deadline        trace deadline (none); a trace past it fails and is answered 504
// ports: out (each request: one trace whose payload is {method, path, query, header, body};
// see RequestToValue in epos/http/server.h), error (declared as in the contract; a request
// whose JSON body does not parse is answered 400 before any trace starts).
// The listener node itself only passes the request on; the socket belongs to HttpOrigins.
//
// http.router — field `routes: [{method, path, port}]`; `port` is `out`, `out[i]` (as in
// uniflow) or an integer i. Patterns, precedence and 404/405 rules are RouteTable's
// (epos/http/routes.h). A matched request goes on to its port with `params` added (a map of
// the decoded path parameters). A miss answers the trace itself: 404 {"error": "no route
// for GET /x"}, or 405 {"error": "method POST not allowed for /x"} with an Allow header.
// Input that is not a request map (no string method and path) fails the node.
//
// Thread-safety: nodes are immutable. HttpOrigins is driven from one controlling thread.
#ifndef EPOS_NODES_HTTP_H_
#define EPOS_NODES_HTTP_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epos/exec/runtime.h"
#include "epos/graph/graph.h"
#include "epos/http/routes.h"
#include "epos/http/server.h"
#include "epos/spec/scheme.h"

namespace epos {

// What an http.listener spec asks for.
struct HttpListenerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  HttpLimits limits;
  std::chrono::nanoseconds deadline{0};  // 0: none

  // "host:port" as configured (port 0 stays 0): the identity of the socket across reloads.
  std::string Address() const;
};

// The compiled listener: an origin node. HttpOrigins starts one trace per request at its
// input in[0]; the node emits the request on `out`.
class HttpListenerNode final : public Node {
 public:
  explicit HttpListenerNode(HttpListenerConfig config) : config_(std::move(config)) {}
  const HttpListenerConfig& config() const { return config_; }

  void OnPulse(Context& ctx, PortIndex port, Value payload) override;
  PortShape ports() const override { return {.inputs = 1, .outputs = 1, .error_port = true}; }

 private:
  const HttpListenerConfig config_;
};

// Registers http.listener (listener) and http.router (router). Errors: as for
// Scheme::Register or Alias (a name already taken); registration stops at the first.
[[nodiscard]] Status RegisterHttpServerKinds(Scheme& scheme);

// The HTTP response for a trace's outcome: a reply per ResponseFromReply, no reply → 204, a
// failure → 500 with the error JSON, or 504 when the failure is the trace deadline.
HttpResponse ResponseFromOutcome(const Outcome& outcome);

// The listener sockets of every active graph (DESIGN.md §4 Hot reload): one HttpServer per
// configured address. Apply() is given the active graphs after each activation and makes
// the servers match: a new address is bound and starts serving; an address that is still
// wanted keeps its socket and open connections, and new requests go to the new graph
// version (requests in flight finish on theirs), with the new limits; an address no longer
// wanted stops accepting and drains. So a reload drops no request.
//
// Each I/O thread attaches to a spare worker slot of the runtime when one is free
// (RuntimeOptions::attachable, Scheduler::Attach): a request's trace then starts and runs
// on the I/O thread that read it, and its reply is written by that thread, with no
// hand-off to a worker and back; fan-out is stolen by the workers as usual, and
// asynchronous completions (timers, SQL, HTTP calls) resume on the workers. Without a
// free slot, traces are handed to the workers.
//
// Thread-safety: Apply and Stop from one controlling thread. Requests run on the servers'
// I/O threads and the runtime's workers.
class HttpOrigins {
 public:
  struct Options {
    int io_threads = 1;                                         // per listener
    std::chrono::milliseconds drain = std::chrono::seconds(5);  // for listeners Apply drops
  };

  // `runtime` must outlive this object and keep running until Stop returned.
  HttpOrigins(Runtime& runtime, Options options);
  HttpOrigins(const HttpOrigins&) = delete;
  HttpOrigins& operator=(const HttpOrigins&) = delete;
  ~HttpOrigins();  // Stop(0)

  // Serves the listeners of `graphs` (any order; at most one graph per namespace). Returns
  // one message per listener that could not be served: a bind failure ("listener
  // \"api\" (namespace shop): listen 127.0.0.1:8080: address already in use") or an address
  // already taken by another listener; the others are served regardless.
  std::vector<std::string> Apply(const std::vector<std::shared_ptr<const Graph>>& graphs);

  // Stops accepting on every listener, lets requests in flight be answered for up to
  // `drain`, then closes them all. Idempotent.
  void Stop(std::chrono::milliseconds drain);

  struct Bound {
    std::string name_space;
    std::string node;
    std::string host;
    std::uint16_t port = 0;  // the bound port
  };
  // The listeners being served, by configured address.
  std::vector<Bound> bound() const;

 private:
  struct Listener;
  Runtime& runtime_;
  Options options_;
  std::map<std::string, std::unique_ptr<Listener>> listeners_;  // by configured address
};

}  // namespace epos

#endif  // EPOS_NODES_HTTP_H_
