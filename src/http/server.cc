#include "epos/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "epos/core/json.h"
#include "epos/http/routes.h"

namespace epos {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// The query parameters; see RequestToValue.
Value QueryToValue(std::string_view query) {
  std::vector<std::pair<std::string, std::vector<std::string>>> params;
  std::unordered_map<std::string, std::size_t> index;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1), true);
    auto [it, inserted] = index.try_emplace(key, params.size());
    if (inserted) params.emplace_back(std::move(key), std::vector<std::string>());
    params[it->second].second.push_back(std::move(value));
  }
  std::vector<MapEntry> entries;
  entries.reserve(params.size());
  for (auto& [key, values] : params) {
    if (values.size() == 1) {
      entries.push_back({std::move(key), Value(values[0])});
    } else {
      std::vector<Value> items(values.begin(), values.end());
      entries.push_back({std::move(key), Value::Array(std::move(items))});
    }
  }
  return Value::Map(std::move(entries));
}

// application/json, application/problem+json, ...; parameters (charset) ignored.
bool IsJsonMediaType(std::string_view content_type) {
  std::string type = Lower(content_type.substr(0, content_type.find(';')));
  auto first = type.find_first_not_of(" \t");
  if (first == std::string::npos) return false;
  type = type.substr(first, type.find_last_not_of(" \t") - first + 1);
  return type == "application/json" ||
         (type.find('/') != std::string::npos && type.size() > 5 && type.ends_with("+json"));
}

void SetContentType(HttpResponse& response, std::string_view type) {
  for (const auto& [name, value] : response.headers) {
    if (EqualsIgnoreCase(name, "content-type")) return;
  }
  response.headers.emplace_back("Content-Type", std::string(type));
}

// Sets the body from a payload: strings as text, bytes raw, null empty, else JSON.
void SetBody(HttpResponse& response, const Value& body, bool null_is_empty) {
  if (body.IsString()) {
    response.body = std::string(body.AsString());
    SetContentType(response, "text/plain; charset=utf-8");
  } else if (body.IsBytes()) {
    response.body = std::string(body.AsBytes());
    SetContentType(response, "application/octet-stream");
  } else if (body.IsNull() && null_is_empty) {
    response.body.clear();
  } else {
    response.body = ToJson(body);
    SetContentType(response, "application/json");
  }
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

Result<Value> RequestToValue(const HttpRequest& request) {
  std::vector<MapEntry> header_entries;
  std::unordered_map<std::string, std::size_t> header_index;
  for (const auto& [name, value] : request.headers) {
    std::string key = Lower(name);
    auto [it, inserted] = header_index.try_emplace(key, header_entries.size());
    if (inserted) {
      header_entries.push_back({std::move(key), Value()});
      header_entries.back().value = Value(value);
    } else {
      Value& joined = header_entries[it->second].value;
      joined = Value(std::string(joined.AsString()) + ", " + value);
    }
  }

  Value body;
  if (IsJsonMediaType(request.Header("content-type"))) {
    if (!request.body.empty()) {
      Result<Value> parsed = ParseJson(request.body);
      if (!parsed) {
        return MakeError(ErrorCode::kInvalidArgument, "request body: " + parsed.error().message);
      }
      body = std::move(*parsed);
    }
  } else {
    body = Value(request.body);
  }

  return Value::Map({
      {"method", Value(request.method)},
      {"path", Value(request.path)},
      {"query", QueryToValue(request.query_string)},
      {"header", Value::Map(std::move(header_entries))},
      {"body", std::move(body)},
      {"params", Value::Map(std::vector<MapEntry>{})},
  });
}

HttpResponse ResponseFromReply(const Value& reply) {
  HttpResponse response;
  const Value* status = reply.IsMap() ? reply.Find("status") : nullptr;
  if (status == nullptr) {
    SetBody(response, reply, /*null_is_empty=*/false);
    return response;
  }
  if (!status->IsInt() || status->AsInt() < 100 || status->AsInt() > 599) {
    return ErrorResponse(500,
                         "reply status " + ToJson(*status) + " is not an integer from 100 to 599");
  }
  response.status = static_cast<unsigned>(status->AsInt());
  Value headers = reply["headers"];
  if (headers.IsMap()) {
    for (const MapEntry& entry : headers.AsMap()) {
      response.headers.emplace_back(entry.key, entry.value.IsString()
                                                   ? std::string(entry.value.AsString())
                                                   : ToJson(entry.value));
    }
  } else if (!headers.IsNull()) {
    return ErrorResponse(500, "reply headers must be a map, not " + ToJson(headers));
  }
  SetBody(response, reply["body"], /*null_is_empty=*/true);
  return response;
}

HttpResponse ResponseFromError(const Value& error) {
  HttpResponse response;
  response.status = 500;
  response.body = ToJson(error);
  response.headers.emplace_back("Content-Type", "application/json");
  return response;
}

HttpResponse NoReplyResponse() {
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse ErrorResponse(unsigned status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = ToJson(Value::Map({{"error", Value(message)}}));
  response.headers.emplace_back("Content-Type", "application/json");
  return response;
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Responder dropped(std::move(*this));  // answers 500 if it was still pending
    sink_ = std::move(other.sink_);
  }
  return *this;
}

Responder::~Responder() {
  if (sink_) sink_->Deliver(ErrorResponse(500, "request dropped without a response"));
}

void Responder::operator()(HttpResponse response) {
  if (!sink_) return;
  std::unique_ptr<internal::ResponseSink> sink = std::move(sink_);
  sink->Deliver(std::move(response));
}

// ---------------------------------------------------------------------------------------

namespace {

class Session;

// Lets Responders on other threads post to the io_context only while it exists. Stop()
// closes it (under mu) before the io_context is destroyed.
struct Gate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

}  // namespace

namespace internal {
class HttpServerCore {
 public:
  HttpServerCore(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(std::make_unique<net::io_context>(std::max(1, options_.io_threads))),
        gate_(std::make_shared<Gate>()),
        limits_(std::make_shared<const HttpLimits>(options_.limits)),
        max_inflight_(options_.limits.max_inflight) {}

  Status Start();
  void Stop(std::chrono::milliseconds drain);

  // Immutable after construction.
  const HttpServerOptions options_;
  const HttpHandler handler_;

  // Connections call these from their strands.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // False (and nothing counted) when max_inflight requests are already in flight.
  bool TryAcquireInflight() {
    if (inflight_.fetch_add(1, std::memory_order_acq_rel) >=
        max_inflight_.load(std::memory_order_relaxed)) {
      ReleaseInflight();
      return false;
    }
    return true;
  }
  void ReleaseInflight() {
    if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(drain_mu_);  // so Stop cannot miss the wake-up
      drained_.notify_all();
    }
  }
  void Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);
  const std::shared_ptr<Gate>& gate() const { return gate_; }

  // The limits in force. A connection re-reads them (a locked copy) only when the version
  // moved, so SetLimits costs nothing per request.
  std::uint64_t limits_version() const { return limits_version_.load(std::memory_order_acquire); }
  std::shared_ptr<const HttpLimits> limits() const {
    std::lock_guard<std::mutex> lock(limits_mu_);
    return limits_;
  }
  void SetLimits(const HttpLimits& limits) {
    {
      std::lock_guard<std::mutex> lock(limits_mu_);
      limits_ = std::make_shared<const HttpLimits>(limits);
    }
    max_inflight_.store(limits.max_inflight, std::memory_order_relaxed);
    limits_version_.fetch_add(1, std::memory_order_acq_rel);
  }

  std::unique_ptr<net::io_context> ioc_;
  std::optional<tcp::acceptor> acceptor_;  // used on acceptor_strand_ only after Start
  std::optional<net::strand<net::io_context::executor_type>> acceptor_strand_;
  std::optional<net::steady_timer> accept_retry_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<std::size_t> inflight_{0};

 private:
  void Accept();

  std::atomic<bool> stopping_{false};
  bool started_ = false;  // controlling thread only
  bool stopped_ = false;  // controlling thread only
  const std::shared_ptr<Gate> gate_;

  mutable std::mutex limits_mu_;
  std::shared_ptr<const HttpLimits> limits_;  // guarded by limits_mu_
  std::atomic<std::uint64_t> limits_version_{0};
  std::atomic<std::size_t> max_inflight_;

  std::mutex drain_mu_;
  std::condition_variable drained_;

  std::mutex sessions_mu_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;  // guarded by sessions_mu_
};
}  // namespace internal

namespace {

// One connection. Lives on its strand; kept alive by the server's registry (and by its
// pending handlers) until it closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(internal::HttpServerCore& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {}

  ~Session() {
    if (counted_) server_.ReleaseInflight();
  }

  void Begin() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->AwaitRequest(); });
  }

  // From Stop: close now unless a request is with the handler or being answered.
  void CloseIfIdle() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

  // From a Responder, on the strand.
  void Answer(HttpResponse response) {
    if (closed_ || !busy_) {
      ReleaseCounted();
      return;
    }
    Write(std::move(response), /*keep_alive=*/keep_alive_ && !server_.stopping(), true);
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  // The server's limits as of this request (see HttpServerCore::limits).
  const HttpLimits& limits() {
    std::uint64_t version = server_.limits_version();
    if (!limits_ || version != limits_version_) {
      limits_ = server_.limits();
      limits_version_ = version;
    }
    return *limits_;
  }

  void ReleaseCounted() {
    if (counted_) {
      counted_ = false;
      server_.ReleaseInflight();
    }
  }

  // Waits for the first byte of the next request (idle_timeout between kept-alive
  // requests, header_timeout on a new connection), then reads its header.
  void AwaitRequest() {
    if (closed_) return;
    if (server_.stopping() && requests_ > 0) return Close();
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(limits().header_bytes, UINT32_MAX)));
    parser_->body_limit(limits().body_bytes);
    if (buffer_.size() > 0) return ReadHeader();
    stream_.expires_after(requests_ == 0 ? limits().header_timeout : limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    stream_.expires_after(limits().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->ReadFailed(ec);
                              self->ReadBody();
                            });
  }

  void ReadBody() {
    auto& req = parser_->get();
    if (req.version() >= 11 && EqualsIgnoreCase(Sv(req[http::field::expect]), "100-continue") &&
        !parser_->is_done()) {
      // The client waits for this before sending the body (curl does for large bodies).
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      stream_.expires_after(limits().idle_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          self->ReadRest();
                        });
      return;
    }
    ReadRest();
  }

  void ReadRest() {
    stream_.expires_after(limits().idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->Dispatch();
                     });
  }

  void ReadFailed(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::body_limit) {
      return Write(ErrorResponse(413, "request body larger than " +
                                          std::to_string(limits().body_bytes) + " bytes"),
                   false, false);
    }
    if (ec == http::error::header_limit) {
      return Write(ErrorResponse(431, "request header larger than " +
                                          std::to_string(limits().header_bytes) + " bytes"),
                   false, false);
    }
    // A parse error proper (not the peer going away or a timeout): tell the client.
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Write(ErrorResponse(400, "malformed request: " + ec.message()), false, false);
    }
    Close();  // end of stream, reset, timeout, or the server stopping
  }

  void Dispatch() {
    ++requests_;
    http::request<http::string_body> msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    version_ = msg.version();
    busy_ = true;
    if (server_.stopping()) {  // read after Stop began: refuse rather than start new work
      HttpResponse stopping = ErrorResponse(503, "server stopping");
      stopping.headers.emplace_back("Retry-After", "1");
      return Write(std::move(stopping), false, false);
    }
    if (!server_.TryAcquireInflight()) {
      HttpResponse busy = ErrorResponse(503, "server busy: too many requests in flight");
      busy.headers.emplace_back("Retry-After", "1");
      return Write(std::move(busy), keep_alive_ && !server_.stopping(), false);
    }
    counted_ = true;

    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    request.version = msg.version();
    std::string_view target = Sv(msg.target());
    if (target.starts_with("http://") || target.starts_with("https://")) {
      std::size_t authority = target.find("//") + 2;
      std::size_t slash = target.find_first_of("/?", authority);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    std::size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (request.path.empty()) request.path = "/";
    if (q != std::string_view::npos) request.query_string = std::string(target.substr(q + 1));
    for (const auto& field : msg) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(msg.body());

    class Sink final : public internal::ResponseSink {
     public:
      Sink(std::shared_ptr<Gate> gate, std::weak_ptr<Session> session)
          : gate_(std::move(gate)), session_(std::move(session)) {}
      void Deliver(HttpResponse response) override {
        std::lock_guard<std::mutex> lock(gate_->mu);
        if (!gate_->open) return;  // the server stopped: its io_context may be gone
        std::shared_ptr<Session> session = session_.lock();
        if (!session) return;  // its destructor released the inflight count
        net::post(session->executor(), [session, response = std::move(response)]() mutable {
          session->Answer(std::move(response));
        });
      }

     private:
      std::shared_ptr<Gate> gate_;
      std::weak_ptr<Session> session_;
    };

    Responder responder(std::make_unique<Sink>(server_.gate(), weak_from_this()));
    try {
      server_.handler_(std::move(request), std::move(responder));
    } catch (...) {
      // The responder was moved into the call: the handler answered or its destructor
      // answers 500. A throwing handler is a bug in the caller, not a reason to crash.
    }
  }

  // Writes `response`; then reads the next request or closes. `counted`: the response
  // answers a request holding an inflight count, released once written.
  void Write(HttpResponse response, bool keep_alive, bool counted) {
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version_ >= 10 && version_ <= 11 ? version_ : 11);
    unsigned status = response.status;
    if (status < 100 || status > 999) status = 500;
    msg->result(status);
    for (auto& [name, value] : response.headers) {
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "connection") ||
          EqualsIgnoreCase(name, "transfer-encoding")) {
        continue;
      }
      // A header value with CR or LF would split the response; drop such values.
      if (value.find_first_of("\r\n") != std::string::npos ||
          name.find_first_of("\r\n: ") != std::string::npos || name.empty()) {
        continue;
      }
      msg->insert(name, value);
    }
    msg->set(http::field::server, "epos");
    bool bodiless = status < 200 || status == 204 || status == 304;
    if (bodiless) {
      response.body.clear();
    } else {
      msg->body() = std::move(response.body);
      msg->prepare_payload();
      if (head_) msg->body().clear();  // Content-Length stays that of the full body
    }
    msg->keep_alive(keep_alive);
    busy_ = true;
    stream_.expires_after(limits().idle_timeout);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg, counted](beast::error_code ec, std::size_t) {
                        if (counted) self->ReleaseCounted();
                        self->busy_ = false;
                        if (ec) return self->Close();
                        if (msg->need_eof()) return self->LingeringClose();
                        self->AwaitRequest();
                      });
  }

  // Half-closes, then discards what the client still sends (the rest of a 413 body) for a
  // short while, so the kernel does not answer unread data with a reset that would destroy
  // the response before the client reads it (RFC 9112 §9.6).
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(
        std::min<std::chrono::milliseconds>(limits().header_timeout, std::chrono::seconds(2)));
    Discard();
  }
  void Discard() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->closed_) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    ReleaseCounted();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    server_.Unregister(this);  // may drop the last owner; handlers still hold one
  }

  internal::HttpServerCore& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::array<char, 8192> scratch_;
  std::shared_ptr<const HttpLimits> limits_;  // see limits()
  std::uint64_t limits_version_ = 0;
  std::size_t requests_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool busy_ = false;     // a request is with the handler or its response is being written
  bool counted_ = false;  // holds one server inflight count
  bool closed_ = false;
};

}  // namespace

void internal::HttpServerCore::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.emplace(session.get(), session);
}

void internal::HttpServerCore::Unregister(Session* session) {
  std::shared_ptr<Session> last;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(session);
  if (it != sessions_.end()) {
    last = std::move(it->second);
    sessions_.erase(it);
  }
}

Status internal::HttpServerCore::Start() {
  assert(!started_ && "HttpServer::Start called twice");
  started_ = true;
  std::string where = "listen " + options_.host + ":" + std::to_string(options_.port);
  auto fail = [&](ErrorCode code, const beast::error_code& ec) {
    std::string reason = ec.message();
    if (!reason.empty()) reason[0] = AsciiLower(reason[0]);
    return MakeError(code, where + ": " + reason);
  };
  beast::error_code ec;
  tcp::resolver resolver(*ioc_);
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, ec);
  if (endpoints.empty()) return MakeError(ErrorCode::kInvalidArgument, where + ": no address");
  tcp::endpoint endpoint = endpoints.begin()->endpoint();

  acceptor_strand_.emplace(net::make_strand(*ioc_));
  acceptor_.emplace(*acceptor_strand_);
  accept_retry_.emplace(*acceptor_strand_);
  if (acceptor_->open(endpoint.protocol(), ec); ec) return fail(ErrorCode::kUnavailable, ec);
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return fail(ErrorCode::kUnavailable, ec);
  }
  if (acceptor_->bind(endpoint, ec); ec) return fail(ErrorCode::kUnavailable, ec);
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) {
    return fail(ErrorCode::kUnavailable, ec);
  }
  port_.store(acceptor_->local_endpoint().port(), std::memory_order_release);

  Accept();
  int n = std::max(1, options_.io_threads);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      if (options_.on_io_thread_start) options_.on_io_thread_start();
      {
        auto guard = net::make_work_guard(*ioc_);
        ioc_->run();
      }
      if (options_.on_io_thread_exit) options_.on_io_thread_exit();
    });
  }
  return {};
}

void internal::HttpServerCore::Accept() {
  acceptor_->async_accept(net::make_strand(*ioc_),
                          [this](beast::error_code ec, tcp::socket socket) {
                            if (stopping() || !acceptor_->is_open()) return;
                            if (ec) {
                              // Out of descriptors and the like: back off briefly instead of
                              // spinning.
                              accept_retry_->expires_after(std::chrono::milliseconds(50));
                              accept_retry_->async_wait([this](beast::error_code) {
                                if (!stopping()) Accept();
                              });
                              return;
                            }
                            beast::error_code ignored;
                            socket.set_option(tcp::no_delay(true), ignored);
                            auto session = std::make_shared<Session>(*this, std::move(socket));
                            Register(session);
                            session->Begin();
                            Accept();
                          });
}

void internal::HttpServerCore::Stop(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  if (!started_ || threads_.empty()) {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
    accept_retry_.reset();
    acceptor_.reset();
    acceptor_strand_.reset();
    return;
  }
  stopping_.store(true, std::memory_order_release);

  // Stop accepting (on the acceptor's strand, where it is used) and wait for that.
  {
    std::promise<void> closed;
    net::dispatch(*acceptor_strand_, [this, &closed] {
      beast::error_code ec;
      acceptor_->close(ec);
      accept_retry_->cancel();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      for (auto& [ptr, session] : sessions_) sessions.push_back(session);
    }
    for (auto& session : sessions) session->CloseIfIdle();
  }
  {
    std::unique_lock<std::mutex> lock(drain_mu_);
    drained_.wait_for(lock, drain, [this] { return inflight_.load() == 0; });
  }
  {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
  }
  ioc_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  {
    std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      sessions.swap(sessions_);
    }
  }  // sessions close their sockets here; the io_context still exists
  accept_retry_.reset();
  acceptor_.reset();
  acceptor_strand_.reset();  // a strand must not outlive its io_context
  ioc_.reset();              // destroys pending handlers and the sessions they held
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<internal::HttpServerCore>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() { return impl_->Start(); }

std::uint16_t HttpServer::port() const { return impl_->port_.load(std::memory_order_acquire); }

void HttpServer::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }

void HttpServer::SetLimits(const HttpLimits& limits) { impl_->SetLimits(limits); }

std::size_t HttpServer::inflight() const { return impl_->inflight_.load(); }

}  // namespace epos
