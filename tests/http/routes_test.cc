#include "epos/http/routes.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace epos {
namespace {

using Outcome = RouteMatch::Outcome;

RouteTable MustBuild(std::vector<RouteSpec> routes) {
  Result<RouteTable> table = RouteTable::Build(std::move(routes));
  EXPECT_TRUE(table) << (table ? "" : table.error().message);
  return table ? std::move(*table) : RouteTable();
}

std::string BuildError(std::vector<RouteSpec> routes) {
  Result<RouteTable> table = RouteTable::Build(std::move(routes));
  if (table) return "(built)";
  EXPECT_EQ(table.error().code, ErrorCode::kInvalidArgument);
  return table.error().message;
}

TEST(RouteTableTest, MatchesLiteralRoutesByMethodAndPath) {
  RouteTable t = MustBuild({{"GET", "/orders", 0}, {"POST", "/orders", 1}, {"GET", "/", 2}});
  RouteMatch m = t.Match("GET", "/orders");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.status(), 200);
  EXPECT_EQ(m.port, 0u);
  EXPECT_EQ(m.route, 0u);
  EXPECT_TRUE(m.params.IsMap());
  EXPECT_EQ(m.params.size(), 0u);
  EXPECT_EQ(t.Match("POST", "/orders").port, 1u);
  EXPECT_EQ(t.Match("GET", "/").port, 2u);
  EXPECT_EQ(t.Match("GET", "/order").outcome, Outcome::kNotFound);
  EXPECT_EQ(t.Match("GET", "/orders/1").outcome, Outcome::kNotFound);
}

TEST(RouteTableTest, MethodsAreCaseInsensitiveAndStarOrEmptyMatchesAny) {
  RouteTable t = MustBuild({{"get", "/a", 0}, {"*", "/b", 1}, {"", "/c", 2}});
  EXPECT_EQ(t.Match("GET", "/a").port, 0u);
  EXPECT_EQ(t.Match("Get", "/a").port, 0u);
  EXPECT_EQ(t.Match("DELETE", "/b").port, 1u);
  EXPECT_EQ(t.Match("patch", "/c").port, 2u);
  EXPECT_EQ(t.Match("POST", "/a").outcome, Outcome::kMethodNotAllowed);
}

TEST(RouteTableTest, ParamsAreExtractedAndPercentDecoded) {
  RouteTable t = MustBuild({{"GET", "/users/:user/orders/:order_id", 0}});
  RouteMatch m = t.Match("GET", "/users/j%C3%B6rg%20x/orders/a%2Fb");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"user", "jörg x"}, {"order_id", "a/b"}}));
  // '+' stays a '+' in a path; a broken escape is kept verbatim.
  m = t.Match("GET", "/users/a+b/orders/%zz%4");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"user", "a+b"}, {"order_id", "%zz%4"}}));
  // A parameter needs a non-empty segment.
  EXPECT_FALSE(t.Match("GET", "/users//orders/1").matched());
}

TEST(RouteTableTest, CatchAllTakesTheDecodedRest) {
  RouteTable t = MustBuild({{"GET", "/static/*path", 0}, {"GET", "/any/*", 1}});
  RouteMatch m = t.Match("GET", "/static/css/site%20main.css");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"path", "css/site main.css"}}));
  m = t.Match("GET", "/static/");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"path", ""}}));
  m = t.Match("GET", "/static");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"path", ""}}));
  m = t.Match("GET", "/any/x/y");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.port, 1u);
  EXPECT_EQ(m.params, Value::Map({{"*", "x/y"}}));
  EXPECT_FALSE(t.Match("GET", "/staticx/a").matched());
}

TEST(RouteTableTest, RootCatchAllTakesEverythingButTheRoot) {
  RouteTable t = MustBuild({{"GET", "/*rest", 0}, {"GET", "/", 1}});
  EXPECT_EQ(t.Match("GET", "/").port, 1u);
  RouteMatch m = t.Match("GET", "/a/b/");
  EXPECT_EQ(m.port, 0u);
  EXPECT_EQ(m.params, Value::Map({{"rest", "a/b"}}));
  RouteTable only = MustBuild({{"GET", "/*rest", 0}});
  m = only.Match("GET", "/");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.params, Value::Map({{"rest", ""}}));
  EXPECT_EQ(only.Match("PUT", "/x").outcome, Outcome::kMethodNotAllowed);
}

TEST(RouteTableTest, LiteralBeatsParamBeatsCatchAll) {
  // Declared least specific first: precedence, not order, decides.
  RouteTable t = MustBuild({{"GET", "/orders/*rest", 0},
                            {"GET", "/orders/:id", 1},
                            {"GET", "/orders/new", 2},
                            {"GET", "/orders", 3},
                            {"GET", "/a/:x/c", 4},
                            {"GET", "/a/b/:y", 5}});
  EXPECT_EQ(t.Match("GET", "/orders/new").port, 2u);
  EXPECT_EQ(t.Match("GET", "/orders/42").port, 1u);
  EXPECT_EQ(t.Match("GET", "/orders/42/items").port, 0u);
  EXPECT_EQ(t.Match("GET", "/orders").port, 3u);
  // The leftmost differing segment decides: literal `b` beats `:x`.
  RouteMatch m = t.Match("GET", "/a/b/c");
  EXPECT_EQ(m.port, 5u);
  EXPECT_EQ(m.params, Value::Map({{"y", "c"}}));
  EXPECT_EQ(t.Match("GET", "/a/z/c").port, 4u);
}

TEST(RouteTableTest, EqualShapesGoInDeclarationOrder) {
  RouteTable t = MustBuild({{"*", "/x/:a", 0}, {"GET", "/x/:b", 1}});
  RouteMatch m = t.Match("GET", "/x/1");
  EXPECT_EQ(m.port, 0u);
  EXPECT_EQ(m.params, Value::Map({{"a", "1"}}));
  RouteTable u = MustBuild({{"GET", "/x/:b", 1}, {"*", "/x/:a", 0}});
  EXPECT_EQ(u.Match("GET", "/x/1").port, 1u);
  EXPECT_EQ(u.Match("PUT", "/x/1").port, 0u);
}

TEST(RouteTableTest, MethodFilterComesBeforePrecedence) {
  RouteTable t = MustBuild({{"POST", "/orders/new", 0}, {"GET", "/orders/:id", 1}});
  RouteMatch m = t.Match("GET", "/orders/new");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.port, 1u);
  EXPECT_EQ(m.params, Value::Map({{"id", "new"}}));
}

TEST(RouteTableTest, Tells404From405AndListsAllowedMethods) {
  RouteTable t = MustBuild({{"GET", "/orders/:id", 0},
                            {"delete", "/orders/:id", 1},
                            {"PUT", "/orders/*", 2},
                            {"GET", "/other", 3},
                            {"PATCH", "/x", 4}});
  RouteMatch m = t.Match("POST", "/orders/7");
  EXPECT_EQ(m.outcome, Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.status(), 405);
  EXPECT_EQ(m.allow, (std::vector<std::string>{"GET", "DELETE", "PUT"}));
  EXPECT_EQ(m.AllowHeader(), "GET, DELETE, PUT");
  EXPECT_TRUE(m.params.IsNull());

  m = t.Match("POST", "/orders/7/items");
  EXPECT_EQ(m.outcome, Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, (std::vector<std::string>{"PUT"}));

  m = t.Match("GET", "/nothing");
  EXPECT_EQ(m.outcome, Outcome::kNotFound);
  EXPECT_EQ(m.status(), 404);
  EXPECT_TRUE(m.allow.empty());
}

TEST(RouteTableTest, TrailingSlashAndQueryAreNormalised) {
  RouteTable t = MustBuild({{"GET", "/orders/", 0}, {"GET", "/", 1}, {"GET", "/o/:id", 2}});
  EXPECT_EQ(t.Match("GET", "/orders").port, 0u);
  EXPECT_EQ(t.Match("GET", "/orders/").port, 0u);
  EXPECT_EQ(t.Match("GET", "/orders?x=1").port, 0u);
  EXPECT_EQ(t.Match("GET", "/").port, 1u);
  EXPECT_EQ(t.Match("GET", "/?q").port, 1u);
  RouteMatch m = t.Match("GET", "/o/5/?a=b");
  EXPECT_EQ(m.port, 2u);
  EXPECT_EQ(m.params, Value::Map({{"id", "5"}}));
  // Both spellings of one pattern are duplicates.
  EXPECT_NE(BuildError({{"GET", "/orders", 0}, {"GET", "/orders/", 1}}).find("duplicate"),
            std::string::npos);
}

TEST(RouteTableTest, LiteralsMatchEncodedSegments) {
  RouteTable t = MustBuild({{"GET", "/caf%C3%A9/menu", 0}, {"GET", "/a b", 1}});
  EXPECT_EQ(t.Match("GET", "/café/menu").port, 0u);
  EXPECT_EQ(t.Match("GET", "/caf%C3%A9/menu").port, 0u);
  EXPECT_EQ(t.Match("GET", "/caf%c3%a9/menu").port, 0u);
  EXPECT_EQ(t.Match("GET", "/a%20b").port, 1u);
}

TEST(RouteTableTest, DeepPathsSpillPastTheInlineSegments) {
  std::string pattern, path;
  for (int i = 0; i < 40; ++i) {
    pattern += "/s" + std::to_string(i);
    path += "/s" + std::to_string(i);
  }
  RouteTable t = MustBuild({{"GET", pattern + "/:last", 0}, {"GET", "/s0/*rest", 1}});
  RouteMatch m = t.Match("GET", path + "/end");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(m.port, 0u);
  EXPECT_EQ(m.params, Value::Map({{"last", "end"}}));
  m = t.Match("GET", path + "/end/more");
  EXPECT_EQ(m.port, 1u);
  EXPECT_EQ(m.params["rest"].AsString(), path.substr(4) + "/end/more");
}

TEST(RouteTableTest, RejectsBadRoutesNamingTheIndex) {
  EXPECT_EQ(BuildError({{"GET", "/ok", 0}, {"GET", "", 1}}), "routes[1]: empty pattern");
  EXPECT_EQ(BuildError({{"GET", "orders", 0}}),
            "routes[0]: pattern \"orders\": must start with '/'");
  EXPECT_EQ(BuildError({{"GET", "/a//b", 0}}),
            "routes[0]: pattern \"/a//b\": empty segment (\"//\")");
  EXPECT_EQ(BuildError({{"GET", "/a/:", 0}}),
            "routes[0]: pattern \"/a/:\": bad parameter name \":\" (want [A-Za-z_][A-Za-z0-9_]*)");
  EXPECT_EQ(
      BuildError({{"GET", "/a/:1x", 0}}),
      "routes[0]: pattern \"/a/:1x\": bad parameter name \":1x\" (want [A-Za-z_][A-Za-z0-9_]*)");
  EXPECT_EQ(
      BuildError({{"GET", "/a/*x-y", 0}}),
      "routes[0]: pattern \"/a/*x-y\": bad parameter name \"*x-y\" (want [A-Za-z_][A-Za-z0-9_]*)");
  EXPECT_EQ(BuildError({{"GET", "/a/:id/b/:id", 0}}),
            "routes[0]: pattern \"/a/:id/b/:id\": parameter \"id\" appears twice");
  EXPECT_EQ(BuildError({{"GET", "/a/*/b", 0}}),
            "routes[0]: pattern \"/a/*/b\": catch-all \"*\" must be the last segment");
  EXPECT_EQ(BuildError({{"GET", "/a/*rest/b", 0}}),
            "routes[0]: pattern \"/a/*rest/b\": catch-all \"*rest\" must be the last segment");
  EXPECT_EQ(BuildError({{"GET", "/a?x=1", 0}}),
            "routes[0]: pattern \"/a?x=1\": must not hold a query ('?')");
  EXPECT_EQ(BuildError({{"GET", "/o/:id", 0}, {"POST", "/o/:id", 1}, {"get", "/o/:key", 2}}),
            "routes[2]: pattern \"/o/:key\": duplicate of routes[0] (\"/o/:id\") for method GET");
  EXPECT_EQ(BuildError({{"*", "/x", 0}, {"", "/x", 1}}),
            "routes[1]: pattern \"/x\": duplicate of routes[0] (\"/x\") for method *");
  EXPECT_EQ(BuildError({{"GE T", "/x", 0}}), "routes[0]: bad method \"GE T\"");
  // Same shape, different literal or method: fine.
  EXPECT_TRUE(RouteTable::Build({{"GET", "/o/a", 0}, {"GET", "/o/b", 1}, {"PUT", "/o/a", 2}}));
}

TEST(RouteTableTest, EmptyTableIsAllNotFound) {
  RouteTable t = MustBuild({});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Match("GET", "/").outcome, Outcome::kNotFound);
}

TEST(RouteTableTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%20b%2fc"), "a b/c");
  EXPECT_EQ(PercentDecode("%"), "%");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%4g"), "%4g");
  EXPECT_EQ(PercentDecode("100%25"), "100%");
}

}  // namespace
}  // namespace epos

namespace epos {
namespace {

TEST(RouteTableTest, PercentDecodeTreatsPlusAsSpaceOnlyInQueries) {
  EXPECT_EQ(PercentDecode("two+words%21"), "two+words!");
  EXPECT_EQ(PercentDecode("two+words%21", /*plus_is_space=*/true), "two words!");
  EXPECT_EQ(PercentDecode("%2B", true), "+");
}

}  // namespace
}  // namespace epos
