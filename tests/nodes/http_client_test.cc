// Tests of the http.client node kind (epos/nodes/http_client.h) through compiled graphs on a
// real Runtime, against upstreams on ephemeral ports: epos::HttpServer for the request and
// response mapping, and RawUpstream (below, plain sockets) where the test must count the
// connections the server accepted or script what happens on the wire.
//
// Nothing sleeps to synchronise: a held request is released by the test, and every wait
// is bounded by kWaitLimit so a hang fails the test.
#include "epos/nodes/http_client.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/exec/namespaces.h"
#include "epos/exec/runtime.h"
#include "epos/graph/graph_builder.h"
#include "epos/http/server.h"
#include "epos/nodes/control.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using testing_util::kWaitLimit;
using namespace std::chrono_literals;

// ---- helpers ---------------------------------------------------------------------------

struct Compiled {
  std::shared_ptr<const Graph> graph;  // null when the specs did not compile
  std::string errors;                  // one diagnostic per line
};

// Compiles `yaml` with every "PORT" replaced by `port`.
Compiled CompileYaml(std::string yaml, std::uint16_t port = 0) {
  for (std::size_t at; (at = yaml.find("PORT")) != std::string::npos;) {
    yaml.replace(at, 4, std::to_string(port));
  }
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(yaml, "flow.yaml", diags);
  TemplateBindings bindings;
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  static const Scheme scheme = StandardScheme();
  CompileOutput out = Compile(specs, scheme, diags);
  Compiled c;
  c.errors = diags.ToString();
  auto it = out.graphs.find("default");
  if (it != out.graphs.end()) c.graph = it->second;
  return c;
}

// Runs one trace from `node` and waits for its outcome (bounded).
Outcome CallNode(Runtime& runtime, const std::shared_ptr<const Graph>& graph, std::string_view node,
                 Value payload) {
  std::future<Outcome> f = runtime.Call(graph, graph->Find(node), 0, std::move(payload));
  if (f.wait_for(kWaitLimit) != std::future_status::ready) {
    ADD_FAILURE() << "no outcome within the wait limit";
    return Outcome{Outcome::Kind::kError, Value("test: no outcome")};
  }
  return f.get();
}

std::unique_ptr<HttpServer> StartServer(HttpHandler handler) {
  auto server = std::make_unique<HttpServer>(HttpServerOptions{}, std::move(handler));
  Status started = server->Start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  return server;
}

// Answers every request with the listener payload of what it received as JSON, an
// "X-Echo" header repeating the request's X-Token, and the status given by X-Status.
void Echo(HttpRequest request, Responder respond) {
  Result<Value> payload = RequestToValue(request);
  if (!payload) return respond(ErrorResponse(400, payload.error().message));
  HttpResponse response;
  if (std::string_view status = request.Header("x-status"); !status.empty()) {
    response.status = static_cast<unsigned>(std::stoi(std::string(status)));
  }
  response.headers.emplace_back("Content-Type", "application/json");
  response.headers.emplace_back("X-Echo", std::string(request.Header("x-token")));
  response.body = ToJson(*payload);
  respond(std::move(response));
}

// A port on which nothing listens: bound, then closed (the kernel will not hand it out
// again at once).
std::uint16_t ClosedPort() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// An upstream on plain blocking sockets, one thread per connection, which counts the
// connections it accepted. `script(connection, request_on_it, request)` gives the raw bytes
// to answer, or nullopt to close the connection without answering.
class RawUpstream {
 public:
  using Script = std::function<std::optional<std::string>(int connection, int request,
                                                          const http::request<http::string_body>&)>;

  explicit RawUpstream(Script script)
      : script_(std::move(script)),
        acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~RawUpstream() {
    stopping_ = true;
    {
      // Unblocks accept().
      net::io_context io;
      tcp::socket poke(io);
      boost::system::error_code ignored;
      poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ignored);
    }
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Unblocks their reads; the sockets are still open (held here), so no descriptor can
      // have been reused by someone else.
      for (auto& socket : sockets_) ::shutdown(socket->native_handle(), SHUT_RDWR);
    }
    for (std::thread& t : threads_) t.join();
  }

  std::uint16_t port() const { return port_; }
  int accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

  static std::string Ok(std::string_view body, std::string_view extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
  }

 private:
  void AcceptLoop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      int index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = accepted_++;
        sockets_.push_back(socket);
      }
      threads_.emplace_back([this, socket = socket.get(), index] { Serve(*socket, index); });
    }
  }

  void Serve(tcp::socket& socket, int connection) {
    beast::flat_buffer buffer;
    for (int request = 0;; ++request) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      std::optional<std::string> answer = script_(connection, request, req);
      if (!answer) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
      net::write(socket, net::buffer(*answer), ec);
      if (ec || answer->find("Connection: close") != std::string::npos) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
    }
  }

  const Script script_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::vector<std::thread> threads_;  // accept thread only, joined after it
  std::mutex mu_;
  int accepted_ = 0;                                   // guarded by mu_
  std::vector<std::shared_ptr<tcp::socket>> sockets_;  // guarded by mu_
};

class HttpClientNodeTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_.Start(); }
  void TearDown() override { runtime_.Stop(); }
  Runtime runtime_{RuntimeOptions{.workers = 2}};
};

// ---- requests and responses ------------------------------------------------------------

TEST_F(HttpClientNodeTest, GetDecodesAJsonResponse) {
  auto upstream = StartServer(Echo);
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/items?page=2
)",
                           upstream->port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value("ignored for GET"));
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  EXPECT_EQ(o.value["status"], Value(200));
  EXPECT_EQ(o.value["header"]["content-type"], Value("application/json"));
  Value request = o.value["body"];  // decoded JSON: the listener payload the upstream saw
  ASSERT_TRUE(request.IsMap()) << ToJson(o.value);
  EXPECT_EQ(request["method"], Value("GET"));
  EXPECT_EQ(request["path"], Value("/items"));
  EXPECT_EQ(ToJson(request["query"]), R"({"page":"2"})");
  EXPECT_EQ(request["body"], Value(""));  // a GET sends no body
  EXPECT_EQ(request["header"]["user-agent"], Value("epos"));
  EXPECT_EQ(request["header"]["host"], Value("127.0.0.1:" + std::to_string(upstream->port())));
}

TEST_F(HttpClientNodeTest, PostsAMapPayloadAsJson) {
  auto upstream = StartServer(Echo);
  Compiled c = CompileYaml(R"(
- kind: http
  name: post
  method: post
  url: http://127.0.0.1:PORT/orders
)",
                           upstream->port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "post",
                       Value::Map({{"sku", "pen"}, {"qty", 3}, {"tags", Value::Array({"a"})}}));
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  Value seen = o.value["body"];
  EXPECT_EQ(seen["method"], Value("POST"));
  EXPECT_EQ(seen["header"]["content-type"], Value("application/json"));
  EXPECT_EQ(ToJson(seen["body"]), R"({"sku":"pen","qty":3,"tags":["a"]})");
}

TEST_F(HttpClientNodeTest, InputDescribesTheRequest) {
  auto upstream = StartServer(Echo);
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: call
  header: {X-Token: from-spec, X-Drop: x}
)");
  ASSERT_EQ(c.errors, "");
  std::string url = "http://127.0.0.1:" + std::to_string(upstream->port()) + "/p?a=1";
  Outcome o =
      CallNode(runtime_, c.graph, "call",
               Value::Map({{"url", url},
                           {"method", "put"},
                           {"header", Value::Map({{"x-token", "from-input"}, {"X-Drop", nullptr}})},
                           {"query", Value::Map({{"q", "a b&c"}, {"n", Value::Array({1, 2})}})},
                           {"body", "plain text"}}));
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  Value seen = o.value["body"];
  EXPECT_EQ(seen["method"], Value("PUT"));
  EXPECT_EQ(ToJson(seen["query"]), R"({"a":"1","q":"a b&c","n":["1","2"]})");
  EXPECT_EQ(seen["header"]["x-token"], Value("from-input"));
  EXPECT_EQ(seen["header"].Find("x-drop"), nullptr);
  EXPECT_EQ(seen["header"]["content-type"], Value("text/plain; charset=utf-8"));
  EXPECT_EQ(seen["body"], Value("plain text"));
  EXPECT_EQ(o.value["header"]["x-echo"], Value("from-input"));
}

TEST_F(HttpClientNodeTest, SendsAndReceivesHeaders) {
  auto upstream = StartServer(Echo);
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
  header:
    X-Token: secret
    Accept: application/json
)",
                           upstream->port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  EXPECT_EQ(o.value["header"]["x-echo"], Value("secret"));
  EXPECT_EQ(o.value["body"]["header"]["accept"], Value("application/json"));
}

TEST_F(HttpClientNodeTest, NonSuccessStatusGoesToOut) {
  auto upstream = StartServer([](HttpRequest, Responder respond) {
    HttpResponse response;
    response.status = 404;
    response.headers.emplace_back("Content-Type", "text/plain");
    response.body = "no such item";
    respond(std::move(response));
  });
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/missing
  ports:
    error: [{name: caught}]
- kind: snippet
  name: caught
  language: text
  code: error port
)",
                           upstream->port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  EXPECT_EQ(o.value["status"], Value(404));
  EXPECT_EQ(o.value["body"], Value("no such item"));
}

// ---- transport errors ------------------------------------------------------------------

TEST_F(HttpClientNodeTest, ConnectionRefusedGoesToTheErrorPort) {
  std::uint16_t port = ClosedPort();
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/x
  ports:
    error: [{name: caught}]
- kind: snippet
  name: caught
  code: |
    return function(err, ctx) return {caught = err.error, node = err.node} end
)",
                           port);
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  std::string where = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(o.value["caught"],
            Value("GET http://" + where + "/x: connect " + where + ": connection refused"));
  EXPECT_EQ(o.value["node"], Value("fetch"));
}

TEST_F(HttpClientNodeTest, UnconnectedErrorPortFailsTheTrace) {
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
)",
                           ClosedPort());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kError);
  EXPECT_NE(std::string(o.value["error"].AsString()).find("connection refused"), std::string::npos)
      << ToJson(o.value);
  EXPECT_EQ(o.value["kind"], Value("http.client"));
}

// An upstream that takes requests and answers only when the test says so.
class HeldUpstream {
 public:
  HeldUpstream()
      : server_(StartServer([this](HttpRequest request, Responder respond) {
          std::lock_guard<std::mutex> lock(mu_);
          if (request.path == "/fast") {
            respond(ResponseFromReply(Value("fast")));
            return;
          }
          held_.push_back(std::move(respond));
          cv_.notify_all();
        })) {}
  ~HeldUpstream() {
    ReleaseAll();
    server_->Stop(0ms);
  }
  std::uint16_t port() const { return server_->port(); }
  bool WaitHeld(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, [&] { return held_.size() >= n; });
  }
  void ReleaseAll() {
    std::vector<Responder> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (Responder& r : held) r(ResponseFromReply(Value("late")));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Responder> held_;  // guarded by mu_
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpClientNodeTest, TimeoutGoesToTheErrorPort) {
  HeldUpstream upstream;
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/slow
  timeout: 200ms
  ports:
    error: [{name: caught}]
- kind: snippet
  name: caught
  code: |
    return function(err, ctx) return err.error end
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
  EXPECT_EQ(o.value, Value("GET http://127.0.0.1:" + std::to_string(upstream.port()) +
                           "/slow: timeout after 200ms"));
  EXPECT_TRUE(upstream.WaitHeld(1));  // the request did reach the upstream
}

TEST_F(HttpClientNodeTest, InFlightRequestHoldsNoWorker) {
  Runtime one(RuntimeOptions{.workers = 1});
  one.Start();
  HeldUpstream upstream;
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
)");
  ASSERT_EQ(c.errors, "");
  std::string base = "http://127.0.0.1:" + std::to_string(upstream.port());
  std::future<Outcome> slow =
      one.Call(c.graph, c.graph->Find("fetch"), 0, Value::Map({{"url", base + "/slow"}}));
  ASSERT_TRUE(upstream.WaitHeld(1));
  // The only worker is free: another trace runs to completion while the first waits.
  Outcome fast = CallNode(one, c.graph, "fetch", Value::Map({{"url", base + "/fast"}}));
  ASSERT_EQ(fast.kind, Outcome::Kind::kReply) << ToJson(fast.value);
  EXPECT_EQ(fast.value["body"], Value("fast"));
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout);
  upstream.ReleaseAll();
  ASSERT_EQ(slow.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_EQ(slow.get().value["body"], Value("late"));
  one.Stop();
}

TEST_F(HttpClientNodeTest, ResponseThatIsNotHttpIsAnError) {
  RawUpstream upstream([](int, int, const auto&) { return std::string("SMTP ready\r\n\r\n"); });
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kError);
  EXPECT_NE(std::string(o.value["error"].AsString()).find(": bad response: "), std::string::npos)
      << ToJson(o.value);
}

// ---- connection reuse --------------------------------------------------------------------

TEST_F(HttpClientNodeTest, SequentialRequestsReuseOneConnection) {
  RawUpstream upstream([](int c, int r, const auto&) {
    return RawUpstream::Ok("c" + std::to_string(c) + "r" + std::to_string(r));
  });
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  for (int i = 0; i < 5; ++i) {
    Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
    ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
    EXPECT_EQ(o.value["body"], Value("c0r" + std::to_string(i)));
  }
  EXPECT_EQ(upstream.accepted(), 1);
}

TEST_F(HttpClientNodeTest, ConnectionCloseIsNotReused) {
  RawUpstream upstream([](int c, int, const auto&) {
    return RawUpstream::Ok("c" + std::to_string(c), "Connection: close\r\n");
  });
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  for (int i = 0; i < 3; ++i) {
    Outcome o = CallNode(runtime_, c.graph, "fetch", Value());
    ASSERT_EQ(o.kind, Outcome::Kind::kReply) << ToJson(o.value);
    EXPECT_EQ(o.value["body"], Value("c" + std::to_string(i)));
  }
  EXPECT_EQ(upstream.accepted(), 3);
}

// The first connection answers once, then closes on the next request without answering,
// as a server does whose idle timeout struck while the request was on its way.
RawUpstream::Script StaleAfterOne() {
  return [](int c, int r, const auto&) -> std::optional<std::string> {
    if (c == 0 && r == 1) return std::nullopt;
    return RawUpstream::Ok("c" + std::to_string(c));
  };
}

TEST_F(HttpClientNodeTest, StalePooledConnectionIsRetriedOnceForIdempotentMethods) {
  RawUpstream upstream(StaleAfterOne());
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  Outcome first = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(first.kind, Outcome::Kind::kReply) << ToJson(first.value);
  EXPECT_EQ(first.value["body"], Value("c0"));
  Outcome second = CallNode(runtime_, c.graph, "fetch", Value());
  ASSERT_EQ(second.kind, Outcome::Kind::kReply) << ToJson(second.value);
  EXPECT_EQ(second.value["body"], Value("c1"));  // retried on a new connection
  EXPECT_EQ(upstream.accepted(), 2);
}

TEST_F(HttpClientNodeTest, StalePooledConnectionIsNotRetriedForPost) {
  RawUpstream upstream(StaleAfterOne());
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  method: POST
  url: http://127.0.0.1:PORT/
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  ASSERT_EQ(CallNode(runtime_, c.graph, "fetch", Value("a")).kind, Outcome::Kind::kReply);
  Outcome second = CallNode(runtime_, c.graph, "fetch", Value("b"));
  ASSERT_EQ(second.kind, Outcome::Kind::kError) << ToJson(second.value);
  EXPECT_NE(std::string(second.value["error"].AsString()).find(": receive: end of stream"),
            std::string::npos)
      << ToJson(second.value);
  EXPECT_EQ(upstream.accepted(), 1);
}

TEST_F(HttpClientNodeTest, NodesShareOneClient) {
  Compiled a = CompileYaml("- {kind: http, name: a, url: 'http://127.0.0.1:1/'}");
  Compiled b = CompileYaml("- {kind: http, name: b, url: 'http://127.0.0.1:1/'}");
  ASSERT_EQ(a.errors + b.errors, "");
  std::shared_ptr<HttpClient> shared = HttpClient::Shared();
  EXPECT_EQ(shared.use_count(), 3);  // this one and each graph's node
}

// ---- stopping and reloading ---------------------------------------------------------------

// An upstream that reads one request and never answers; it reports when the client closed
// the connection (a cancelled request).
class SilentUpstream {
 public:
  SilentUpstream() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~SilentUpstream() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (socket_) ::shutdown(socket_->native_handle(), SHUT_RDWR);
    }
    boost::system::error_code ignored;
    tcp::socket poke(io_);  // unblocks accept() if nobody came
    poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ignored);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  bool WaitRequest() {
    return Wait([this] { return got_request_; });
  }
  bool WaitClosedByClient() {
    return Wait([this] { return closed_by_client_; });
  }

 private:
  template <class Pred>
  bool Wait(Pred pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, pred);
  }
  void Serve() {
    auto socket = std::make_shared<tcp::socket>(io_);
    boost::system::error_code ec;
    acceptor_.accept(*socket, ec);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ec || stopping_) return;
      socket_ = socket;
    }
    std::string seen;
    char buf[4096];
    for (;;) {
      std::size_t n = socket->read_some(net::buffer(buf), ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (ec) {
        closed_by_client_ = !stopping_;
        cv_.notify_all();
        return;
      }
      seen.append(buf, n);
      if (seen.find("\r\n\r\n") != std::string::npos) got_request_ = true;
      cv_.notify_all();
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<tcp::socket> socket_;  // guarded by mu_
  bool stopping_ = false;                // guarded by mu_
  bool got_request_ = false;             // guarded by mu_
  bool closed_by_client_ = false;        // guarded by mu_
};

// Stop with a request hung on its upstream returns within its drain deadline (plus the
// short abort grace), not at the request's 60 s timeout: the trace fails with "runtime
// stopped" and the request is cancelled, its connection closed.
TEST(HttpClientStopTest, StopCancelsARequestToAHungUpstream) {
  SilentUpstream upstream;
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: fetch
  url: http://127.0.0.1:PORT/hang
  timeout: 60s
)",
                           upstream.port());
  ASSERT_EQ(c.errors, "");
  Runtime runtime(RuntimeOptions{.workers = 1});
  runtime.Start();
  std::future<Outcome> outcome = runtime.Call(c.graph, c.graph->Find("fetch"), 0, Value());
  ASSERT_TRUE(upstream.WaitRequest());
  constexpr auto kDrain = 200ms;
  const auto start = std::chrono::steady_clock::now();
  StopReport report = runtime.Stop(kDrain);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, kDrain + Runtime::kAbortGrace) << "Stop waited for the hung request";
  EXPECT_EQ(report.aborted, 1u);
  EXPECT_EQ(report.cancelled_ops, 1u);
  EXPECT_EQ(report.stuck, 0u);
  ASSERT_EQ(outcome.wait_for(0s), std::future_status::ready);
  Outcome o = outcome.get();
  ASSERT_EQ(o.kind, Outcome::Kind::kError);
  EXPECT_NE(ToJson(o.value).find("runtime stopped"), std::string::npos) << ToJson(o.value);
  EXPECT_TRUE(upstream.WaitClosedByClient()) << "the request was not cancelled";
}

// A node whose destructor blocks until the test releases it, recording whether it ran on
// a worker of the runtime.
struct BlockingDestructor {
  BlockingDestructor(Scheduler* s, testing_util::Latch* e, testing_util::Latch* r,
                     std::atomic<int>* w)
      : scheduler(s), entered(e), release(r), on_worker(w) {}
  BlockingDestructor(const BlockingDestructor&) = delete;
  BlockingDestructor& operator=(const BlockingDestructor&) = delete;
  Scheduler* scheduler;
  testing_util::Latch* entered;
  testing_util::Latch* release;
  std::atomic<int>* on_worker;  // 1: destroyed on a worker, 0: elsewhere, -1: not yet
  ~BlockingDestructor() {
    on_worker->store(scheduler->CurrentWorker() != nullptr ? 1 : 0);
    entered->CountDown();
    release->Wait();
  }
};

// A hot reload retires the old graph version, which holds an HTTP client, while one of
// its traces is in flight: the trace completes on the (only) worker, and the version is
// destroyed off the workers, so a destructor that blocks never holds up the next trace.
TEST(HttpClientStopTest, RetiringAGraphWithAnHttpClientNeverBlocksAWorker) {
  Runtime runtime(RuntimeOptions{.workers = 1});
  runtime.Start();
  testing_util::Latch entered(1), release(1);
  std::atomic<int> on_worker{-1};
  std::mutex mu;
  std::condition_variable cv;
  std::optional<AsyncOp> held;  // the v1 trace's pending operation, guarded by mu

  auto build = [&](bool blocking) {
    GraphBuilder b("default", blocking ? 1 : 2);
    std::shared_ptr<BlockingDestructor> sentinel;
    if (blocking) {
      sentinel = std::make_shared<BlockingDestructor>(&runtime.scheduler(), &entered, &release,
                                                      &on_worker);
    }
    b.AddNode("entry", "fn", MakeFunctionNode([&, sentinel](Context& ctx, PortIndex port, Value p) {
                if (port == kResumePort) return ctx.Emit(0, std::move(p));
                if (!sentinel) return ctx.Emit(0, Value("v2"));
                std::lock_guard<std::mutex> lock(mu);
                held.emplace(ctx.BeginAsync());
                cv.notify_all();
              }));
    b.AddNode("fetch", "http.client", MakeHttpClientNode(HttpClientConfig{}, HttpClient::Shared()));
    auto g = b.Build();
    EXPECT_TRUE(g) << g.error().message;
    return g ? *g : nullptr;
  };
  NamespaceTable table;
  ASSERT_EQ(table.Activate(build(true)), nullptr);
  std::future<Outcome> v1_trace = runtime.Call(table.Find("default"), 0, 0, Value("v1"));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kWaitLimit, [&] { return held.has_value(); }));
  }
  // The reload: v2 in, v1 out; its last owner lets go here while its trace still runs.
  std::shared_ptr<const Graph> v1 = table.Activate(build(false));
  ASSERT_NE(v1, nullptr);
  v1.reset();
  EXPECT_EQ(on_worker.load(), -1) << "retired while a trace still ran on it";
  {
    std::lock_guard<std::mutex> lock(mu);
    held->Resume(Value("v1 done"));  // the trace completes on the worker: the last unpin
  }
  ASSERT_EQ(v1_trace.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_EQ(v1_trace.get().value, Value("v1 done"));
  ASSERT_TRUE(entered.Wait());  // v1 is being destroyed, and blocks there
  EXPECT_EQ(on_worker.load(), 0) << "a retired graph was destroyed on a worker";
  // The only worker is free: a trace on v2 runs to completion meanwhile.
  std::future<Outcome> v2_trace = runtime.Call(table.Find("default"), 0, 0, Value());
  ASSERT_EQ(v2_trace.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_EQ(v2_trace.get().value, Value("v2"));
  release.CountDown();
  {
    std::lock_guard<std::mutex> lock(mu);
    held.reset();
  }
  runtime.Stop();
  EXPECT_EQ(runtime.graphs_reaped(), 1u);
}

// ---- compile-time checks -----------------------------------------------------------------

TEST(HttpClientKindTest, ReportsBadFieldsAtCompileTime) {
  Compiled c = CompileYaml(R"(
- kind: http.client
  name: tls
  url: https://example.com/
- kind: http.client
  name: relative
  url: /items
- kind: http.client
  name: verb
  url: http://example.com/
  method: GETT
- kind: http.client
  name: headers
  url: http://example.com/
  header: {X-Count: 3, "Bad Name": x}
- kind: http.client
  name: instant
  timeout: 0s
)");
  EXPECT_EQ(c.graph, nullptr);
  EXPECT_EQ(c.errors,
            "flow.yaml:4:8: spec \"tls\": field \"url\": url \"https://example.com/\": https is "
            "not supported (only http://)\n"
            "flow.yaml:7:8: spec \"relative\": field \"url\": url \"/items\": must be an "
            "absolute http:// URL\n"
            "flow.yaml:11:11: spec \"verb\": field \"method\": unknown method \"GETT\" "
            "(expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS); did you mean \"GET\"?\n"
            "flow.yaml:15:21: spec \"headers\": field \"header.X-Count\": must be a string, "
            "not an integer\n"
            "flow.yaml:15:36: spec \"headers\": field \"header.Bad Name\": header name \"Bad "
            "Name\" is not a valid token\n"
            "flow.yaml:18:12: spec \"instant\": field \"timeout\": must be more than 0");
}

TEST(HttpClientKindTest, InputProblemsFailTheNode) {
  Runtime runtime(RuntimeOptions{.workers = 1});
  runtime.Start();
  Compiled c = CompileYaml("- {kind: http.client, name: fetch}");
  ASSERT_EQ(c.errors, "");
  auto error_of = [&](Value payload) {
    Outcome o = CallNode(runtime, c.graph, "fetch", std::move(payload));
    EXPECT_EQ(o.kind, Outcome::Kind::kError);
    return std::string(o.value["error"].IsString() ? o.value["error"].AsString() : "");
  };
  EXPECT_EQ(error_of(Value("body only")), "no url: set the url field or give url in the input");
  EXPECT_EQ(error_of(Value::Map({{"url", "https://x/"}})),
            "url \"https://x/\": https is not supported (only http://)");
  EXPECT_EQ(error_of(Value::Map({{"url", "http://x/"}, {"method", "FETCH"}})),
            "unknown method \"FETCH\" (expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS); "
            "did you mean \"PATCH\"?");
  EXPECT_EQ(error_of(Value::Map({{"url", "http://x/"}, {"header", Value::Map({{"a\nb", "v"}})}})),
            "header name \"a\nb\" is not a valid token");
  runtime.Stop();
}

}  // namespace
}  // namespace epos
