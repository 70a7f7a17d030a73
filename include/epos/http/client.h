// HTTP/1.1 client behind the `http.client` node (DESIGN.md §5), on Boost.Beast over
// Boost.Asio: asynchronous from resolution to the last body byte, with a whole-request
// timeout and a keep-alive connection pool per host:port. Plain http:// only (no TLS).
//
// Threading. The client owns an io_context run by one I/O thread. Send may be called from
// any thread; it posts the request to the I/O thread and returns at once. The pool, the
// connections and every exchange are touched only on the I/O thread, so they need no lock.
// The callback runs on the I/O thread (or inline, when the client is stopping) and must not
// block: hand the result on (AsyncOp::Resume) and return.
//
// Connection reuse. After a response that allows it (HTTP/1.1 without "Connection: close",
// the body delimited by length or chunking, no bytes left over) the connection goes back to
// the idle pool of its host:port, at most `max_idle_per_host` of them (extra ones are
// closed). An idle connection is watched for readability: the server closing it (or sending
// anything unasked) removes it from the pool at once. A connection that failed, timed out or
// got "Connection: close" is never reused. When a reused connection fails before any byte
// of the response arrived (the server closed it while the request was on its way), the
// request is retried once on a new connection, provided the method is idempotent (RFC 9110
// §9.2.2: GET, HEAD, PUT, DELETE, OPTIONS, TRACE), as Go's net/http does: a POST that may
// have reached the server is not sent twice.
#ifndef EPOS_HTTP_CLIENT_H_
#define EPOS_HTTP_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "epos/core/status.h"
#include "epos/core/unique_function.h"
#include "epos/http/server.h"

namespace epos {

// An absolute http:// URL split for a request (RFC 3986 §3). `host` is without brackets
// for IPv6 literals; `target` is the path and query as written ("/" when empty), the
// fragment dropped.
struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";

  // "host:port" (IPv6 in brackets): the key of the connection pool.
  std::string Authority() const;
  // The Host header: the authority without ":80".
  std::string HostHeader() const;
  // "http://" + HostHeader() + target.
  std::string ToString() const;
};

// Parses `text` as an absolute http:// URL (scheme case-insensitive). Errors
// (kInvalidArgument), e.g.:
//   url "https://x": https is not supported (only http://)
//   url "ftp://x": scheme "ftp" is not supported (only http://)
//   url "example.com": must be an absolute http:// URL
//   url "http://:80/": no host; "http://h:99999/": bad port "99999";
//   "http://u:p@h/": credentials in the url are not supported (send an Authorization header)
// Characters that cannot appear in a request line (spaces, controls) are rejected.
[[nodiscard]] Result<HttpUrl> ParseHttpUrl(std::string_view text);

// Percent-encodes `text` for a query component (RFC 3986 §2.1): unreserved characters
// (A-Z a-z 0-9 - . _ ~) stay, every other byte becomes %XX.
std::string PercentEncode(std::string_view text);

struct HttpClientRequest {
  std::string method = "GET";  // upper-case token
  HttpUrl url;
  // Sent as given, in order, after Host and before a default "User-Agent: epos" (sent
  // when none is given). Content-Length, Transfer-Encoding, Connection, Keep-Alive, TE,
  // Trailer, Upgrade and Expect are the client's own and ignored when given; a given Host
  // replaces the URL's.
  HttpHeaders headers;
  // Sent with its Content-Length; an empty body sends "Content-Length: 0" for POST, PUT and
  // PATCH and no Content-Length for other methods.
  std::string body;
  // The whole exchange: resolution, connection, writing and reading, retry included.
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  // When stop is requested (from any thread, before or during the exchange), the exchange
  // ends at once with kUnavailable "request cancelled" and its connection is closed, never
  // reused. The Runtime requests it when it stops past its drain deadline (AsyncOp).
  std::stop_token stop;
};

struct HttpClientResponse {
  unsigned status = 0;
  HttpHeaders headers;  // wire order, names as the server sent them
  std::string body;     // decoded from chunked transfer coding; content codings are not undone
};

// Called exactly once with the response (any status, 4xx and 5xx included) or an error:
//   kDeadlineExceeded "timeout after 200ms"
//   kUnavailable "resolve HOST: <reason>", "connect HOST:PORT: <reason>" (e.g. "connection
//     refused"), "send: <reason>", "receive: <reason>" (e.g. "end of stream" when the server
//     closed without answering), "http client stopped", "request cancelled"
//   kInvalidArgument "bad response: <reason>" (not HTTP), "response body larger than N bytes"
using HttpClientCallback = UniqueFunction<void(Result<HttpClientResponse>)>;

struct HttpClientOptions {
  std::size_t max_idle_per_host = 64;
  std::size_t max_response_bytes = 64 << 20;  // body; larger responses fail
};

namespace internal {
class HttpClientCore;
}

// Thread-safety: Send and the counters from any thread. The destructor (from any thread
// but the I/O thread's callbacks, where it must not run) fails the exchanges in flight with
// "http client stopped", closes every connection and joins the I/O thread.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // The process-wide client shared by every http.client node: created on first use and
  // destroyed when the last holder lets go (the last graph using it), so a process with no
  // HTTP nodes has no I/O thread.
  static std::shared_ptr<HttpClient> Shared();

  void Send(HttpClientRequest request, HttpClientCallback done);

  // For tests and metrics: TCP connections opened (connect succeeded) so far; exchanges
  // that ran on a pooled connection; idle pooled connections now.
  std::uint64_t connections_opened() const;
  std::uint64_t connections_reused() const;
  std::size_t idle_connections() const;

 private:
  std::shared_ptr<internal::HttpClientCore> core_;
};

}  // namespace epos

#endif  // EPOS_HTTP_CLIENT_H_
