// The peers of examples/http_hello.cpp for bench/asyncio/net/compare.py: the same HTTP/1.1
// keep-alive "Hello, World!" responder with Boost.Asio C++20 coroutines, one thread.
//
//   net_http_asio [--port N] [--beast]
//
// Listens on 127.0.0.1 (port 0: the OS picks), prints "PORT <n>", and serves until SIGTERM
// or SIGINT. Each request's head is read up to its blank line (bodies are ignored), and
// answered with
//   HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!
// The connection stays open until the client sends "Connection: close" or hangs up.
//
// By default the head is found by hand (a search for CRLFCRLF, then one for the Connection
// header), which is about the least an HTTP server can do: the fast peer. --beast parses and
// writes with Boost.Beast's http::async_read and http::async_write instead, as a Beast
// server is usually written: the common peer.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
constexpr std::size_t kMaxHead = 8192;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether a request head (up to, not including, its blank line) asks to close.
bool asks_to_close(std::string_view head) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 2;
    const std::size_t end = std::min(head.find("\r\n", start), head.size());
    const std::string_view line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), "connection")) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      if (iequals(value, "close")) return true;
    }
    pos = end < head.size() ? end : std::string_view::npos;
  }
  return false;
}

asio::awaitable<void> serve_by_hand(tcp::socket socket) {
  boost::system::error_code ec;
  std::string in;
  std::string out;
  in.reserve(4096);
  char data[4096];
  for (;;) {
    const std::size_t n = co_await socket.async_read_some(
        asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    in.append(data, n);
    // Every complete head in what came (a client may pipeline), answered in one write.
    bool close = false;
    std::size_t done = 0;
    for (;;) {
      const std::size_t end = in.find("\r\n\r\n", done);
      if (end == std::string::npos) break;
      out.append(kResponse);
      close = asks_to_close(std::string_view(in).substr(done, end - done));
      done = end + 4;
      if (close) break;
    }
    in.erase(0, done);
    if (!out.empty()) {
      co_await asio::async_write(socket, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
      out.clear();
      if (ec) co_return;
    }
    if (close || in.size() > kMaxHead) co_return;
  }
}

asio::awaitable<void> serve_beast(tcp::socket socket) {
  boost::system::error_code ec;
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::empty_body> request;
    co_await http::async_read(socket, buffer, request,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    // The fields in the order of the contract's bytes; no Connection field even when the
    // request closes (keep_alive(false) would add one): the connection just ends.
    http::response<http::string_body> response(http::status::ok, request.version());
    response.content_length(13);
    response.set(http::field::content_type, "text/plain");
    response.body() = "Hello, World!";
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !request.keep_alive()) co_return;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, bool use_beast) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(),
                   use_beast ? serve_beast(std::move(socket)) : serve_by_hand(std::move(socket)),
                   asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  bool use_beast = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (arg == "--beast") {
      use_beast = true;
    } else {
      std::fprintf(stderr, "usage: net_http_asio [--port N] [--beast]\n");
      return 2;
    }
  }
  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx);
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(4096);
  std::printf("PORT %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);

  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });
  asio::co_spawn(ctx, listen(acceptor, use_beast), asio::detached);
  ctx.run();
  return 0;
}
