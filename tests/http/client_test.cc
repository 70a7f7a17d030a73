// Tests of the HTTP client core (epos/http/client.h): URL parsing, percent-encoding, and the
// client's lifetime rules. The request/response behaviour is tested through the http.client
// node in tests/nodes/http_client_test.cc.
#include "epos/http/client.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "epos/http/server.h"
#include "exec/exec_test_util.h"

namespace epos {
namespace {

using testing_util::kWaitLimit;

std::string Parsed(std::string_view text) {
  Result<HttpUrl> url = ParseHttpUrl(text);
  if (!url) return "error: " + url.error().message;
  return url->host + " " + std::to_string(url->port) + " " + url->target;
}

TEST(HttpUrlTest, SplitsHostPortAndTarget) {
  EXPECT_EQ(Parsed("http://example.com"), "example.com 80 /");
  EXPECT_EQ(Parsed("HTTP://example.com:8080/a/b?x=1#frag"), "example.com 8080 /a/b?x=1");
  EXPECT_EQ(Parsed("http://h?q"), "h 80 /?q");
  EXPECT_EQ(Parsed("http://[::1]:9000/p"), "::1 9000 /p");
  EXPECT_EQ(Parsed("http://h:/p"), "h 80 /p");
}

TEST(HttpUrlTest, RejectsWhatItCannotSend) {
  EXPECT_EQ(Parsed("https://x/"),
            "error: url \"https://x/\": https is not supported (only http://)");
  EXPECT_EQ(Parsed("ftp://x/"),
            "error: url \"ftp://x/\": scheme \"ftp\" is not supported (only http://)");
  EXPECT_EQ(Parsed("example.com/x"),
            "error: url \"example.com/x\": must be an absolute http:// URL");
  EXPECT_EQ(Parsed("http://:80/"), "error: url \"http://:80/\": no host");
  EXPECT_EQ(Parsed("http://h:99999/"), "error: url \"http://h:99999/\": bad port \"99999\"");
  EXPECT_EQ(Parsed("http://u:p@h/"),
            "error: url \"http://u:p@h/\": credentials in the url are not supported (send an "
            "Authorization header)");
  EXPECT_EQ(Parsed("http://h/a b"),
            "error: url \"http://h/a b\": spaces and control characters must be percent-encoded");
}

TEST(HttpUrlTest, FormatsAuthorityAndHostHeader) {
  HttpUrl url = *ParseHttpUrl("http://[::1]/x");
  EXPECT_EQ(url.Authority(), "[::1]:80");
  EXPECT_EQ(url.HostHeader(), "[::1]");
  EXPECT_EQ(url.ToString(), "http://[::1]/x");
  EXPECT_EQ(ParseHttpUrl("http://h:81")->ToString(), "http://h:81/");
}

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(PercentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(PercentEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(HttpClientTest, DestroyingTheClientFailsRequestsInFlight) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Responder> held;
  HttpServer upstream(HttpServerOptions{}, [&](HttpRequest, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    held.push_back(std::move(respond));
    cv.notify_all();
  });
  ASSERT_TRUE(upstream.Start().has_value());

  auto client = std::make_unique<HttpClient>();
  std::promise<Result<HttpClientResponse>> result;
  HttpClientRequest request;
  request.url = *ParseHttpUrl("http://127.0.0.1:" + std::to_string(upstream.port()) + "/");
  client->Send(std::move(request),
               [&](Result<HttpClientResponse> response) { result.set_value(std::move(response)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kWaitLimit, [&] { return !held.empty(); }));
  }
  client.reset();  // joins the I/O thread; the callback has run by now
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  Result<HttpClientResponse> response = f.get();
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().message, "http client stopped");
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);

  std::lock_guard<std::mutex> lock(mu);
  for (Responder& r : held) r(NoReplyResponse());
}

TEST(HttpClientTest, SendAfterTheLastHolderIsGoneGetsAFreshClient) {
  std::weak_ptr<HttpClient> first = HttpClient::Shared();
  EXPECT_TRUE(first.expired());  // nobody held it: destroyed at once, thread joined
  std::shared_ptr<HttpClient> a = HttpClient::Shared();
  std::shared_ptr<HttpClient> b = HttpClient::Shared();
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace epos
