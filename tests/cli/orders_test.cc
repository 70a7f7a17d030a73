// End-to-end test of the orders example (examples/orders): the real `epos run` binary on an
// ephemeral port and a database file of its own, driven over HTTP by a real client: every
// route, bad input of every kind, router misses, keep-alive, concurrent orders, a restart
// on the same database, and a clean exit on SIGTERM. The logic of each route is covered
// case by case in examples/orders/orders.cases.yaml; this test shows the whole stack.
//
// Synchronisation is on the server's log lines (the "listening on" line gives the port),
// never on sleeps; every wait has a generous limit past which the test fails. Each test has
// its own temporary directory and port, so ctest may run them in parallel.
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/http_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

#ifndef EPOS_BINARY
#error "EPOS_BINARY must name the epos executable (set in CMakeLists.txt)"
#endif
#ifndef EPOS_SOURCE_DIR
#error "EPOS_SOURCE_DIR must name the source tree (set in CMakeLists.txt)"
#endif

namespace epos {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using testing::HttpTestClient;
using testing::HttpTestResponse;
using testing_util::Subprocess;

constexpr std::chrono::seconds kLineTimeLimit{30};
constexpr std::chrono::seconds kExitTimeLimit{30};

constexpr std::string_view kAliceOrder =
    R"({"customer":"alice","items":[{"sku":"A1","qty":2},{"sku":"B2","qty":1}]})";
// Keys come out sorted; money as numbers of currency units.
constexpr std::string_view kAliceStored =
    R"({"customer":"alice","id":1,"items":[{"price":2.5,"qty":2,"sku":"A1"},)"
    R"({"price":10.0,"qty":1,"sku":"B2"}],"total":13.5})";
constexpr std::string_view kNotAnObject =
    R"x("body must be a JSON object (send Content-Type: application/json)")x";
constexpr std::string_view kBobOrder = R"({"customer":"bob","items":[{"sku":"C3","qty":3}]})";
constexpr std::string_view kBobStored =
    R"({"customer":"bob","id":2,"items":[{"price":0.99,"qty":3,"sku":"C3"}],"total":2.97})";

fs::path ExampleDir() { return fs::path(EPOS_SOURCE_DIR) / "examples" / "orders"; }

using testing_util::TempDir;

std::vector<std::string> RunArgs(const fs::path& db) {
  return {EPOS_BINARY, "run",    "orders.yaml", "--values",         "orders.values.yaml",
          "-e",        "PORT=0", "-e",          "DB=" + db.string()};
}

// `epos run examples/orders/orders.yaml` on an ephemeral port and the database `db`.
class OrdersServer {
 public:
  explicit OrdersServer(const fs::path& db) : args_(RunArgs(db)) {
    if (!child_.Start(args_, ExampleDir())) {
      ADD_FAILURE() << "cannot start epos: " << child_.failure();
      return;
    }
    std::optional<std::string> line =
        child_.WaitForStderrLine("listening on http://127.0.0.1:", kLineTimeLimit);
    if (!line) {
      ADD_FAILURE() << "no \"listening on\" line within " << kLineTimeLimit.count() << " s\n"
                    << What();
      return;
    }
    std::string_view text = *line;
    text = text.substr(text.rfind(':') + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value == 0 || value > 65535) {
      ADD_FAILURE() << "no port in \"" << *line << "\"";
      return;
    }
    port_ = static_cast<std::uint16_t>(value);
  }

  // 0 when the server did not come up (a failure was reported).
  std::uint16_t port() const { return port_; }

  // SIGTERM, then the exit code (nullopt: killed, a signal, or past the time limit).
  std::optional<int> Stop() {
    child_.Signal(SIGTERM);
    return child_.Wait(kExitTimeLimit);
  }

  std::string What() const {
    std::string text;
    for (const std::string& a : args_) text += a + " ";
    return text + "\nstdout: " + child_.out() + "\nstderr: " + child_.err();
  }

 private:
  std::vector<std::string> args_;
  Subprocess child_;
  std::uint16_t port_ = 0;
};

HttpTestResponse PostOrder(HttpTestClient& client, std::string_view json) {
  return client.PostJson("/orders", std::string(json));
}

// The status and body of a response, for readable failures.
std::string Show(const HttpTestResponse& r) {
  return std::to_string(r.result_int()) + " " + r.body();
}

// Expects a 400 whose body is {"error": message}.
void ExpectBadRequest(std::uint16_t port, std::string_view body, std::string_view message,
                      std::string content_type = "application/json") {
  HttpTestClient client(port);
  HttpTestResponse r = client.Call(http::verb::post, "/orders", std::string(body),
                                   {{"Content-Type", std::move(content_type)}});
  EXPECT_EQ(r.result_int(), 400u) << body << " → " << Show(r);
  EXPECT_EQ(r.body(), R"({"error":)" + std::string(message) + "}") << body;
  EXPECT_EQ(r[http::field::content_type], "application/json");
}

TEST(OrdersServer, AnswersPing) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  HttpTestResponse r = HttpTestClient(server.port()).Get("/ping");
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), "pong");
  EXPECT_EQ(r[http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, StoresOrdersAndReadsThemBack) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  HttpTestClient client(server.port());

  HttpTestResponse created = PostOrder(client, kAliceOrder);
  EXPECT_EQ(created.result_int(), 201u) << Show(created);
  EXPECT_EQ(created.body(), kAliceStored);
  EXPECT_EQ(created[http::field::location], "/orders/1");
  EXPECT_EQ(created[http::field::content_type], "application/json");
  EXPECT_TRUE(fs::exists(dir.path() / "orders.db"));

  HttpTestResponse found = client.Get("/orders/1");
  EXPECT_EQ(found.result_int(), 200u) << Show(found);
  EXPECT_EQ(found.body(), kAliceStored);

  HttpTestResponse missing = client.Get("/orders/2");
  EXPECT_EQ(missing.result_int(), 404u) << Show(missing);
  EXPECT_EQ(missing.body(), R"({"error":"order not found"})");
  EXPECT_EQ(client.Get("/orders/x1").body(), R"({"error":"order not found"})");

  HttpTestResponse bob = PostOrder(client, kBobOrder);
  EXPECT_EQ(bob.result_int(), 201u) << Show(bob);
  EXPECT_EQ(bob.body(), kBobStored);

  HttpTestResponse alices = client.Get("/orders?customer=alice");
  EXPECT_EQ(alices.result_int(), 200u) << Show(alices);
  EXPECT_EQ(alices.body(), "[" + std::string(kAliceStored) + "]");
  EXPECT_EQ(client.Get("/orders?customer=bob").body(), "[" + std::string(kBobStored) + "]");
  EXPECT_EQ(client.Get("/orders?customer=carol").body(), "[]");
  EXPECT_EQ(client.Get("/orders").body(),
            "[" + std::string(kAliceStored) + "," + std::string(kBobStored) + "]");

  // An unknown customer pays full price.
  HttpTestResponse carol = PostOrder(
      client, R"({"customer":"carol","items":[{"sku":"A1","qty":2},{"sku":"B2","qty":1}]})");
  EXPECT_EQ(carol.result_int(), 201u) << Show(carol);
  EXPECT_EQ(carol.body(), R"({"customer":"carol","id":3,"items":[{"price":2.5,"qty":2,"sku":"A1"},)"
                          R"({"price":10.0,"qty":1,"sku":"B2"}],"total":15.0})");
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, RejectsBadRequestsNamingTheProblem) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  const std::uint16_t port = server.port();

  // JSON that does not parse: the listener answers before any trace starts.
  HttpTestResponse bad_json = HttpTestClient(port).PostJson("/orders", R"({"customer": )");
  EXPECT_EQ(bad_json.result_int(), 400u) << Show(bad_json);
  EXPECT_NE(bad_json.body().find("invalid JSON"), std::string::npos) << bad_json.body();

  ExpectBadRequest(port, R"({"customer":"alice"})", R"("items must be an array")");
  ExpectBadRequest(port, R"({"customer":7,"items":[{"sku":"A1","qty":1}]})",
                   R"("customer must be a string")");
  ExpectBadRequest(port, R"({"customer":"alice","items":{"sku":"A1"}})",
                   R"("items must be an array")");
  ExpectBadRequest(port, R"({"customer":"alice","items":[]})", R"("items must not be empty")");
  ExpectBadRequest(port, R"({"customer":"alice","items":[{"sku":1,"qty":1}]})",
                   R"("items[0].sku must be a string")");
  ExpectBadRequest(port,
                   R"({"customer":"alice","items":[{"sku":"A1","qty":1},{"sku":"B2","qty":0}]})",
                   R"("items[1].qty must be an integer greater than 0")");
  ExpectBadRequest(port, R"({"customer":"alice","items":[{"sku":"A1","qty":"2"}]})",
                   R"("items[0].qty must be an integer greater than 0")");
  ExpectBadRequest(port, R"({"customer":"alice","items":[{"sku":"A1","qty":1.5}]})",
                   R"("items[0].qty must be an integer greater than 0")");
  ExpectBadRequest(port, R"(["alice"])", kNotAnObject);
  ExpectBadRequest(port,
                   R"({"customer":"alice","items":[{"sku":"A1","qty":1},{"sku":"Z9","qty":1}]})",
                   R"("unknown sku \"Z9\"")");
  // JSON sent as another media type arrives as text.
  ExpectBadRequest(port, kAliceOrder, kNotAnObject, "text/plain");

  // A body over the listener's limit: 413 before it is read.
  std::string huge =
      R"({"customer":"alice","items":[],"pad":")" + std::string(2 * 1024 * 1024, 'x') + R"("})";
  HttpTestResponse too_big = HttpTestClient(port).PostJson("/orders", huge);
  EXPECT_EQ(too_big.result_int(), 413u) << too_big.result_int();

  // None of that stored anything or hurt the server.
  HttpTestClient client(port);
  EXPECT_EQ(client.Get("/orders").body(), "[]");
  EXPECT_EQ(PostOrder(client, kAliceOrder).body(), kAliceStored);
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, LeavesUnknownRoutesAndWrongMethodsToTheRouter) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  HttpTestClient client(server.port());

  HttpTestResponse unknown = client.Get("/products");
  EXPECT_EQ(unknown.result_int(), 404u) << Show(unknown);
  EXPECT_EQ(unknown.body(), R"({"error":"no route for GET /products"})");

  HttpTestResponse deleted = client.Call(http::verb::delete_, "/orders/1");
  EXPECT_EQ(deleted.result_int(), 405u) << Show(deleted);
  EXPECT_EQ(deleted[http::field::allow], "GET");
  EXPECT_EQ(deleted.body(), R"({"error":"method DELETE not allowed for /orders/1"})");

  HttpTestResponse put = client.Call(http::verb::put, "/orders", std::string(kAliceOrder),
                                     {{"Content-Type", "application/json"}});
  EXPECT_EQ(put.result_int(), 405u) << Show(put);
  std::string allow(put[http::field::allow]);
  EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
  EXPECT_NE(allow.find("POST"), std::string::npos) << allow;

  HttpTestResponse post_ping = client.Call(http::verb::post, "/ping");
  EXPECT_EQ(post_ping.result_int(), 405u) << Show(post_ping);
  EXPECT_EQ(post_ping[http::field::allow], "GET");
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, ServesManyRequestsOnOneConnection) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  // One client is one socket: a closed connection would fail the next call (status 599).
  HttpTestClient client(server.port());
  for (int round = 0; round < 3; ++round) {
    HttpTestResponse ping = client.Get("/ping");
    EXPECT_EQ(ping.body(), "pong") << Show(ping);
    EXPECT_TRUE(ping.keep_alive());
    HttpTestResponse created = PostOrder(client, kBobOrder);
    EXPECT_EQ(created.result_int(), 201u) << Show(created);
    EXPECT_TRUE(created.keep_alive());
    const std::string id = std::to_string(round + 1);
    HttpTestResponse found = client.Get("/orders/" + id);
    EXPECT_EQ(found.result_int(), 200u) << Show(found);
    EXPECT_NE(found.body().find(R"("id":)" + id + ","), std::string::npos) << found.body();
    HttpTestResponse rejected = PostOrder(client, R"({"customer":"bob","items":[]})");
    EXPECT_EQ(rejected.result_int(), 400u) << Show(rejected);
    EXPECT_TRUE(rejected.keep_alive());
    HttpTestResponse missing = client.Get("/nowhere");
    EXPECT_EQ(missing.result_int(), 404u) << Show(missing);
    EXPECT_TRUE(missing.keep_alive());
  }
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, StoresConcurrentOrdersEachOnce) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  constexpr int kClients = 4;
  constexpr int kOrdersEach = 10;
  std::vector<std::vector<std::string>> bodies(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpTestClient client(server.port());
      for (int i = 0; i < kOrdersEach; ++i) {
        HttpTestResponse r = PostOrder(client, kAliceOrder);
        bodies[static_cast<std::size_t>(c)].push_back(std::to_string(r.result_int()) + " " +
                                                      r.body());
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::set<std::string> ids;
  for (const auto& list : bodies) {
    for (const std::string& body : list) {
      ASSERT_EQ(body.substr(0, 4), "201 ") << body;
      std::size_t at = body.find(R"("id":)");
      ASSERT_NE(at, std::string::npos) << body;
      ids.insert(body.substr(at + 5, body.find(',', at) - at - 5));
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kClients * kOrdersEach));
  HttpTestResponse all = HttpTestClient(server.port()).Get("/orders?customer=alice");
  EXPECT_EQ(all.result_int(), 200u);
  std::size_t count = 0;
  for (std::size_t at = all.body().find(R"("total":13.5)"); at != std::string::npos;
       at = all.body().find(R"("total":13.5)", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, static_cast<std::size_t>(kClients * kOrdersEach));
  EXPECT_EQ(server.Stop(), 0) << server.What();
}

TEST(OrdersServer, KeepsOrdersAcrossARestartAndMigratesOnce) {
  TempDir dir;
  const fs::path db = dir.path() / "orders.db";
  {
    OrdersServer first(db);
    ASSERT_NE(first.port(), 0);
    HttpTestClient client(first.port());
    EXPECT_EQ(PostOrder(client, kAliceOrder).body(), kAliceStored);
    EXPECT_EQ(first.Stop(), 0) << first.What();
  }
  // The same file: the seed migration does not run again (its INSERTs would fail on the
  // primary keys), and the stored order is still there.
  OrdersServer second(db);
  ASSERT_NE(second.port(), 0);
  HttpTestClient client(second.port());
  EXPECT_EQ(client.Get("/orders/1").body(), kAliceStored);
  HttpTestResponse bob = PostOrder(client, kBobOrder);
  EXPECT_EQ(bob.result_int(), 201u) << Show(bob);
  EXPECT_EQ(bob.body(), kBobStored);
  EXPECT_EQ(second.Stop(), 0) << second.What();
}

TEST(OrdersServer, StopsCleanlyOnSigterm) {
  TempDir dir;
  OrdersServer server(dir.path() / "orders.db");
  ASSERT_NE(server.port(), 0);
  HttpTestClient client(server.port());
  EXPECT_EQ(PostOrder(client, kAliceOrder).result_int(), 201u);
  EXPECT_EQ(server.Stop(), 0) << server.What();
  EXPECT_NE(server.What().find("SIGTERM received: stopping"), std::string::npos) << server.What();
}

TEST(OrdersExample, ValidateCreatesNoDatabase) {
  TempDir dir;
  const fs::path db = dir.path() / "orders.db";
  testing_util::RunResult run =
      testing_util::RunProcess({EPOS_BINARY, "validate", "orders.yaml", "--values",
                                "orders.values.yaml", "-e", "DB=" + db.string()},
                               ExampleDir(), std::chrono::seconds(30));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find(": ok"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(db));
}

}  // namespace
}  // namespace epos
