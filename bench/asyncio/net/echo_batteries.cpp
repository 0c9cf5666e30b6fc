// The batteries echo servers of bench/asyncio/net/compare.py: `--mode streams` (start_server,
// StreamReader.read and StreamWriter.write / drain) or `--mode protocols` (a Protocol whose
// data_received writes back). Single-threaded, on 127.0.0.1. Prints "PORT <n>", then serves
// until SIGTERM or SIGINT.
#include <sys/resource.h>

#include <batteries/asyncio.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace aio = batteries::asyncio;

namespace {

aio::Task<void> echo_client(aio::StreamReader reader, aio::StreamWriter writer) {
  try {
    for (;;) {
      std::string data = co_await reader.read(65536);
      if (data.empty()) break;
      writer.write(data);
      co_await writer.drain();
    }
  } catch (const batteries::ConnectionError&) {
    // The load generator resets its connections when it stops.
  }
  writer.close();
}

struct EchoProtocol final : aio::Protocol {
  std::shared_ptr<aio::Transport> transport;
  void connection_made(std::shared_ptr<aio::Transport> t) override { transport = std::move(t); }
  void data_received(std::string_view data) override { transport->write(data); }
};

aio::Task<void> serve(bool streams, int port) {
  auto& loop = aio::get_running_loop();
  aio::Future<void> stop(loop);
  auto stop_now = [stop]() mutable {
    if (!stop.done()) stop.set_result();
  };
  loop.add_signal_handler(SIGTERM, stop_now);
  loop.add_signal_handler(SIGINT, stop_now);
  std::optional<aio::Server> server;
  if (streams) {
    server = co_await aio::start_server(echo_client, "127.0.0.1", port, {.backlog = 4096});
  } else {
    server = co_await aio::create_server(loop, [] { return std::make_shared<EchoProtocol>(); },
                                         "127.0.0.1", port, {.backlog = 4096});
  }
  const auto address = std::get<aio::InetAddress>(server->sockets().at(0).getsockname());
  std::printf("PORT %u\n", static_cast<unsigned>(address.port));
  std::fflush(stdout);
  co_await stop;
  server->close();
}

}  // namespace

int main(int argc, char** argv) {
  bool streams = true;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--mode" && i + 1 < argc) {
      const std::string_view mode = argv[++i];
      if (mode != "streams" && mode != "protocols") {
        std::fprintf(stderr, "echo_batteries: --mode is streams or protocols\n");
        return 2;
      }
      streams = mode == "streams";
    } else if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: net_echo_batteries [--mode streams|protocols] [--port N]\n");
      return 2;
    }
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  aio::run(serve(streams, port));
  return 0;
}
