// HTTP/1.1 server core for the `http.listener` node (DESIGN.md §4 Replies, §5), on
// Boost.Beast over Boost.Asio; Beast does all the parsing and serialising.
//
// Threading. The server runs its own io_context on `io_threads` threads. Each connection
// lives on its own strand; the handler is called on an I/O thread, on that strand, once a
// whole request (header and body) has been read, so it must not block: hand the work to
// the runtime and return. The Responder it gets may be called later from any thread (the
// trace completes on a worker); it posts the write back to the connection's strand, and
// the socket is only ever touched there. A connection reads no further request until the
// current one is answered. Stop() must not be called from an I/O thread (i.e. a handler).
#ifndef EPOS_HTTP_SERVER_H_
#define EPOS_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos {

// Header fields in wire order; names as the client sent them (compare case-insensitively).
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One request as read off the wire. `target` is the request-target verbatim; `path` is its
// path component as sent, still percent-encoded, so the router splits it into segments
// before decoding each (an encoded '/' stays inside its segment), as Express's req.path
// (an absolute-form target "http://h/p" gives "/p");
// `query_string` is the raw text after '?' (no '?'), not decoded.
struct HttpRequest {
  std::string method;
  std::string target;
  std::string path;
  std::string query_string;
  HttpHeaders headers;
  std::string body;
  unsigned version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1

  // The first header named `name` (case-insensitive), or "" when there is none.
  std::string_view Header(std::string_view name) const;
};

// The listener payload `{method, path, query, header, body, params}` (DESIGN.md §5; params
// is an empty map here, filled by http.router with the path parameters):
//  - query: map of the decoded query parameters ('+' is a space, %XX decoded, invalid
//    escapes kept as written); a key given once maps to its string, a key repeated maps
//    to an array of its strings in order (as Node's querystring); "a" alone gives "".
//  - header: map with lower-case names; repeated fields joined by ", " (RFC 9110 §5.3).
//  - body: when Content-Type is application/json or */*+json, the decoded JSON value
//    (an empty body is null); otherwise the body as a string.
// Errors: kInvalidArgument "request body: invalid JSON at line L, column C: ..." when the
// content type says JSON and the body does not parse (answer it with 400).
[[nodiscard]] Result<Value> RequestToValue(const HttpRequest& request);

// A response to write. Content-Length, Connection and Server are set by the server; a
// Content-Length given here is replaced by the real one.
struct HttpResponse {
  unsigned status = 200;
  HttpHeaders headers;
  std::string body;
};

// DESIGN.md §4: a map with an integer `status` (100..599) sets the status, its optional
// `headers` map (string values as is, others as compact JSON) and its optional `body`;
// any other payload is the body. A body string is text/plain; charset=utf-8, bytes are
// application/octet-stream, null (in a status map) is empty, anything else is compact JSON
// (application/json). A Content-Type in `headers` wins over the derived one. A status map
// with a non-integer or out-of-range status gives a 500 naming it.
[[nodiscard]] HttpResponse ResponseFromReply(const Value& reply);
// A failed trace: 500 with the error value as JSON.
[[nodiscard]] HttpResponse ResponseFromError(const Value& error);
// A trace that completed without a reply: 204, no body.
[[nodiscard]] HttpResponse NoReplyResponse();
// `status` with the JSON body {"error": message}; e.g. 400 for a RequestToValue error.
[[nodiscard]] HttpResponse ErrorResponse(unsigned status, std::string_view message);

namespace internal {
class HttpServerCore;
// Where a Responder delivers; implemented by the server (and by test fakes).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Called exactly once, from any thread.
  virtual void Deliver(HttpResponse response) = 0;
};
}  // namespace internal

// A one-shot, move-only answer to one request. Calling it from any thread posts the write
// to the connection's strand; it never blocks and never calls back into the caller. Calls
// after the first are ignored, as are calls after the connection closed or the server
// stopped. Destroying an uncalled Responder answers 500 {"error": "request dropped without
// a response"}, so a lost callback can never hang a connection.
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::unique_ptr<internal::ResponseSink> sink) : sink_(std::move(sink)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void operator()(HttpResponse response);
  // True until called (or moved from).
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  std::unique_ptr<internal::ResponseSink> sink_;
};

struct HttpLimits {
  std::size_t body_bytes = 1 << 20;     // larger bodies get 413 and the connection closes
  std::size_t header_bytes = 16 << 10;  // larger request headers get 431
  // From connection (or the first byte of a kept-alive request) to the end of the header;
  // on expiry the connection is closed without a response.
  std::chrono::milliseconds header_timeout{10'000};
  // Between requests on a kept-alive connection, and the budget to read a body and to
  // write a response.
  std::chrono::milliseconds idle_timeout{60'000};
  // Requests handed to the handler and not yet answered, server-wide; beyond it requests
  // get 503 with Retry-After: 1 without reaching the handler.
  std::size_t max_inflight = 10'000;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an address or a resolvable name
  std::uint16_t port = 0;          // 0: an ephemeral port, see HttpServer::port()
  HttpLimits limits;
  int io_threads = 1;
  // Run on each I/O thread when it starts and when it is about to end (after the last
  // handler), e.g. to attach the thread to the runtime's scheduler. Optional.
  std::function<void()> on_io_thread_start;
  std::function<void()> on_io_thread_exit;
};

using HttpHandler = std::function<void(HttpRequest request, Responder respond)>;

// An HTTP/1.1 server: keep-alive per Beast semantics (HTTP/1.0 and "Connection: close"
// close after the response), Expect: 100-continue answered, one request at a time per
// connection. Malformed requests get 400 and a close; nothing a client sends crashes it.
//
// Thread-safety: Start, Stop and port are called from one controlling thread (not an I/O
// thread). The handler is called concurrently from the I/O threads (one call at a time per
// connection). The server owns its io_context, threads, sockets and sessions; the handler
// is copied in and destroyed with the server.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Stop(0) if still running.
  ~HttpServer();

  // Binds, listens and starts the I/O threads. Errors: kInvalidArgument / kUnavailable
  // "listen HOST:PORT: <reason>", e.g. "listen 127.0.0.1:8080: address already in use".
  // Call once.
  [[nodiscard]] Status Start();

  // The bound port (the ephemeral one when options.port was 0); 0 before Start.
  std::uint16_t port() const;

  // Stops accepting and closes idle connections at once, lets requests already handed to
  // the handler be answered and written for up to `drain`, then closes every connection
  // and joins the I/O threads. Responders called afterwards do nothing. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  // Replaces the limits (a hot reload that kept the address): requests that start reading
  // afterwards get the new ones; max_inflight applies at once. Any thread.
  void SetLimits(const HttpLimits& limits);

  // Requests handed to the handler and not yet answered (for tests and metrics).
  std::size_t inflight() const;

 private:
  std::unique_ptr<internal::HttpServerCore> impl_;
};

}  // namespace epos

#endif  // EPOS_HTTP_SERVER_H_
