#include "epos/http/server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"
#include "support/http_client.h"

namespace epos {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

using Client = testing::HttpTestClient;

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, HttpHandler handler) {
  auto server = std::make_unique<HttpServer>(std::move(options), std::move(handler));
  Status started = server->Start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  EXPECT_NE(server->port(), 0);
  return server;
}

Value ParseOrNull(std::string_view text) {
  Result<Value> v = ParseJson(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? *v : Value();
}

// Answers with the listener payload as JSON, or 400 when the body is bad JSON: what the
// http.listener node will do.
void EchoPayload(HttpRequest request, Responder respond) {
  Result<Value> payload = RequestToValue(request);
  if (!payload) return respond(ErrorResponse(400, payload.error().message));
  respond(ResponseFromReply(*payload));
}

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<none>";
}

// ---- request and reply mapping -------------------------------------------------------

TEST(HttpServerMappingTest, RequestToValueDecodesQueryHeadersAndJson) {
  HttpRequest req;
  req.method = "POST";
  req.path = "/a b";
  req.query_string = "x=1&y=two+words%21&x=3&flag&&bad=%zz";
  req.headers = {{"Content-Type", "application/vnd.api+json; charset=utf-8"},
                 {"X-Multi", "a"},
                 {"x-multi", "b"}};
  req.body = R"({"n": 1, "s": ["x"]})";
  Result<Value> v = RequestToValue(req);
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ((*v)["method"], Value("POST"));
  EXPECT_EQ((*v)["path"], Value("/a b"));
  EXPECT_EQ(
      (*v)["query"],
      Value::Map(
          {{"x", Value::Array({"1", "3"})}, {"y", "two words!"}, {"flag", ""}, {"bad", "%zz"}}));
  EXPECT_EQ((*v)["header"]["x-multi"], Value("a, b"));
  EXPECT_EQ((*v)["header"]["content-type"], Value("application/vnd.api+json; charset=utf-8"));
  EXPECT_EQ((*v)["body"], Value::Map({{"n", 1}, {"s", Value::Array({"x"})}}));
}

TEST(HttpServerMappingTest, RequestBodyIsTextUnlessJson) {
  HttpRequest req;
  req.body = "{not json";
  req.headers = {{"Content-Type", "text/plain"}};
  EXPECT_EQ((*RequestToValue(req))["body"], Value("{not json"));
  req.headers = {};
  EXPECT_EQ((*RequestToValue(req))["body"], Value("{not json"));
  req.headers = {{"content-type", "Application/JSON"}};
  Result<Value> bad = RequestToValue(req);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(bad.error().message.starts_with("request body: invalid JSON at line 1"))
      << bad.error().message;
  req.body.clear();  // JSON content type, no body: null
  EXPECT_EQ((*RequestToValue(req))["body"], Value());
  EXPECT_EQ((*RequestToValue(req))["query"], Value::Map({}));
}

TEST(HttpServerMappingTest, ReplyMapping) {
  HttpResponse text = ResponseFromReply(Value("hello"));
  EXPECT_EQ(text.status, 200u);
  EXPECT_EQ(text.body, "hello");
  EXPECT_EQ(HeaderOf(text, "Content-Type"), "text/plain; charset=utf-8");

  HttpResponse json = ResponseFromReply(Value::Array({1, "a"}));
  EXPECT_EQ(json.status, 200u);
  EXPECT_EQ(json.body, R"([1,"a"])");
  EXPECT_EQ(HeaderOf(json, "Content-Type"), "application/json");

  // A map without status is just a JSON body.
  EXPECT_EQ(ResponseFromReply(Value::Map({{"ok", true}})).body, R"({"ok":true})");
  EXPECT_EQ(ResponseFromReply(Value()).body, "null");

  HttpResponse status = ResponseFromReply(
      Value::Map({{"status", 201},
                  {"headers", Value::Map({{"Location", "/orders/7"}, {"X-Count", 3}})},
                  {"body", Value::Map({{"id", 7}})}}));
  EXPECT_EQ(status.status, 201u);
  EXPECT_EQ(HeaderOf(status, "Location"), "/orders/7");
  EXPECT_EQ(HeaderOf(status, "X-Count"), "3");
  EXPECT_EQ(HeaderOf(status, "Content-Type"), "application/json");
  EXPECT_EQ(status.body, R"({"id":7})");

  HttpResponse status_text = ResponseFromReply(Value::Map({{"status", 404}, {"body", "no"}}));
  EXPECT_EQ(status_text.status, 404u);
  EXPECT_EQ(status_text.body, "no");
  EXPECT_EQ(HeaderOf(status_text, "Content-Type"), "text/plain; charset=utf-8");

  HttpResponse empty = ResponseFromReply(Value::Map({{"status", 202}}));
  EXPECT_EQ(empty.status, 202u);
  EXPECT_EQ(empty.body, "");

  HttpResponse typed =
      ResponseFromReply(Value::Map({{"status", 200},
                                    {"headers", Value::Map({{"content-type", "text/html"}})},
                                    {"body", "<p>"}}));
  EXPECT_EQ(HeaderOf(typed, "content-type"), "text/html");
  EXPECT_EQ(HeaderOf(typed, "Content-Type"), "<none>");

  HttpResponse bytes = ResponseFromReply(Value::Bytes(std::string("\0\1", 2)));
  EXPECT_EQ(bytes.body, std::string("\0\1", 2));
  EXPECT_EQ(HeaderOf(bytes, "Content-Type"), "application/octet-stream");

  HttpResponse bad = ResponseFromReply(Value::Map({{"status", "ok"}}));
  EXPECT_EQ(bad.status, 500u);
  EXPECT_EQ(bad.body, R"({"error":"reply status \"ok\" is not an integer from 100 to 599"})");
  EXPECT_EQ(ResponseFromReply(Value::Map({{"status", 99}})).status, 500u);

  EXPECT_EQ(NoReplyResponse().status, 204u);
  EXPECT_EQ(NoReplyResponse().body, "");
  HttpResponse error =
      ResponseFromError(Value::Map({{"error", "boom"}, {"node", "n"}, {"kind", "throw"}}));
  EXPECT_EQ(error.status, 500u);
  EXPECT_EQ(error.body, R"({"error":"boom","node":"n","kind":"throw"})");
  EXPECT_EQ(HeaderOf(error, "Content-Type"), "application/json");
}

// ---- over loopback -------------------------------------------------------------------

TEST(HttpServerTest, HandlerSeesDecodedRequest) {
  auto server = StartServer({}, EchoPayload);
  Client client(server->port());
  Response res =
      client.Call(http::verb::post, "/orders/a%20b?x=1&y=two+words&x=3&flag", R"({"n":1,"s":"x"})",
                  {{"Content-Type", "application/json; charset=utf-8"},
                   {"X-Trace", "abc"},
                   {"X-Multi", "a"},
                   {"X-Multi", "b"}});
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Str(res[http::field::content_type]), "application/json");
  Value v = ParseOrNull(res.body());
  EXPECT_EQ(v["method"], Value("POST"));
  EXPECT_EQ(v["path"], Value("/orders/a%20b"));  // the router decodes segments
  EXPECT_EQ(v["query"],
            Value::Map({{"x", Value::Array({"1", "3"})}, {"y", "two words"}, {"flag", ""}}));
  EXPECT_EQ(v["header"]["x-trace"], Value("abc"));
  EXPECT_EQ(v["header"]["x-multi"], Value("a, b"));
  EXPECT_EQ(v["header"]["host"], Value("localhost"));
  EXPECT_EQ(v["body"], Value::Map({{"n", 1}, {"s", "x"}}));
}

TEST(HttpServerTest, RepliesMapOverTheWireOnOneKeptAliveConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest req, Responder respond) {
    ++calls;
    if (req.path == "/text") return respond(ResponseFromReply(Value("hello")));
    if (req.path == "/json") return respond(ResponseFromReply(Value::Array({1, 2})));
    if (req.path == "/none") return respond(NoReplyResponse());
    if (req.path == "/error") return respond(ResponseFromError(Value::Map({{"error", "boom"}})));
    respond(ResponseFromReply(Value::Map({{"status", 201},
                                          {"headers", Value::Map({{"X-Id", "7"}})},
                                          {"body", Value::Map({{"ok", true}})}})));
  });
  Client client(server->port());

  Response text = client.Call(http::verb::get, "/text");
  EXPECT_EQ(text.result_int(), 200u);
  EXPECT_EQ(text.body(), "hello");
  EXPECT_EQ(Str(text[http::field::content_type]), "text/plain; charset=utf-8");
  EXPECT_TRUE(text.keep_alive());

  Response status = client.Call(http::verb::get, "/status");
  EXPECT_EQ(status.result_int(), 201u);
  EXPECT_EQ(Str(status["X-Id"]), "7");
  EXPECT_EQ(status.body(), R"({"ok":true})");

  Response json = client.Call(http::verb::get, "/json");
  EXPECT_EQ(json.body(), "[1,2]");
  EXPECT_EQ(Str(json[http::field::content_type]), "application/json");

  Response none = client.Call(http::verb::get, "/none");
  EXPECT_EQ(none.result_int(), 204u);
  EXPECT_EQ(none.body(), "");

  Response error = client.Call(http::verb::get, "/error");
  EXPECT_EQ(error.result_int(), 500u);
  EXPECT_EQ(error.body(), R"({"error":"boom"})");

  EXPECT_EQ(calls.load(), 5);
}

TEST(HttpServerTest, Http10ClosesAfterTheResponse) {
  auto server = StartServer({}, [](HttpRequest, Responder respond) { respond({200, {}, "ok"}); });
  Client client(server->port());
  client.SendRaw("GET / HTTP/1.0\r\n\r\n");
  std::string all = client.ReadAll();  // returns only because the server closes
  EXPECT_TRUE(all.starts_with("HTTP/1.0 200 OK\r\n")) << all;
  EXPECT_TRUE(all.ends_with("\r\n\r\nok")) << all;
}

TEST(HttpServerTest, ExpectContinueIsAnswered) {
  auto server = StartServer({}, EchoPayload);
  Client client(server->port());
  client.SendRaw(
      "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  Response interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100u);
  client.SendRaw("hello");
  Response res = client.Read();
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(ParseOrNull(res.body())["body"], Value("hello"));
}

TEST(HttpServerTest, BodyOverLimitGets413) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest, Responder respond) {
    ++calls;
    respond({200, {}, ""});
  });
  Client client(server->port());
  Response res = client.Call(http::verb::post, "/", std::string(2 << 20, 'x'));
  EXPECT_EQ(res.result_int(), 413u) << res.body();
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls.load(), 0);

  // Chunked bodies are counted too.
  HttpServerOptions small;
  small.limits.body_bytes = 10;
  auto server2 = StartServer(small, [&](HttpRequest, Responder respond) { respond({}); });
  Client chunked(server2->port());
  chunked.SendRaw(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.Read().result_int(), 413u);
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, MalformedRequestsGet400AndClose) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest, Responder respond) {
    ++calls;
    respond({200, {}, "fine"});
  });
  const std::vector<std::string> inputs = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n", 23),
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
      "GET\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string(64, '\0') + "\r\n\r\n",
  };
  for (const std::string& input : inputs) {
    Client client(server->port());
    client.SendRaw(input);
    std::string all = client.ReadAll();
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n")) << all;
    EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
  }
  EXPECT_EQ(calls.load(), 0);
  Client after(server->port());
  EXPECT_EQ(after.Call(http::verb::get, "/").body(), "fine");
}

TEST(HttpServerTest, OversizedHeaderGets431) {
  HttpServerOptions options;
  options.limits.header_bytes = 1024;
  auto server = StartServer(options, [](HttpRequest, Responder respond) { respond({}); });
  Client client(server->port());
  Response res = client.Call(http::verb::get, "/", "", {{"X-Big", std::string(2000, 'a')}});
  EXPECT_EQ(res.result_int(), 431u);
}

TEST(HttpServerTest, BadJsonWithJsonContentTypeGets400) {
  auto server = StartServer({}, EchoPayload);
  Client client(server->port());
  Response res =
      client.Call(http::verb::post, "/", "{\"a\": ", {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.result_int(), 400u);
  Value body = ParseOrNull(res.body());
  EXPECT_TRUE(body["error"].IsString() &&
              body["error"].AsString().starts_with("request body: invalid JSON at line 1"))
      << res.body();
}

TEST(HttpServerTest, HeaderTimeoutClosesTheConnection) {
  HttpServerOptions options;
  options.limits.header_timeout = std::chrono::milliseconds(100);
  auto server = StartServer(options, [](HttpRequest, Responder respond) { respond({}); });
  Client silent(server->port());
  EXPECT_TRUE(silent.ClosedByServer());
  Client partial(server->port());
  partial.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(partial.ReadAll(), "");
}

// Holds every responder until the test releases them.
struct HeldRequests {
  explicit HeldRequests(int expected) : arrived(expected) {}
  void Hold(Responder r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      responders.push_back(std::move(r));
    }
    arrived.count_down();
  }
  void ReleaseAll(std::string_view body) {
    std::vector<Responder> held;
    {
      std::lock_guard<std::mutex> lock(mu);
      held.swap(responders);
    }
    for (Responder& r : held) r({200, {}, std::string(body)});
  }
  std::mutex mu;
  std::vector<Responder> responders;
  std::latch arrived;
};

TEST(HttpServerTest, InflightLimitGets503WithRetryAfter) {
  HttpServerOptions options;
  options.limits.max_inflight = 2;
  options.io_threads = 2;
  HeldRequests held(2);
  std::atomic<int> calls{0};
  auto server = StartServer(options, [&](HttpRequest req, Responder respond) {
    ++calls;
    if (req.path == "/again") return respond({200, {}, "again"});
    held.Hold(std::move(respond));
  });
  Client a(server->port());
  Client b(server->port());
  a.SendRaw("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  b.SendRaw("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  held.arrived.wait();
  EXPECT_EQ(server->inflight(), 2u);

  Client c(server->port());
  Response busy = c.Call(http::verb::get, "/c");
  EXPECT_EQ(busy.result_int(), 503u);
  EXPECT_EQ(Str(busy[http::field::retry_after]), "1");
  EXPECT_EQ(calls.load(), 2);

  held.ReleaseAll("done");  // from the test thread, not an I/O thread
  EXPECT_EQ(a.Read().body(), "done");
  EXPECT_EQ(b.Read().body(), "done");
  // `a`'s count was released before its connection reads again, so this one is handled.
  EXPECT_EQ(a.Call(http::verb::get, "/again").body(), "again");
  EXPECT_EQ(calls.load(), 3);
}

// Clients on kept-alive connections; each response is sent from its own worker thread.
void RespondFromOtherThreads(int io_threads) {
  HttpServerOptions options;
  options.io_threads = io_threads;
  std::mutex mu;
  std::vector<std::thread> workers;
  auto server = StartServer(options, [&](HttpRequest req, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([path = req.path, respond = std::move(respond)]() mutable {
      respond(ResponseFromReply(Value(path)));
    });
  });
  constexpr int kClients = 4;
  constexpr int kRequests = 25;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(server->port());
      for (int i = 0; i < kRequests; ++i) {
        std::string path = "/c" + std::to_string(c) + "/" + std::to_string(i);
        if (client.Call(http::verb::get, path).body() == path) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  server->Stop();
  for (auto& t : workers) t.join();
}

TEST(HttpServerTest, RespondersCalledFromOtherThreads1) { RespondFromOtherThreads(1); }
TEST(HttpServerTest, RespondersCalledFromOtherThreads2) { RespondFromOtherThreads(2); }
TEST(HttpServerTest, RespondersCalledFromOtherThreads4) { RespondFromOtherThreads(4); }

TEST(HttpServerTest, StopDrainsAnInflightRequest) {
  HeldRequests held(1);
  auto server = StartServer({}, [&](HttpRequest req, Responder respond) {
    if (req.path == "/hold") return held.Hold(std::move(respond));
    respond({200, {}, "quick"});
  });
  Client idle(server->port());
  EXPECT_EQ(idle.Call(http::verb::get, "/quick").body(), "quick");
  Client busy(server->port());
  busy.SendRaw("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  held.arrived.wait();

  std::thread stopper([&] { server->Stop(std::chrono::seconds(30)); });
  EXPECT_TRUE(idle.ClosedByServer());  // Stop has begun: idle connections go first
  held.ReleaseAll("drained");
  Response res = busy.Read();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "drained");
  EXPECT_FALSE(res.keep_alive());
  stopper.join();
  EXPECT_EQ(server->inflight(), 0u);
}

TEST(HttpServerTest, StopAfterDeadlineClosesUnansweredRequests) {
  HeldRequests held(1);
  auto server =
      StartServer({}, [&](HttpRequest, Responder respond) { held.Hold(std::move(respond)); });
  Client client(server->port());
  client.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  held.arrived.wait();
  server->Stop(std::chrono::milliseconds(10));
  EXPECT_EQ(client.ReadAll(), "");
  held.ReleaseAll("too late");  // after Stop: ignored, no crash
  server.reset();
}

TEST(HttpServerTest, DroppedResponderAnswers500) {
  auto server = StartServer({}, [](HttpRequest, Responder) {});
  Client client(server->port());
  Response res = client.Call(http::verb::get, "/");
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(res.body(), R"({"error":"request dropped without a response"})");
  server->Stop();  // the count is released once the write completes; Stop waits for it
  EXPECT_EQ(server->inflight(), 0u);
}

TEST(HttpServerTest, BindToAPortInUseFailsClearly) {
  auto first = StartServer({}, [](HttpRequest, Responder respond) { respond({}); });
  HttpServerOptions options;
  options.port = first->port();
  HttpServer second(options, [](HttpRequest, Responder respond) { respond({}); });
  Status started = second.Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().message,
            "listen 127.0.0.1:" + std::to_string(first->port()) + ": address already in use");
}

}  // namespace
}  // namespace epos
