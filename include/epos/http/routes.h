// RouteTable: request routing for the `http.router` node (DESIGN.md §5), uniflow-style
// routes `[{method, path, port}]`.
//
// A pattern is a '/'-separated list of segments:
//   - literal   `orders`   matches exactly that segment (compared byte for byte, and also
//                          against the percent-decoded segment when it holds a '%');
//   - parameter `:id`      matches any one non-empty segment; params["id"] is the decoded
//                          segment;
//   - catch-all `*path`    matches the rest of the path, zero or more segments, and must be
//                          the last segment; params["path"] is the decoded rest without a
//                          leading '/' ("" when empty). A bare `*` stores it under "*".
// Parameter names are [A-Za-z_][A-Za-z0-9_]*, unique within a pattern.
//
// Trailing slashes are normalised away, in patterns and in paths: `/orders/` and `/orders`
// are the same route; the root `/` stays `/`. Repeated slashes are not collapsed: `/a//b`
// has an empty segment, which only a catch-all matches. A query string (from '?') in the
// path is ignored. '+' is not decoded (it means space only in query strings); an invalid
// escape such as `%zz` is kept as is.
//
// Precedence, segment by segment from the left: a literal beats a parameter, which beats a
// catch-all; a pattern that ends where another continues with a catch-all wins (`/files`
// beats `/files/*` for `/files`). Routes of equal shape are tried in declaration order.
// The method filter is applied before precedence: `GET /orders/new` goes to `GET
// /orders/:id` when `/orders/new` is declared only for POST (httprouter's per-method
// trees behave the same).
//
// Methods compare ASCII case-insensitively; method `*` or "" matches any method. HEAD is
// not folded into GET: declare it when wanted.
//
// A miss tells 404 (no route's pattern matches the path) from 405 (some pattern matches,
// but only for other methods; `allow` lists them for the Allow header).
//
// Thread-safety: immutable after Build; Match may be called from any number of threads.
// Cost: a linear scan over the routes in precedence order, no regex; Match allocates only
// for the params map of a hit (and for the allow list of a 405).
#ifndef EPOS_HTTP_ROUTES_H_
#define EPOS_HTTP_ROUTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"

namespace epos {

// One declared route, as written in the spec.
struct RouteSpec {
  std::string method;    // "GET", "post", "*" or "" (any)
  std::string pattern;   // "/orders/:id", "/static/*path"
  std::size_t port = 0;  // output port index the route sends to
};

struct RouteMatch {
  enum class Outcome : std::uint8_t {
    kMatched,           // 200: `port`, `route` and `params` are set
    kNotFound,          // 404: no pattern matches the path
    kMethodNotAllowed,  // 405: `allow` lists the methods the path accepts
  };

  Outcome outcome = Outcome::kNotFound;
  std::size_t port = 0;
  std::size_t route = 0;           // index of the matched route in declaration order
  Value params;                    // map of parameter name -> decoded string; empty map on a hit
  std::vector<std::string> allow;  // upper-case, first-declared first, for 405 only

  bool matched() const { return outcome == Outcome::kMatched; }
  // 200, 404 or 405.
  int status() const;
  // `allow` joined as an Allow header value: "GET, POST".
  std::string AllowHeader() const;
};

class RouteTable {
 public:
  // Validates and compiles the routes. Errors (kInvalidArgument) name the route:
  // `routes[2]: pattern "/a/*/b": catch-all "*" must be the last segment`. Rejected: empty
  // pattern, pattern not starting with '/', empty segment, bad or repeated parameter name,
  // catch-all not last, and a duplicate (same method and same pattern shape, parameter
  // names ignored, since the later route could never match).
  [[nodiscard]] static Result<RouteTable> Build(std::vector<RouteSpec> routes);

  RouteTable() = default;

  // Routes `method` + `path` (the request target's path, percent-encoded as received).
  RouteMatch Match(std::string_view method, std::string_view path) const;

  std::size_t size() const { return routes_.size(); }

 private:
  enum class SegmentKind : std::uint8_t { kLiteral, kParam, kCatchAll };
  struct Segment {
    SegmentKind kind;
    std::string text;  // literal text, or the parameter name
  };
  struct Route {
    std::string method;  // upper-case; "" = any
    std::vector<Segment> segments;
    std::size_t port;
    std::size_t index;  // declaration order
  };

  // `segments` are `path`'s segments (views into it). Fills `params` (when non-null).
  static bool MatchPath(const Route& route, std::span<const std::string_view> segments,
                        std::string_view path, Value* params);

  std::vector<Route> routes_;  // sorted by precedence, then declaration order
};

// Percent-decoding (RFC 3986 §2.1): %XX escapes become their byte, an invalid escape is
// kept verbatim; with `plus_is_space` (query components, HTML forms) '+' is a space.
std::string PercentDecode(std::string_view text, bool plus_is_space = false);

}  // namespace epos

#endif  // EPOS_HTTP_ROUTES_H_
