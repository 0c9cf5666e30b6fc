// An echo server with batteries::asyncio streams, as Python's documentation writes it:
//   build/release/examples/echo_server [PORT]      then:  nc 127.0.0.1 PORT
// Each connection is a coroutine that reads a line and writes it back until EOF. Ctrl+C
// stops the server (asyncio::run cancels the main task, as Python 3.11 does).
#include <fmt/format.h>
#include <batteries/asyncio.hpp>
#include <cstdlib>
#include <string>

namespace aio = batteries::asyncio;

aio::Task<void> handle_echo(aio::StreamReader reader, aio::StreamWriter writer) {
  const auto peer = std::any_cast<aio::Address>(writer.get_extra_info("peername"));
  fmt::print("{} connected\n", aio::repr(peer));
  try {
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;  // EOF
      writer.write(line);
      co_await writer.drain();
    }
  } catch (const batteries::ConnectionError& e) {  // reset by the peer, say
    fmt::print("{}: {}\n", aio::repr(peer), e.what());
  }
  fmt::print("{} closed\n", aio::repr(peer));
  writer.close();
  co_await writer.wait_closed();
}

aio::Task<void> main_(int port) {
  auto server = co_await aio::start_server(handle_echo, "127.0.0.1", port);
  const auto address = std::get<aio::InetAddress>(server.sockets().at(0).getsockname());
  fmt::print("Serving on {}\n", address.repr());
  std::fflush(stdout);
  co_await server.run(server.serve_forever());
}

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8888;
  try {
    aio::run(main_(port));
  } catch (const batteries::KeyboardInterrupt&) {
    fmt::print("stopped\n");
  }
  return 0;
}
