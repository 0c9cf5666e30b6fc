// Boost.Asio's echo server for bench/asyncio/net/compare.py: C++20 coroutines, one thread.
//
//   net_echo_asio [--port N]
//
// Listens on 127.0.0.1 (port 0: the OS picks), prints "PORT <n>", and echoes until SIGTERM
// or SIGINT. One coroutine per connection (co_spawn), async_read_some into a 4 KiB buffer in
// the coroutine's frame and async_write of what came: the way Asio's own echo examples are
// written. One io_context run by one thread, created with the concurrency hint 1.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  std::array<char, 4096> data;
  for (;;) {
    const std::size_t n = co_await socket.async_read_some(
        asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(socket, asio::buffer(data, n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // EMFILE and the like: this connection is lost, the server goes on
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--port" && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: net_echo_asio [--port N]\n");
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
  asio::co_spawn(ctx, listen(acceptor), asio::detached);
  ctx.run();
  return 0;
}
