// A minimal HTTP/1.1 keep-alive server on Boost.Beast that answers every request with
// `200 pong` (text/plain): the limit of the HTTP stack EPOS's listener is built on, on this
// machine, for bench/http/run.sh. No routing, no payload, no runtime: read a request, write
// the same prebuilt response, read the next one.
//
// Usage: epos_beast_pong [--port P] [--host H] [--threads N]
//   --port     0 (default) binds an ephemeral port
//   --threads  I/O threads running the one io_context (default 1); with more than one, each
//              connection runs on its own strand
// Prints "listening on HOST:PORT" on stdout once bound (flushed), then serves until SIGINT or
// SIGTERM, when it stops the io_context, joins and exits 0.
//
// Build: added by the top-level CMakeLists.txt when EPOS_BUILD_BENCH=ON, or
//   g++ -O2 -std=c++20 bench/peers/beast_pong.cc -lpthread

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

// One connection: read a request, write the response, repeat while keep-alive. The session
// keeps itself alive through the shared_ptr captured by its pending operation.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {
    response_.version(11);
    response_.set(http::field::server, "beast_pong");
    response_.set(http::field::content_type, "text/plain");
    response_.body() = "pong";
    response_.prepare_payload();
  }

  void Start() { Read(); }

 private:
  void Read() {
    request_ = {};
    http::async_read(
        stream_, buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Close();
    response_.keep_alive(request_.keep_alive());
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec || !response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_{http::status::ok, 11};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io, tcp::endpoint endpoint, bool strands)
      : io_(io), acceptor_(io), strands_(strands) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Accept() {
    auto on_accept = [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket))->Start();
      }
      if (self->acceptor_.is_open()) self->Accept();
    };
    if (strands_) {
      acceptor_.async_accept(net::make_strand(io_), std::move(on_accept));
    } else {
      acceptor_.async_accept(io_, std::move(on_accept));
    }
  }

  void Close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  net::io_context& io_;
  tcp::acceptor acceptor_;
  bool strands_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int threads = 1;
  CLI::App app{"Minimal Boost.Beast keep-alive server answering pong"};
  app.add_option("--host", host, "Address to bind");
  app.add_option("--port", port, "Port to bind (0: ephemeral)");
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  try {
    // A concurrency hint of 1 lets asio drop its internal locking for the one-thread case.
    net::io_context io(threads);
    auto listener = std::make_shared<Listener>(io, tcp::endpoint(net::ip::make_address(host), port),
                                               threads > 1);
    std::cout << "listening on " << host << ":" << listener->port() << std::endl;
    listener->Accept();

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) {
      listener->Close();
      io.stop();
    });

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::cerr << "epos_beast_pong: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
