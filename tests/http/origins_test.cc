// http.listener + http.router compiled from specs and served by HttpOrigins, driven over
// real loopback connections.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/exec/runtime.h"
#include "epos/nodes/http.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"
#include "support/http_client.h"

namespace epos {
namespace {

namespace http = boost::beast::http;
using testing::HttpTestClient;

std::string Str(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Compiles `text` (with `-e` style bindings) and returns namespace `name_space`'s graph, or
// fails the test with the diagnostics.
std::shared_ptr<const Graph> CompileGraph(std::string_view text,
                                          std::map<std::string, std::string> overrides = {},
                                          std::uint64_t version = 1,
                                          std::string_view name_space = "default") {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, "api.yaml", diags);
  TemplateBindings bindings;
  for (auto& [k, v] : overrides) bindings.SetOverride(k, v);
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  static const Scheme scheme = StandardScheme();
  CompileOutput out = Compile(specs, scheme, diags, version);
  EXPECT_TRUE(diags.empty()) << diags.ToString();
  auto it = out.graphs.find(std::string(name_space));
  return it == out.graphs.end() ? nullptr : it->second;
}

std::string CompileErrors(std::string_view text) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, "api.yaml", diags);
  static const Scheme scheme = StandardScheme();
  (void)Compile(specs, scheme, diags);
  return diags.ToString();
}

// The uniflow ping example as shipped (examples/ping/ping.yaml, unchanged from uniflow).
std::string PingExample() {
  std::ifstream in(std::filesystem::path(EPOS_SOURCE_DIR) / "examples" / "ping" / "ping.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "examples/ping/ping.yaml not found";
  return text.str();
}

constexpr std::string_view kApi = R"(
- kind: http.listener
  name: api
  port: 0
  limits: {body: 64, deadline: 200ms}
  ports:
    out: [{name: routes}]
- kind: http.router
  name: routes
  routes:
    - {method: GET, path: /users/:id, port: 'out[0]'}
    - {method: POST, path: /echo, port: 'out[1]'}
    - {method: GET, path: /nothing, port: 'out[2]'}
    - {method: GET, path: /fail, port: 'out[3]'}
    - {method: GET, path: /slow, port: 'out[4]'}
    - {method: PUT, path: /users/:id, port: 'out[5]'}
  ports:
    'out[0]': [{name: user}]
    'out[1]': [{name: echo}]
    'out[2]': [{name: nothing}]
    'out[3]': [{name: fail}]
    'out[4]': [{name: slow}]
    'out[5]': [{name: created}]
- kind: snippet
  name: user
  code: |
    return function(req) return {id = req.params.id, q = req.query.q} end
- kind: snippet
  name: echo
  code: |
    return function(req) return {got = req.body, type = req.header["content-type"]} end
- kind: snippet
  name: nothing
  code: |
    return function(req) return nil end
- kind: throw
  name: fail
  message: it broke
- kind: sleep
  name: slow
  duration: 30s
- kind: snippet
  name: created
  code: |
    return function(req)
      return {status = 201, headers = {Location = "/users/" .. req.params.id}, body = req.body}
    end
)";

class OriginsTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_.Start(); }
  void TearDown() override {
    origins_.Stop(std::chrono::milliseconds(0));
    runtime_.Stop(std::chrono::seconds(1));
  }

  std::uint16_t Serve(const std::shared_ptr<const Graph>& graph) {
    std::vector<std::string> errors = origins_.Apply({graph});
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(origins_.bound().size(), 1u);
    return origins_.bound().empty() ? 0 : origins_.bound()[0].port;
  }

  Runtime runtime_{RuntimeOptions{.workers = 2, .attachable = 1}};
  HttpOrigins origins_{runtime_, {.io_threads = 1, .drain = std::chrono::seconds(1)}};
};

TEST_F(OriginsTest, UniflowPingExampleAnswersPong) {
  std::uint16_t port = Serve(CompileGraph(PingExample(), {{"PORT", "0"}}));
  ASSERT_NE(port, 0);
  HttpTestClient client(port);
  for (int i = 0; i < 3; ++i) {  // one kept-alive connection
    auto res = client.Get("/ping");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "pong");
    EXPECT_EQ(Str(res[http::field::content_type]), "text/plain; charset=utf-8");
    EXPECT_TRUE(res.keep_alive());
  }
  ASSERT_EQ(origins_.bound().size(), 1u);
  EXPECT_EQ(origins_.bound()[0].node, "listener");
  EXPECT_EQ(origins_.bound()[0].name_space, "default");
}

TEST_F(OriginsTest, RouterAddsParamsAndAnswers404And405) {
  HttpTestClient client(Serve(CompileGraph(kApi)));
  auto user = client.Get("/users/a%20b?q=x+y");
  EXPECT_EQ(user.result_int(), 200);
  EXPECT_EQ(ParseJson(user.body()).value(), ParseJson(R"({"id":"a b","q":"x y"})").value());
  EXPECT_EQ(Str(user[http::field::content_type]), "application/json");

  auto missing = client.Get("/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(missing.body(), R"({"error":"no route for GET /nope"})");

  auto wrong = client.Call(http::verb::delete_, "/users/7");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(Str(wrong[http::field::allow]), "GET, PUT");
  EXPECT_EQ(wrong.body(), R"({"error":"method DELETE not allowed for /users/7"})");
}

TEST_F(OriginsTest, ReplyMappingOverTheWire) {
  HttpTestClient client(Serve(CompileGraph(kApi)));
  auto echo = client.PostJson("/echo", R"({"a":[1,2]})");
  EXPECT_EQ(echo.result_int(), 200);
  EXPECT_EQ(ParseJson(echo.body()).value(),
            ParseJson(R"({"got":{"a":[1,2]},"type":"application/json"})").value());

  auto created = client.Call(http::verb::put, "/users/9", "hi");
  EXPECT_EQ(created.result_int(), 201);
  EXPECT_EQ(Str(created[http::field::location]), "/users/9");
  EXPECT_EQ(created.body(), "hi");

  auto nothing = client.Get("/nothing");
  EXPECT_EQ(nothing.result_int(), 204);
  EXPECT_EQ(nothing.body(), "");

  auto fail = client.Get("/fail");
  EXPECT_EQ(fail.result_int(), 500);
  EXPECT_EQ(ParseJson(fail.body()).value(),
            ParseJson(R"({"error":"it broke","node":"fail","kind":"throw"})").value());
}

TEST_F(OriginsTest, LimitsAndDeadline) {
  std::uint16_t port = Serve(CompileGraph(kApi));
  {
    HttpTestClient client(port);
    auto slow = client.Get("/slow");
    EXPECT_EQ(slow.result_int(), 504);
    Value error = ParseJson(slow.body()).value();
    EXPECT_EQ(error["error"], Value("deadline of 200ms exceeded"));
  }
  {
    HttpTestClient client(port);
    auto bad =
        client.Call(http::verb::post, "/echo", "{nope", {{"Content-Type", "application/json"}});
    EXPECT_EQ(bad.result_int(), 400);
    EXPECT_NE(bad.body().find("invalid JSON"), std::string::npos) << bad.body();
  }
  {
    HttpTestClient client(port);
    auto big = client.Call(http::verb::post, "/echo", std::string(65, 'x'));
    EXPECT_EQ(big.result_int(), 413);
    EXPECT_TRUE(client.ClosedByServer());
  }
}

TEST_F(OriginsTest, HotReloadKeepsTheSocketAndItsConnections) {
  constexpr std::string_view kV1 = R"(
- kind: listener
  name: in
  port: '{{ .PORT }}'
  limits: {body: 1MiB}
  ports: {out: [{name: answer}]}
- kind: snippet
  name: answer
  language: text
  code: one
)";
  std::string v2(kV1);
  v2.replace(v2.find("code: one"), 9, "code: two");
  v2.replace(v2.find("1MiB"), 4, "8");
  std::uint16_t port = Serve(CompileGraph(kV1, {{"PORT", "0"}}, 1));
  HttpTestClient kept(port);
  EXPECT_EQ(kept.Get("/").body(), "one");

  // Same configured address (port 0): same socket, new graph, new limits.
  std::vector<std::string> errors = origins_.Apply({CompileGraph(v2, {{"PORT", "0"}}, 2)});
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(origins_.bound().size(), 1u);
  EXPECT_EQ(origins_.bound()[0].port, port);
  EXPECT_EQ(kept.Get("/").body(), "two");
  EXPECT_EQ(kept.Call(http::verb::post, "/", "123456789").result_int(), 413);

  // No listener any more: the socket closes.
  errors = origins_.Apply({CompileGraph("- {kind: nop, name: idle}")});
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(origins_.bound().empty());
  EXPECT_THROW(HttpTestClient{port}, boost::system::system_error);
}

TEST_F(OriginsTest, AddressClashesAndBindFailuresAreReported) {
  auto a = CompileGraph(PingExample(), {{"PORT", "0"}}, 1, "default");
  std::uint16_t port = Serve(a);
  std::string other =
      "- {kind: listener, name: second, namespace: other, port: " + std::to_string(port) + "}\n";
  auto b = CompileGraph(other, {}, 1, "other");
  std::vector<std::string> errors = origins_.Apply({a, b});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "listener \"second\" (namespace other): listen 127.0.0.1:" +
                           std::to_string(port) + ": address already in use");

  std::string same = "- {kind: listener, name: third, namespace: other, port: 0}\n";
  errors = origins_.Apply({a, CompileGraph(same, {}, 1, "other")});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "listener \"third\" (namespace other): address 127.0.0.1:0 is already used by "
            "listener \"listener\" (namespace default)");
  // The first listener kept serving throughout.
  EXPECT_EQ(HttpTestClient(port).Get("/ping").body(), "pong");
}

TEST(HttpKindsTest, CompileErrorsNameTheField) {
  std::string errors = CompileErrors(R"(
- kind: listener
  name: l
  protocol: https
  port: eighty
  limits: {bdy: 1, header: 2XB, inflight: 0, deadline: soon}
  ports: {out: [{name: r}]}
- kind: router
  name: r
  routes:
    - {method: GET, path: /a/*rest/b, port: 'out[0]'}
    - {method: GET, path: /x, port: 'in[0]'}
    - {path: /y, port: 1, verb: GET}
)");
  EXPECT_NE(errors.find("field \"protocol\": https is not supported"), std::string::npos) << errors;
  EXPECT_NE(errors.find("field \"port\": must be a port number 0..65535"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("field \"limits.bdy\": unknown limit; did you mean \"body\"?"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("field \"limits.header\": bad size \"2XB\""), std::string::npos) << errors;
  EXPECT_NE(errors.find("field \"limits.inflight\": must be an integer more than 0"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("field \"limits.deadline\": bad duration \"soon\""), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("field \"routes.1.port\": invalid port \"in[0]\""), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("field \"routes.2.verb\": unknown field"), std::string::npos) << errors;
}

TEST(HttpKindsTest, BadRoutePatternIsReportedAtItsPath) {
  std::string errors = CompileErrors(R"(
- kind: router
  name: r
  routes:
    - {method: GET, path: /ok}
    - {method: GET, path: /a/*rest/b}
)");
  EXPECT_NE(errors.find("field \"routes.1.path\": pattern \"/a/*rest/b\""), std::string::npos)
      << errors;
}

}  // namespace
}  // namespace epos
