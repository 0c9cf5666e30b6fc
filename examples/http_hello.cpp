// A minimal HTTP/1.1 keep-alive responder on batteries::asyncio streams: every GET gets
// "Hello, World!". bench/asyncio/net/compare.py drives it with wrk beside the same responder
// written with Boost.Asio.
//   build/release/examples/http_hello [--port N]   prints "PORT <n>", serves until SIGTERM/SIGINT
#include <batteries/asyncio.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace aio = batteries::asyncio;

namespace {

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

/// Whether the request head asks to close the connection (case-insensitive header name).
bool wants_close(std::string_view head) {
  std::string lower(head);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("\r\nconnection: close") != std::string::npos;
}

aio::Task<void> handle(aio::StreamReader reader, aio::StreamWriter writer) {
  try {
    for (;;) {
      // One request head per iteration; pipelined requests wait in the reader's buffer.
      std::string head = co_await reader.readuntil("\r\n\r\n");
      writer.write(kResponse);
      co_await writer.drain();
      if (wants_close(head)) break;
    }
  } catch (const aio::IncompleteReadError&) {
    // EOF between requests: the client is done.
  } catch (const aio::LimitOverrunError&) {
    writer.write("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
  } catch (const batteries::ConnectionError&) {
    // Reset by the peer.
  }
  writer.close();
}

aio::Task<void> serve(int port) {
  auto& loop = aio::get_running_loop();
  aio::Future<void> stop(loop);
  auto stop_now = [stop]() mutable {
    if (!stop.done()) stop.set_result();
  };
  loop.add_signal_handler(SIGTERM, stop_now);
  loop.add_signal_handler(SIGINT, stop_now);
  auto server = co_await aio::start_server(handle, "127.0.0.1", port, {.backlog = 4096});
  const auto address = std::get<aio::InetAddress>(server.sockets().at(0).getsockname());
  std::printf("PORT %u\n", static_cast<unsigned>(address.port));
  std::fflush(stdout);
  co_await stop;
  server.close();
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: http_hello [--port N]\n");
      return 2;
    }
  }
  aio::run(serve(port));
  return 0;
}
