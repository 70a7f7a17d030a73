#include "epos/http/client.h"

#include <algorithm>
#include <cassert>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "epos/core/text.h"

namespace epos {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// An error_code's message as a clause: "connection refused", not "Connection refused".
std::string Reason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  if (!reason.empty()) reason[0] = AsciiLower(reason[0]);
  return reason;
}

bool IsIdempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    if (method == m) return true;
  }
  return false;
}

// Headers the client sets itself (framing and connection management).
bool IsClientManaged(std::string_view name) {
  for (std::string_view m : {"content-length", "transfer-encoding", "connection", "keep-alive",
                             "te", "trailer", "upgrade", "expect"}) {
    if (EqualsIgnoreCase(name, m)) return true;
  }
  return false;
}

}  // namespace

std::string HttpUrl::Authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string HttpUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? h : h + ":" + std::to_string(port);
}

std::string HttpUrl::ToString() const { return "http://" + HostHeader() + target; }

Result<HttpUrl> ParseHttpUrl(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "url \"" + std::string(text) + "\": " + std::string(why));
  };
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return fail("spaces and control characters must be percent-encoded");
    }
  }
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0) {
    return fail("must be an absolute http:// URL");
  }
  std::string scheme(text.substr(0, colon));
  for (char& c : scheme) c = AsciiLower(c);
  if (scheme == "https") return fail("https is not supported (only http://)");
  if (scheme != "http") return fail("scheme \"" + scheme + "\" is not supported (only http://)");

  std::string_view rest = text.substr(colon + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return fail("credentials in the url are not supported (send an Authorization header)");
  }

  HttpUrl url;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in the host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the host");
      port_text = after.substr(1);
    }
  } else {
    std::size_t c = authority.rfind(':');
    url.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) port_text = authority.substr(c + 1);
  }
  if (url.host.empty()) return fail("no host");
  if (!port_text.empty()) {
    unsigned long port = 0;
    bool digits = port_text.size() <= 5 && std::all_of(port_text.begin(), port_text.end(),
                                                       [](char c) { return c >= '0' && c <= '9'; });
    if (digits) port = std::stoul(std::string(port_text));
    if (!digits || port == 0 || port > 65535) {
      return fail("bad port \"" + std::string(port_text) + "\"");
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty()) {
    url.target = "/";
  } else if (tail.front() == '?') {
    url.target = "/" + std::string(tail);
  } else {
    url.target = std::string(tail);
  }
  return url;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------

namespace {

class Exchange;

// One TCP connection to a host:port. Owned by the exchange using it or by the idle pool.
struct Connection {
  Connection(net::io_context& ioc, std::string pool_key) : socket(ioc), key(std::move(pool_key)) {}
  tcp::socket socket;
  beast::flat_buffer buffer;  // empty between responses, or the connection is not reused
  const std::string key;      // the URL's authority
  bool idle = false;
  std::uint64_t epoch = 0;  // bumped on each pool entry and exit, so a stale watch is ignored

  void Close() {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
};

}  // namespace

namespace internal {

// The I/O thread's world. Everything below `I/O thread only` is touched only from handlers
// run by io_, so it needs no lock.
class HttpClientCore {
 public:
  explicit HttpClientCore(HttpClientOptions options)
      : options_(options), work_(net::make_work_guard(io_)) {}

  // Immutable after construction.
  const HttpClientOptions options_;
  net::io_context io_;
  std::thread thread_;  // started and joined by HttpClient

  // Internally synchronized.
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> reused_{0};
  std::atomic<std::size_t> idle_count_{0};

  // I/O thread only.
  std::unordered_map<Exchange*, std::shared_ptr<Exchange>> active_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle_;

  void ReleaseWork() { work_.reset(); }

  // The most recently pooled idle connection to `key`, or nullptr.
  std::shared_ptr<Connection> TakeIdle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::shared_ptr<Connection> conn = std::move(it->second.back());
    it->second.pop_back();
    if (it->second.empty()) idle_.erase(it);
    idle_count_.fetch_sub(1, std::memory_order_relaxed);
    conn->idle = false;
    ++conn->epoch;
    boost::system::error_code ignored;
    conn->socket.cancel(ignored);  // the readability watch
    return conn;
  }

  // Pools `conn` (or closes it when its host's pool is full or the client is stopping) and
  // watches it: readable while idle means the server closed it (or broke the protocol).
  void PutIdle(std::shared_ptr<Connection> conn) {
    auto& pool = idle_[conn->key];
    if (stopping_.load(std::memory_order_relaxed) || pool.size() >= options_.max_idle_per_host) {
      conn->Close();
      if (pool.empty()) idle_.erase(conn->key);
      return;
    }
    conn->idle = true;
    std::uint64_t epoch = ++conn->epoch;
    pool.push_back(conn);
    idle_count_.fetch_add(1, std::memory_order_relaxed);
    conn->socket.async_wait(tcp::socket::wait_read,
                            [this, conn, epoch](const boost::system::error_code& ec) {
                              if (ec == net::error::operation_aborted) return;
                              if (!conn->idle || conn->epoch != epoch) return;
                              DropIdle(conn);
                            });
  }

  void DropIdle(const std::shared_ptr<Connection>& conn) {
    auto it = idle_.find(conn->key);
    if (it != idle_.end()) {
      auto& pool = it->second;
      auto pos = std::find(pool.begin(), pool.end(), conn);
      if (pos != pool.end()) {
        pool.erase(pos);
        idle_count_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (pool.empty()) idle_.erase(it);
    }
    conn->idle = false;
    ++conn->epoch;
    conn->Close();
  }

  // On the I/O thread: fails every exchange in flight, closes every connection, and stops
  // the loop.
  void Shutdown();

 private:
  net::executor_work_guard<net::io_context::executor_type> work_;
};

}  // namespace internal

namespace {

// One request from Send to its callback, retry included. Kept alive by the handlers it has
// pending and by the core's `active_` table until it finishes.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(internal::HttpClientCore& core, HttpClientRequest request, HttpClientCallback done)
      : core_(core),
        request_(std::move(request)),
        done_(std::move(done)),
        timer_(core.io_),
        resolver_(core.io_) {}

  ~Exchange() {
    // Only when the io_context is destroyed with this exchange still pending (the loop
    // stopped before Shutdown ran): the callback is still owed.
    if (done_) done_(MakeError(ErrorCode::kUnavailable, "http client stopped"));
  }

  void Start() {
    if (request_.stop.stop_possible()) {
      // Runs at once, here, when stop was requested already.
      stop_callback_.emplace(request_.stop, Canceller{weak_from_this(), &core_.io_});
    }
    BuildMessage();
    timer_.expires_after(std::chrono::duration_cast<net::steady_timer::duration>(
        std::max(request_.timeout, std::chrono::nanoseconds(0))));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->finished_) return;
      self->Fail(ErrorCode::kDeadlineExceeded,
                 "timeout after " + FormatDuration(self->request_.timeout));
    });
    Acquire(/*pooled=*/true);
  }

  // Ends the exchange with `message` (the connection, if any, is closed, never reused).
  void Fail(ErrorCode code, std::string message) {
    CloseConnection();
    Finish(MakeError(code, std::move(message)));
  }

 private:
  // The stop callback: any thread; the exchange itself is touched only on the I/O thread.
  // It lives in stop_callback_, so it never runs after the exchange is gone.
  struct Canceller {
    std::weak_ptr<Exchange> exchange;
    net::io_context* io;
    void operator()() const {
      net::post(*io, [exchange = exchange] {
        if (auto self = exchange.lock(); self && !self->finished_) {
          self->Fail(ErrorCode::kUnavailable, "request cancelled");
        }
      });
    }
  };

  void BuildMessage() {
    msg_.version(11);
    msg_.method_string(request_.method);
    msg_.target(request_.url.target);
    msg_.set(http::field::host, request_.url.HostHeader());
    bool user_agent = false;
    for (const auto& [name, value] : request_.headers) {
      if (IsClientManaged(name)) continue;
      if (EqualsIgnoreCase(name, "host")) {
        msg_.set(http::field::host, value);
        continue;
      }
      if (EqualsIgnoreCase(name, "user-agent")) user_agent = true;
      msg_.insert(name, value);
    }
    if (!user_agent) msg_.set(http::field::user_agent, "epos");
    msg_.body() = request_.body;
    if (!msg_.body().empty() || request_.method == "POST" || request_.method == "PUT" ||
        request_.method == "PATCH") {
      msg_.content_length(msg_.body().size());
    }
  }

  void Acquire(bool pooled) {
    if (pooled) {
      conn_ = core_.TakeIdle(request_.url.Authority());
      if (conn_) {
        reused_ = true;
        core_.reused_.fetch_add(1, std::memory_order_relaxed);
        return Write();
      }
    }
    reused_ = false;
    resolver_.async_resolve(
        request_.url.host, std::to_string(request_.url.port), tcp::resolver::numeric_service,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (ec) {
            return self->Fail(ErrorCode::kUnavailable,
                              "resolve " + self->request_.url.host + ": " + Reason(ec));
          }
          self->Connect(std::move(results));
        });
  }

  void Connect(tcp::resolver::results_type results) {
    conn_ = std::make_shared<Connection>(core_.io_, request_.url.Authority());
    net::async_connect(conn_->socket, results,
                       [self = shared_from_this(), conn = conn_](
                           const boost::system::error_code& ec, const tcp::endpoint&) {
                         if (self->finished_ || conn != self->conn_) return;
                         if (ec) {
                           return self->Fail(
                               ErrorCode::kUnavailable,
                               "connect " + self->request_.url.Authority() + ": " + Reason(ec));
                         }
                         boost::system::error_code ignored;
                         conn->socket.set_option(tcp::no_delay(true), ignored);
                         self->core_.opened_.fetch_add(1, std::memory_order_relaxed);
                         self->Write();
                       });
  }

  void Write() {
    http::async_write(conn_->socket, msg_,
                      [self = shared_from_this(), conn = conn_](const boost::system::error_code& ec,
                                                                std::size_t) {
                        if (self->finished_ || conn != self->conn_) return;
                        if (ec) {
                          // Not all of the request left: the server cannot have acted on it.
                          if (self->reused_ && !self->retried_) return self->Retry();
                          return self->Fail(ErrorCode::kUnavailable, "send: " + Reason(ec));
                        }
                        self->Read();
                      });
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(64 << 10);
    parser_->body_limit(core_.options_.max_response_bytes);
    if (request_.method == "HEAD") parser_->skip(true);
    http::async_read(conn_->socket, conn_->buffer, *parser_,
                     [self = shared_from_this(), conn = conn_](const boost::system::error_code& ec,
                                                               std::size_t) {
                       if (self->finished_ || conn != self->conn_) return;
                       if (ec) return self->ReadFailed(ec);
                       self->Succeed();
                     });
  }

  void ReadFailed(const boost::system::error_code& ec) {
    const bool nothing = !parser_->got_some() && conn_->buffer.size() == 0;
    if (nothing && reused_ && !retried_ && IsIdempotent(request_.method)) return Retry();
    if (ec == http::error::body_limit) {
      return Fail(ErrorCode::kInvalidArgument,
                  "response body larger than " + std::to_string(core_.options_.max_response_bytes) +
                      " bytes");
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Fail(ErrorCode::kInvalidArgument, "bad response: " + Reason(ec));
    }
    Fail(ErrorCode::kUnavailable, "receive: " + Reason(ec));
  }

  // The pooled connection went stale under us: once more, on a new connection.
  void Retry() {
    retried_ = true;
    CloseConnection();
    Acquire(/*pooled=*/false);
  }

  void Succeed() {
    http::response<http::string_body> response = parser_->release();
    const bool reusable = response.keep_alive() && !parser_->need_eof() &&
                          conn_->buffer.size() == 0 && response.version() >= 11;
    std::shared_ptr<Connection> conn = std::move(conn_);
    if (reusable) {
      core_.PutIdle(std::move(conn));
    } else {
      conn->Close();
    }
    HttpClientResponse out;
    out.status = response.result_int();
    for (const auto& field : response) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(response.body());
    Finish(std::move(out));
  }

  void CloseConnection() {
    if (conn_) {
      conn_->Close();
      conn_.reset();
    }
  }

  void Finish(Result<HttpClientResponse> result) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    resolver_.cancel();
    HttpClientCallback done = std::move(done_);
    done_ = HttpClientCallback();
    std::shared_ptr<Exchange> keep = shared_from_this();  // `active_` may hold the last ref
    core_.active_.erase(this);
    done(std::move(result));
  }

  internal::HttpClientCore& core_;
  HttpClientRequest request_;
  HttpClientCallback done_;
  http::request<http::string_body> msg_;
  net::steady_timer timer_;
  tcp::resolver resolver_;
  std::shared_ptr<Connection> conn_;  // the one in use; handlers of an older one are ignored
  std::optional<http::response_parser<http::string_body>> parser_;
  bool reused_ = false;  // conn_ came from the pool
  bool retried_ = false;
  bool finished_ = false;
  std::optional<std::stop_callback<Canceller>> stop_callback_;  // last: destroyed first
};

}  // namespace

void internal::HttpClientCore::Shutdown() {
  std::vector<std::shared_ptr<Exchange>> pending;
  pending.reserve(active_.size());
  for (auto& [ptr, exchange] : active_) pending.push_back(exchange);
  for (auto& exchange : pending) exchange->Fail(ErrorCode::kUnavailable, "http client stopped");
  for (auto& [key, pool] : idle_) {
    for (auto& conn : pool) {
      conn->idle = false;
      conn->Close();
    }
  }
  idle_.clear();
  idle_count_.store(0, std::memory_order_relaxed);
  io_.stop();
}

HttpClient::HttpClient(HttpClientOptions options)
    : core_(std::make_shared<internal::HttpClientCore>(options)) {
  // The thread owns a reference, so the core outlives the loop even when the thread has to
  // be detached (see ~HttpClient).
  core_->thread_ = std::thread([core = core_] { core->io_.run(); });
}

HttpClient::~HttpClient() {
  core_->stopping_.store(true, std::memory_order_relaxed);
  if (std::this_thread::get_id() == core_->thread_.get_id()) {
    // Destroyed by a callback (the last holder let go there): no joining ourselves.
    core_->Shutdown();
    core_->ReleaseWork();
    core_->thread_.detach();
    return;
  }
  net::post(core_->io_, [core = core_.get()] { core->Shutdown(); });
  core_->ReleaseWork();
  core_->thread_.join();
}

std::shared_ptr<HttpClient> HttpClient::Shared() {
  static std::mutex mu;
  static std::weak_ptr<HttpClient> shared;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<HttpClient> client = shared.lock();
  if (!client) {
    client = std::make_shared<HttpClient>();
    shared = client;
  }
  return client;
}

void HttpClient::Send(HttpClientRequest request, HttpClientCallback done) {
  if (core_->stopping_.load(std::memory_order_relaxed)) {
    done(MakeError(ErrorCode::kUnavailable, "http client stopped"));
    return;
  }
  auto exchange = std::make_shared<Exchange>(*core_, std::move(request), std::move(done));
  net::post(core_->io_, [core = core_.get(), exchange = std::move(exchange)]() mutable {
    Exchange* key = exchange.get();
    core->active_.emplace(key, exchange);
    exchange->Start();
  });
}

std::uint64_t HttpClient::connections_opened() const {
  return core_->opened_.load(std::memory_order_relaxed);
}
std::uint64_t HttpClient::connections_reused() const {
  return core_->reused_.load(std::memory_order_relaxed);
}
std::size_t HttpClient::idle_connections() const {
  return core_->idle_count_.load(std::memory_order_relaxed);
}

}  // namespace epos
