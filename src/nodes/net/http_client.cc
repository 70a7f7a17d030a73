#include "epos/nodes/http_client.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "epos/core/json.h"
#include "epos/core/text.h"
#include "epos/exec/context.h"

namespace epos {
namespace {

const std::vector<std::string> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};
constexpr std::string_view kRequestKeys[] = {"url", "method", "header", "body", "query"};

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
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

// The method upper-cased when it is one of kMethods; else the error message.
Result<std::string> MethodOf(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = AsciiUpper(c);
  if (std::find(kMethods.begin(), kMethods.end(), upper) != kMethods.end()) return upper;
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown method \"" + std::string(text) +
                       "\" (expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)" +
                       DidYouMean(upper, kMethods));
}

// RFC 9110 §5.1 field-name token; §5.5 field value without CR, LF or NUL.
Status CheckHeader(std::string_view name, std::string_view value) {
  auto tchar = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (name.empty() || !std::all_of(name.begin(), name.end(), tchar)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "header name \"" + std::string(name) + "\" is not a valid token");
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "header \"" + std::string(name) + "\": value holds CR, LF or NUL");
  }
  return {};
}

// A query or form value as text: strings as is, other scalars as JSON.
std::string ScalarText(const Value& v) {
  return v.IsString() || v.IsBytes() ? std::string(v.AsString()) : ToJson(v);
}

// key=value&... of a map, percent-encoded; arrays repeat the key, nulls are skipped.
Result<std::string> FormEncode(const Value& map, std::string_view what) {
  std::string out;
  auto add = [&](std::string_view key, const Value& v) -> Status {
    if (v.IsNull()) return {};
    if (v.IsArray() || v.IsMap()) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " \"" + std::string(key) +
                                                        "\": nested arrays and maps cannot be "
                                                        "encoded");
    }
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(key);
    out.push_back('=');
    out += PercentEncode(ScalarText(v));
    return {};
  };
  for (const MapEntry& entry : map.AsMap()) {
    if (entry.value.IsArray()) {
      for (const Value& item : entry.value.AsArray()) {
        if (Status s = add(entry.key, item); !s) return tl::unexpected(s.error());
      }
    } else if (Status s = add(entry.key, entry.value); !s) {
      return tl::unexpected(s.error());
    }
  }
  return out;
}

void SetHeader(HttpHeaders& headers, std::string_view name, std::string value) {
  for (auto& [key, v] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

const std::string* FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, v] : headers) {
    if (EqualsIgnoreCase(key, name)) return &v;
  }
  return nullptr;
}

// The response as the node's resume payload {status, header, body: string}; the body is
// decoded on the worker (OnPulse), not on the client's I/O thread.
Value ResponseValue(HttpClientResponse response) {
  std::vector<MapEntry> header;
  std::unordered_map<std::string, std::size_t> index;
  for (auto& [name, value] : response.headers) {
    std::string key = Lower(name);
    auto [it, inserted] = index.try_emplace(key, header.size());
    if (inserted) {
      header.push_back({std::move(key), Value(value)});
    } else {
      Value& joined = header[it->second].value;
      joined = Value(std::string(joined.AsString()) + ", " + value);
    }
  }
  return Value::Map({{"status", Value(static_cast<std::int64_t>(response.status))},
                     {"header", Value::Map(std::move(header))},
                     {"body", Value(response.body)}});
}

class HttpClientNode final : public Node {
 public:
  HttpClientNode(HttpClientConfig config, std::shared_ptr<HttpClient> client)
      : config_(std::move(config)), client_(std::move(client)) {}

  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    if (port == kResumePort) return ctx.Emit(0, Decoded(payload));
    if (port == kResumeErrorPort) {
      return ctx.Fail(payload.IsString() ? payload.AsString() : "http request failed");
    }
    Result<HttpClientRequest> request = RequestOf(payload);
    if (!request) return ctx.Fail(request.error().message);
    std::string what = request->method + " " + request->url.ToString();
    AsyncOp op = ctx.BeginAsync();
    request->stop = op.stop_token();  // the runtime stopping cancels the request
    client_->Send(std::move(*request), [op = std::move(op), what = std::move(what)](
                                           Result<HttpClientResponse> response) mutable {
      if (response) {
        op.Resume(ResponseValue(std::move(*response)));
      } else {
        op.ResumeError(what + ": " + response.error().message);
      }
    });
  }

  PortShape ports() const override { return {.inputs = 1, .outputs = 1, .error_port = true}; }

 private:
  static Value Decoded(const Value& response) {
    const Value* header = response.Find("header");
    const Value* type = header != nullptr ? header->Find("content-type") : nullptr;
    Value body = response["body"];
    if (type != nullptr && type->IsString() && IsJsonMediaType(type->AsString())) {
      if (body.AsString().empty()) {
        body = Value();
      } else if (Result<Value> parsed = ParseJson(body.AsString())) {
        body = std::move(*parsed);
      }
    }
    return Value::Map(
        {{"status", response["status"]}, {"header", response["header"]}, {"body", body}});
  }

  Result<HttpClientRequest> RequestOf(const Value& payload) const {
    auto bad = [](std::string message) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(message));
    };
    const bool described =
        payload.IsMap() && std::any_of(std::begin(kRequestKeys), std::end(kRequestKeys),
                                       [&](std::string_view k) { return payload.Find(k); });
    HttpClientRequest request;
    request.timeout = config_.timeout;
    request.headers = config_.header;

    const Value* url = described ? payload.Find("url") : nullptr;
    if (url != nullptr && !url->IsNull()) {
      if (!url->IsString()) return bad("input url must be a string, not " + ToJson(*url));
      Result<HttpUrl> parsed = ParseHttpUrl(url->AsString());
      if (!parsed) return tl::unexpected(parsed.error());
      request.url = std::move(*parsed);
    } else if (config_.url) {
      request.url = *config_.url;
    } else {
      return bad("no url: set the url field or give url in the input");
    }

    request.method = config_.method;
    const Value* method = described ? payload.Find("method") : nullptr;
    if (method != nullptr && !method->IsNull()) {
      if (!method->IsString()) return bad("input method must be a string, not " + ToJson(*method));
      Result<std::string> m = MethodOf(method->AsString());
      if (!m) return tl::unexpected(m.error());
      request.method = std::move(*m);
    }

    const Value* header = described ? payload.Find("header") : nullptr;
    if (header != nullptr && !header->IsNull()) {
      if (!header->IsMap()) return bad("input header must be a map, not " + ToJson(*header));
      for (const MapEntry& entry : header->AsMap()) {
        if (entry.value.IsNull()) {
          std::erase_if(request.headers,
                        [&](const auto& h) { return EqualsIgnoreCase(h.first, entry.key); });
          continue;
        }
        std::string value = ScalarText(entry.value);
        if (Status s = CheckHeader(entry.key, value); !s) return tl::unexpected(s.error());
        SetHeader(request.headers, entry.key, std::move(value));
      }
    }

    const Value* query = described ? payload.Find("query") : nullptr;
    if (query != nullptr && !query->IsNull()) {
      std::string text;
      if (query->IsString()) {
        text = std::string(query->AsString());
        if (Result<HttpUrl> check = ParseHttpUrl("http://h/?" + text); !check) {
          return bad("input query \"" + text +
                     "\": spaces and control characters must be "
                     "percent-encoded");
        }
      } else if (query->IsMap()) {
        Result<std::string> encoded = FormEncode(*query, "query");
        if (!encoded) return tl::unexpected(encoded.error());
        text = std::move(*encoded);
      } else {
        return bad("input query must be a map or a string, not " + ToJson(*query));
      }
      if (!text.empty()) {
        std::string& target = request.url.target;
        char sep = target.find('?') == std::string::npos ? '?' : '&';
        if (target.back() == '?' || target.back() == '&') sep = '\0';
        if (sep != '\0') target.push_back(sep);
        target += text;
      }
    }

    Value body;
    if (described) {
      body = payload["body"];
    } else if (request.method != "GET" && request.method != "HEAD") {
      body = payload;
    }
    if (Status s = SetBody(request, body); !s) return tl::unexpected(s.error());
    return request;
  }

  static Status SetBody(HttpClientRequest& request, const Value& body) {
    const std::string* given = FindHeader(request.headers, "content-type");
    auto type = [&](std::string_view derived) {
      if (given == nullptr) request.headers.emplace_back("Content-Type", std::string(derived));
    };
    if (body.IsNull()) return {};
    if (body.IsString()) {
      request.body = std::string(body.AsString());
      type("text/plain; charset=utf-8");
    } else if (body.IsBytes()) {
      request.body = std::string(body.AsBytes());
      type("application/octet-stream");
    } else if (body.IsMap() && given != nullptr &&
               Lower(given->substr(0, given->find(';'))) == "application/x-www-form-urlencoded") {
      Result<std::string> form = FormEncode(body, "form field");
      if (!form) return tl::unexpected(form.error());
      request.body = std::move(*form);
    } else {
      request.body = ToJson(body);
      type("application/json");
    }
    return {};
  }

  const HttpClientConfig config_;
  const std::shared_ptr<HttpClient> client_;
};

std::unique_ptr<Node> CompileHttpClient(SpecDecoder& d) {
  HttpClientConfig config;
  if (std::optional<std::string> url = d.String("url", Need::kOptional)) {
    Result<HttpUrl> parsed = ParseHttpUrl(*url);
    if (parsed) {
      config.url = std::move(*parsed);
    } else {
      d.Error("url", parsed.error().message);
    }
  }
  if (std::optional<std::string> method = d.String("method", Need::kOptional)) {
    Result<std::string> m = MethodOf(*method);
    if (m) {
      config.method = std::move(*m);
    } else {
      d.Error("method", m.error().message);
    }
  }
  if (std::optional<std::chrono::nanoseconds> timeout = d.Duration("timeout", Need::kOptional)) {
    if (timeout->count() <= 0) {
      d.Error("timeout", "must be more than 0");
    } else {
      config.timeout = *timeout;
    }
  }
  if (const Value* header = d.Map("header", Need::kOptional)) {
    for (const MapEntry& entry : header->AsMap()) {
      std::string path = "header." + entry.key;
      std::optional<std::string> value = d.StringAt(&entry.value, path);
      if (!value) continue;
      if (Status s = CheckHeader(entry.key, *value); !s) {
        d.Error(path, s.error().message);
        continue;
      }
      SetHeader(config.header, entry.key, std::move(*value));
    }
  }
  if (!d.ok()) return nullptr;
  return MakeHttpClientNode(std::move(config), HttpClient::Shared());
}

}  // namespace

std::unique_ptr<Node> MakeHttpClientNode(HttpClientConfig config,
                                         std::shared_ptr<HttpClient> client) {
  return std::make_unique<HttpClientNode>(std::move(config), std::move(client));
}

Status RegisterHttpClientKind(Scheme& scheme) {
  Status status =
      scheme.Register({.name = "http.client",
                       .summary = "sends an HTTP request per pulse (asynchronous, keep-alive "
                                  "pool); out: {status, header, body}",
                       .fields = {"url", "method", "timeout", "header"},
                       .compile = CompileHttpClient});
  if (status) status = scheme.Alias("http", "http.client");
  return status;
}

}  // namespace epos
