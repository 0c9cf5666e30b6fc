// The tour's asyncio networking section: Python's TCP echo example from the asyncio streams
// documentation, server and client in one program.
#include <batteries/asyncio.hpp>

#include <string>

#include "tour.hpp"

namespace aio = batteries::asyncio;

namespace {

// async def handle_echo(reader, writer): ...
aio::Task<void> handle_echo(aio::StreamReader reader, aio::StreamWriter writer) {
  std::string data = co_await reader.read(100);
  const auto addr = std::any_cast<aio::Address>(writer.get_extra_info("peername"));
  fmt::print("server received {} from {}\n", batteries::py_repr(data), aio::repr(addr));
  writer.write(data);
  co_await writer.drain();
  writer.close();
  co_await writer.wait_closed();
}

// async def tcp_echo_client(message, port): ...
aio::Task<void> tcp_echo_client(std::string message, int port) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write(message);
  co_await writer.drain();
  std::string data = co_await reader.read(100);
  fmt::print("client got back {}\n", batteries::py_repr(data));
  writer.close();
  co_await writer.wait_closed();
}

aio::Task<void> main_() {
  // Port 0: the system picks a free one.
  auto server = co_await aio::start_server(handle_echo, "127.0.0.1", 0);
  const auto address = server.sockets().at(0).getsockname();
  fmt::print("serving on {}\n", aio::repr(address));
  const int port = std::get<aio::InetAddress>(address).port;
  // async with server: await tcp_echo_client('hello, networking', port)
  co_await server.run(tcp_echo_client("hello, networking", port));
  fmt::print("server closed: is_serving() = {}\n", server.is_serving());
}

}  // namespace

void tour::networking() {
  heading("asyncio networking: streams");
  aio::run(main_());
}
