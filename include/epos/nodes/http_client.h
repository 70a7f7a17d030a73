// The `http.client` node kind (alias `http`, as in uniflow) of DESIGN.md §5: sends one HTTP
// request per pulse, asynchronously, and emits the response.
//
// Fields (all optional, checked at compile time):
//   url      absolute http:// URL (https is reported as not supported); required unless
//            every input gives one
//   method   GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS; case-insensitive
//   timeout  the whole request (resolve, connect, send, receive; a retry included), a
//            duration such as 250ms or a number of seconds; default 30s, must be > 0
//   header   map of header name → string value, sent with every request
//
// Input. A map holding any of the keys `url`, `method`, `header`, `body`, `query` describes
// the request (so a listener's request payload can be forwarded), and its other keys are
// ignored:
//   url     string, replaces the field
//   method  string, replaces the field (same choices)
//   header  map, merged over the field's headers (names compared case-insensitively; a
//           string value as is, null removes the header, other values as compact JSON)
//   query   map appended to the URL's query: key=value percent-encoded, an array value
//           repeats the key, null values skipped; or a string appended as written
//   body    the body (below); absent or null: none
// Any other payload is the body itself, except for GET and HEAD, which then send no body
// (so a trigger's payload is not sent by mistake); to send a map that has one of those keys
// as a body, wrap it: {body: {...}}.
// Body encoding, with the Content-Type it implies unless a header gives one:
//   string  as is                  text/plain; charset=utf-8
//   bytes   as is                  application/octet-stream
//   other   compact JSON           application/json
//           (with a given Content-Type of application/x-www-form-urlencoded a map is
//           form-encoded instead: key=value&..., values as for `query`)
// The client sets Content-Length, Connection and the framing headers itself, and sends
// "User-Agent: epos" unless a header gives one.
//
// Output (`out`): {status, header, body} for every response, 4xx and 5xx included (as
// uniflow and Node-RED do): status an int; header a map with lower-case names, repeated
// fields joined by ", "; body the decoded JSON value when the response's Content-Type is
// application/json or */*+json (an empty body is null; a body that does not parse stays a
// string), else the body as a string (HEAD: "").
//
// Errors (`error` port via Context::Fail, or the trace fails when it is not connected), as
// "METHOD URL: reason":
//   GET http://127.0.0.1:1/: connect 127.0.0.1:1: connection refused
//   GET http://nowhere.invalid/: resolve nowhere.invalid: host not found ...
//   GET http://127.0.0.1:8080/slow: timeout after 200ms
//   GET http://127.0.0.1:8080/: receive: end of stream        (closed without answering)
//   GET http://127.0.0.1:8080/: bad response: bad version     (not HTTP)
// and input problems: "no url: set the url field or give url in the input", a bad input
// url, method, header or query, "https is not supported (only http://)".
//
// Every http.client node uses HttpClient::Shared() (epos/http/client.h): one I/O thread and
// one keep-alive pool per host:port for the process, alive while a graph holds such a node.
// The node holds no worker while the request is in flight (an AsyncOp keeps the trace
// active); the response is decoded on a worker.
//
// Thread-safety: the node is immutable after compilation and runs on any number of workers
// at once; the client is internally synchronized.
#ifndef EPOS_NODES_HTTP_CLIENT_H_
#define EPOS_NODES_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "epos/graph/node.h"
#include "epos/http/client.h"
#include "epos/spec/scheme.h"

namespace epos {

// A compiled http.client spec.
struct HttpClientConfig {
  std::optional<HttpUrl> url;  // none: every input must give one
  std::string method = "GET";
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  HttpHeaders header;
};

std::unique_ptr<Node> MakeHttpClientNode(HttpClientConfig config,
                                         std::shared_ptr<HttpClient> client);

// Registers `http.client` and its alias `http`. Errors: as for Scheme::Register or Alias
// (a name already taken); registration stops at the first.
[[nodiscard]] Status RegisterHttpClientKind(Scheme& scheme);

}  // namespace epos

#endif  // EPOS_NODES_HTTP_CLIENT_H_
