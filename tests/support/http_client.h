// A blocking HTTP/1.1 client for tests, on Boost.Beast: one keep-alive connection to a
// loopback port. Reads time out after 10 s, so a server that never answers fails the test
// instead of hanging it.
#ifndef EPOS_TESTS_SUPPORT_HTTP_CLIENT_H_
#define EPOS_TESTS_SUPPORT_HTTP_CLIENT_H_

#include <sys/socket.h>
#include <sys/time.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace epos::testing {

using HttpTestResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpTestClient {
 public:
  explicit HttpTestClient(std::uint16_t port, std::string_view host = "127.0.0.1") : socket_(ioc_) {
    socket_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(host), port));
    timeval tv{10, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void Send(const boost::beast::http::request<boost::beast::http::string_body>& req) {
    auto copy = req;
    copy.prepare_payload();
    boost::beast::http::write(socket_, copy);
  }
  void SendRaw(std::string_view bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()));
  }

  // The next response; on a read error, a 599 response whose body is the error.
  HttpTestResponse Read() {
    HttpTestResponse res;
    boost::beast::error_code ec;
    boost::beast::http::read(socket_, buffer_, res, ec);
    if (ec) {
      res = {};
      res.result(599);
      res.body() = ec.message();
    }
    return res;
  }
  HttpTestResponse Call(boost::beast::http::verb method, std::string target, std::string body = "",
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    boost::beast::http::request<boost::beast::http::string_body> req(method, target, 11);
    req.set(boost::beast::http::field::host, "localhost");
    for (auto& [k, v] : headers) req.insert(k, v);
    req.body() = std::move(body);
    Send(req);
    return Read();
  }
  HttpTestResponse Get(std::string target) {
    return Call(boost::beast::http::verb::get, std::move(target));
  }
  HttpTestResponse PostJson(std::string target, std::string json) {
    return Call(boost::beast::http::verb::post, std::move(target), std::move(json),
                {{"Content-Type", "application/json"}});
  }

  // Everything until the server closes (or 10 s pass).
  std::string ReadAll() {
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    char chunk[4096];
    for (;;) {
      boost::beast::error_code ec;
      std::size_t n = socket_.read_some(boost::asio::buffer(chunk), ec);
      out.append(chunk, n);
      if (ec) break;
    }
    return out;
  }

  // True when the server has closed the connection (a read returns end of file).
  bool ClosedByServer() {
    char c;
    boost::beast::error_code ec;
    socket_.read_some(boost::asio::buffer(&c, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace epos::testing

#endif  // EPOS_TESTS_SUPPORT_HTTP_CLIENT_H_
