#include "epos/http/routes.h"

#include <algorithm>
#include <array>
#include <utility>

namespace epos {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Yields the decoded bytes of `text` one at a time, without allocating.
class Decoder {
 public:
  explicit Decoder(std::string_view text) : text_(text) {}
  bool Done() const { return pos_ >= text_.size(); }
  bool AtPlus() const { return text_[pos_] == '+'; }
  char Next() {
    char c = text_[pos_];
    if (c == '%' && pos_ + 2 < text_.size()) {
      int hi = HexDigit(text_[pos_ + 1]);
      int lo = HexDigit(text_[pos_ + 2]);
      if (hi >= 0 && lo >= 0) {
        pos_ += 3;
        return static_cast<char>(hi * 16 + lo);
      }
    }
    ++pos_;
    return c;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

bool DecodedEquals(std::string_view raw, std::string_view decoded) {
  Decoder d(raw);
  std::size_t i = 0;
  while (!d.Done()) {
    if (i == decoded.size() || d.Next() != decoded[i]) return false;
    ++i;
  }
  return i == decoded.size();
}

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string UpperMethod(std::string_view method) {
  std::string out(method);
  for (char& c : out) c = Upper(c);
  if (out == "*") out.clear();
  return out;
}

bool MethodEquals(std::string_view upper, std::string_view method) {
  if (upper.size() != method.size()) return false;
  for (std::size_t i = 0; i < upper.size(); ++i) {
    if (upper[i] != Upper(method[i])) return false;
  }
  return true;
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

// Drops a query string and a trailing slash (except for the root).
std::string_view NormalisePath(std::string_view path) {
  std::size_t query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

// Splits "/a/b" into {"a", "b"}; "/" (or "") into {}. Calls `sink` per segment.
template <class Sink>
void SplitSegments(std::string_view path, Sink&& sink) {
  if (path.empty() || path == "/") return;
  std::size_t pos = path.front() == '/' ? 1 : 0;
  while (true) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) {
      sink(path.substr(pos));
      return;
    }
    sink(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  Decoder d(text);
  while (!d.Done()) {
    const bool plus = plus_is_space && d.AtPlus();
    char c = d.Next();
    out.push_back(plus ? ' ' : c);
  }
  return out;
}

int RouteMatch::status() const {
  switch (outcome) {
    case Outcome::kMatched:
      return 200;
    case Outcome::kNotFound:
      return 404;
    case Outcome::kMethodNotAllowed:
      return 405;
  }
  return 404;
}

std::string RouteMatch::AllowHeader() const {
  std::string out;
  for (const std::string& m : allow) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

Result<RouteTable> RouteTable::Build(std::vector<RouteSpec> specs) {
  RouteTable table;
  table.routes_.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const RouteSpec& spec = specs[i];
    std::string where = "routes[" + std::to_string(i) + "]: pattern \"" + spec.pattern + "\": ";
    if (spec.pattern.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "routes[" + std::to_string(i) + "]: empty pattern");
    }
    if (spec.pattern.front() != '/') {
      return MakeError(ErrorCode::kInvalidArgument, where + "must start with '/'");
    }
    for (char c : spec.method) {
      if (c <= ' ' || c == 0x7f) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "routes[" + std::to_string(i) + "]: bad method \"" + spec.method + "\"");
      }
    }
    Route route{UpperMethod(spec.method), {}, spec.port, i};
    std::string_view pattern = NormalisePath(spec.pattern);
    if (spec.pattern.find('?') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, where + "must not hold a query ('?')");
    }
    std::string error;
    std::vector<std::string> names;
    SplitSegments(pattern, [&](std::string_view seg) {
      if (!error.empty()) return;
      if (!route.segments.empty() && route.segments.back().kind == SegmentKind::kCatchAll) {
        const std::string& name = route.segments.back().text;
        error = "catch-all \"" + (name == "*" ? name : "*" + name) + "\" must be the last segment";
        return;
      }
      if (seg.empty()) {
        error = "empty segment (\"//\")";
        return;
      }
      if (seg.front() == ':' || seg.front() == '*') {
        bool catch_all = seg.front() == '*';
        std::string_view name = seg.substr(1);
        if (catch_all && name.empty()) name = "*";
        if (name != "*" && !ValidName(name)) {
          error = std::string("bad parameter name \"") + std::string(seg) +
                  "\" (want [A-Za-z_][A-Za-z0-9_]*)";
          return;
        }
        if (std::find(names.begin(), names.end(), name) != names.end()) {
          error = "parameter \"" + std::string(name) + "\" appears twice";
          return;
        }
        names.emplace_back(name);
        route.segments.push_back(
            {catch_all ? SegmentKind::kCatchAll : SegmentKind::kParam, std::string(name)});
        return;
      }
      route.segments.push_back({SegmentKind::kLiteral, PercentDecode(seg)});
    });
    if (!error.empty()) return MakeError(ErrorCode::kInvalidArgument, where + error);

    for (const Route& other : table.routes_) {
      if (other.method != route.method || other.segments.size() != route.segments.size()) {
        continue;
      }
      bool same = std::equal(other.segments.begin(), other.segments.end(), route.segments.begin(),
                             [](const Segment& a, const Segment& b) {
                               return a.kind == b.kind &&
                                      (a.kind != SegmentKind::kLiteral || a.text == b.text);
                             });
      if (same) {
        std::string method = route.method.empty() ? "*" : route.method;
        return MakeError(ErrorCode::kInvalidArgument,
                         where + "duplicate of routes[" + std::to_string(other.index) + "] (\"" +
                             specs[other.index].pattern + "\") for method " + method);
      }
    }
    table.routes_.push_back(std::move(route));
  }

  // Precedence: compare segment kinds left to right (literal < param < catch-all); a
  // pattern that is a prefix of the other comes first. stable_sort keeps declaration order.
  std::stable_sort(table.routes_.begin(), table.routes_.end(), [](const Route& a, const Route& b) {
    return std::lexicographical_compare(
        a.segments.begin(), a.segments.end(), b.segments.begin(), b.segments.end(),
        [](const Segment& x, const Segment& y) { return x.kind < y.kind; });
  });
  return table;
}

bool RouteTable::MatchPath(const Route& route, std::span<const std::string_view> segments,
                           std::string_view path, Value* params) {
  const std::size_t n = route.segments.size();
  bool catch_all = n > 0 && route.segments.back().kind == SegmentKind::kCatchAll;
  if (catch_all ? segments.size() < n - 1 : segments.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == SegmentKind::kCatchAll) break;
    std::string_view raw = segments[i];
    if (seg.kind == SegmentKind::kParam) {
      if (raw.empty()) return false;
      continue;
    }
    if (raw != seg.text &&
        (raw.find('%') == std::string_view::npos || !DecodedEquals(raw, seg.text))) {
      return false;
    }
  }
  if (params == nullptr) return true;

  std::vector<MapEntry> entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == SegmentKind::kParam) {
      entries.push_back({seg.text, Value(PercentDecode(segments[i]))});
    } else if (seg.kind == SegmentKind::kCatchAll) {
      std::string_view rest;
      if (i < segments.size()) {
        rest = path.substr(static_cast<std::size_t>(segments[i].data() - path.data()));
      }
      entries.push_back({seg.text, Value(PercentDecode(rest))});
    }
  }
  *params = Value::Map(std::move(entries));
  return true;
}

RouteMatch RouteTable::Match(std::string_view method, std::string_view path) const {
  path = NormalisePath(path);

  // Segments as views into `path`; deep paths spill to the heap.
  constexpr std::size_t kInline = 32;
  std::array<std::string_view, kInline> inline_segments;
  std::vector<std::string_view> heap_segments;
  std::size_t count = 0;
  SplitSegments(path, [&](std::string_view seg) {
    if (count < kInline) {
      inline_segments[count] = seg;
    } else {
      if (heap_segments.empty()) {
        heap_segments.assign(inline_segments.begin(), inline_segments.end());
      }
      heap_segments.push_back(seg);
    }
    ++count;
  });
  std::span<const std::string_view> segments =
      count <= kInline ? std::span<const std::string_view>(inline_segments.data(), count)
                       : std::span<const std::string_view>(heap_segments);

  RouteMatch result;
  bool path_matched = false;
  for (const Route& route : routes_) {
    if (route.method.empty() || MethodEquals(route.method, method)) {
      if (MatchPath(route, segments, path, &result.params)) {
        result.outcome = RouteMatch::Outcome::kMatched;
        result.port = route.port;
        result.route = route.index;
        return result;
      }
    } else if (!path_matched && MatchPath(route, segments, path, nullptr)) {
      path_matched = true;
    }
  }
  if (!path_matched) return result;

  // 405: collect the methods of every route whose pattern matches, in declaration order.
  std::vector<std::pair<std::size_t, const std::string*>> found;
  for (const Route& route : routes_) {
    if (MatchPath(route, segments, path, nullptr)) found.emplace_back(route.index, &route.method);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [index, m] : found) {
    if (std::find(result.allow.begin(), result.allow.end(), *m) == result.allow.end()) {
      result.allow.push_back(*m);
    }
  }
  result.outcome = RouteMatch::Outcome::kMethodNotAllowed;
  return result;
}

}  // namespace epos
