// Tests of asyncio's streams (StreamReader, StreamWriter, open_connection, start_server,
// Server) and of the transports and protocols under them, over loopback and Unix sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <batteries/asyncio.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fd_leaks.hpp"
#include "fs.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Address;
using aio::InetAddress;
using aio::Server;
using aio::Socket;
using aio::StreamReader;
using aio::StreamWriter;
using aio::Task;

namespace {

using batteries::testing::NoFdLeak;

int port_of(const Server& server) {
  return std::get<InetAddress>(server.sockets().at(0).getsockname()).port;
}

// An echo handler: reads blocks and writes them back until EOF.
Task<void> echo(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string data = co_await reader.read(65536);
    if (data.empty()) break;
    writer.write(data);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

// ---- streams ------------------------------------------------------------------------------------

TEST(Streams, EchoRoundTrip) {
  NoFdLeak leaks;
  auto main = []() -> Task<std::string> {
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
    writer.write("hello, ");
    writer.write("world\n");
    co_await writer.drain();
    std::string line = co_await reader.readline();
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
    co_return line;
  };
  EXPECT_EQ(aio::run(main()), "hello, world\n");
}

TEST(Streams, ReadVariantsAndEof) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto handler = [](StreamReader r, StreamWriter w) -> Task<void> {
      w.write("line one\nline two\r\nABCDEFGHIJ");
      w.write_eof();
      co_await w.drain();
      co_await r.read();  // until the client closes: the connection is half-open till then
      w.close();
      co_await w.wait_closed();
    };
    auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    EXPECT_EQ(co_await r.readline(), "line one\n");
    EXPECT_EQ(co_await r.readuntil("\r\n"), "line two\r\n");
    EXPECT_EQ(co_await r.readexactly(3), "ABC");
    EXPECT_EQ(co_await r.read(2), "DE");
    try {
      co_await r.readexactly(10);
      ADD_FAILURE() << "no IncompleteReadError";
    } catch (const aio::IncompleteReadError& e) {
      EXPECT_EQ(e.partial, "FGHIJ");
      EXPECT_EQ(e.expected, std::optional<std::size_t>(10));
      EXPECT_STREQ(e.what(), "5 bytes read on a total of 10 expected bytes");
    }
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(), "");
    EXPECT_EQ(co_await r.readline(), "");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Streams, ReadToEof) {
  NoFdLeak leaks;
  auto main = []() -> Task<std::string> {
    auto handler = [](StreamReader, StreamWriter w) -> Task<void> {
      for (int i = 0; i < 100; ++i) {
        w.write(std::string(1000, static_cast<char>('a' + i % 26)));
        co_await w.drain();
      }
      w.close();
    };
    auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    std::string all = co_await r.read();
    w.close();
    server.close();
    co_await server.wait_closed();
    co_return all;
  };
  const std::string all = aio::run(main());
  ASSERT_EQ(all.size(), 100000U);
  EXPECT_EQ(all[0], 'a');
  EXPECT_EQ(all[99999], static_cast<char>('a' + 99 % 26));
}

TEST(Streams, ReaderWithoutTransport) {
  auto fed = []() -> Task<void> {
    StreamReader r;
    r.feed_data("abc\ndefg");
    r.feed_eof();
    EXPECT_EQ(co_await r.readline(), "abc\n");
    EXPECT_EQ(r.repr(), "<StreamReader 4 bytes eof>");
    EXPECT_EQ(co_await r.readline(), "defg");
    EXPECT_TRUE(r.at_eof());
    EXPECT_RAISES(r.feed_data("x"), batteries::AssertionError);
  };
  aio::run(fed());
  auto limits = []() -> Task<void> {
    StreamReader r(8);
    r.feed_data("0123456789abcdef\nxyz");
    try {
      co_await r.readuntil("\n");
      ADD_FAILURE() << "no LimitOverrunError";
    } catch (const aio::LimitOverrunError& e) {
      EXPECT_STREQ(e.what(), "Separator is found, but chunk is longer than limit");
      EXPECT_EQ(e.consumed, 16U);
    }
    // readline() turns it into ValueError and drops the line.
    EXPECT_RAISES_MSG(co_await r.readline(), batteries::ValueError,
                      "Separator is found, but chunk is longer than limit");
    r.feed_data("0123456789abcdef");
    try {
      co_await r.readuntil("\n");
      ADD_FAILURE() << "no LimitOverrunError";
    } catch (const aio::LimitOverrunError& e) {
      EXPECT_STREQ(e.what(), "Separator is not found, and chunk exceed the limit");
    }
    EXPECT_RAISES_MSG(co_await r.readuntil(""), batteries::ValueError,
                      "Separator should be at least one-byte string");
    StreamReader short_reader(8);
    short_reader.feed_data("abc");
    short_reader.feed_eof();
    try {
      co_await short_reader.readuntil("\n");
      ADD_FAILURE() << "no IncompleteReadError";
    } catch (const aio::IncompleteReadError& e) {
      EXPECT_FALSE(e.expected.has_value());
      EXPECT_EQ(e.partial, "abc");
      EXPECT_STREQ(e.what(), "3 bytes read on a total of undefined expected bytes");
    }
  };
  aio::run(limits());
  EXPECT_RAISES_MSG(StreamReader(0), batteries::ValueError, "Limit cannot be <= 0");
}

TEST(Streams, CancelledReadLeavesStreamUsable) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    // Nothing comes: the read times out, and the stream still works.
    EXPECT_RAISES(co_await aio::wait_for(r.readexactly(4), 0.05), batteries::TimeoutError);
    w.write("ping");
    co_await w.drain();
    EXPECT_EQ(co_await r.readexactly(4), "ping");
    // Two readers at once: Python's RuntimeError.
    auto first = aio::create_task(r.read(10));
    co_await aio::sleep(0);
    EXPECT_RAISES_MSG(co_await r.read(10), batteries::RuntimeError,
                      "read() called while another coroutine is already waiting for incoming data");
    first.cancel();
    EXPECT_RAISES(co_await first, aio::CancelledError);
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Streams, ConnectRefusedAndCancelledConnectLeakNothing) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    // A port with nothing listening.
    int port = 0;
    {
      Socket s(AF_INET, SOCK_STREAM);
      s.bind(InetAddress{"127.0.0.1", 0});
      port = std::get<InetAddress>(s.getsockname()).port;
    }
    EXPECT_RAISES_MSG(
        co_await aio::open_connection("127.0.0.1", port), batteries::ConnectionRefusedError,
        "[Errno 111] Connect call failed ('127.0.0.1', " + std::to_string(port) + ")");
    // A connect cancelled while it waits: a listener whose accept queue is full (listen(0),
    // nothing accepted) drops further SYNs, so the connect stays pending.
    Socket full(AF_INET, SOCK_STREAM);
    full.bind(InetAddress{"127.0.0.1", 0});
    full.listen(0);
    const int full_port = std::get<InetAddress>(full.getsockname()).port;
    std::vector<Socket> fillers;
    for (int i = 0; i < 4; ++i) {
      fillers.emplace_back(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      ::sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<std::uint16_t>(full_port));
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      (void)::connect(fillers.back().fileno(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    co_await aio::sleep(0.05);
    auto connecting = aio::create_task(aio::open_connection("127.0.0.1", full_port));
    co_await aio::sleep(0.1);
    EXPECT_FALSE(connecting.done());
    connecting.cancel();
    EXPECT_RAISES(co_await connecting, aio::CancelledError);
  };
  aio::run(main());
}

TEST(Streams, PeerResetAndHalfClose) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    // The server reads one line, then resets the connection (SO_LINGER 0).
    auto handler = [](StreamReader r, StreamWriter w) -> Task<void> {
      co_await r.readline();
      auto* sock = std::any_cast<Socket*>(w.get_extra_info("socket"));
      struct linger lg {
        1, 0
      };
      ::setsockopt(sock->fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      w.transport()->abort();
    };
    auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    w.write("hi\n");
    co_await w.drain();
    EXPECT_RAISES(co_await r.read(100), batteries::ConnectionResetError);
    // Writing after the reset: drain raises, nothing crashes.
    w.write("more");
    EXPECT_RAISES(co_await w.drain(), batteries::ConnectionResetError);
    w.close();
    EXPECT_RAISES(co_await w.wait_closed(), batteries::ConnectionResetError);

    // Half close: the client sends EOF, the server still answers.
    auto half = [](StreamReader hr, StreamWriter hw) -> Task<void> {
      std::string all = co_await hr.read();
      hw.write("got " + std::to_string(all.size()));
      co_await hw.drain();
      hw.close();
    };
    auto server2 = co_await aio::start_server(half, "127.0.0.1", 0);
    auto [r2, w2] = co_await aio::open_connection("127.0.0.1", port_of(server2));
    EXPECT_TRUE(w2.can_write_eof());
    w2.write(std::string(5000, 'x'));
    w2.write_eof();
    EXPECT_RAISES_MSG(w2.write("late"), batteries::RuntimeError,
                      "Cannot call write() after write_eof()");
    EXPECT_EQ(co_await r2.read(), "got 5000");
    w2.close();
    server.close();
    server2.close();
    co_await server.wait_closed();
    co_await server2.wait_closed();
  };
  aio::run(main());
}

TEST(Streams, DrainBlocksOnPeerThatNeverReads) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    aio::Event release;
    auto handler = [&release](StreamReader r, StreamWriter w) -> Task<void> {
      co_await release.wait();  // reads nothing until told
      std::size_t total = 0;
      for (;;) {
        auto data = co_await r.read(65536);
        if (data.empty()) break;
        total += data.size();
      }
      w.write(std::to_string(total));
      co_await w.drain();
      w.close();
    };
    auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    const std::string chunk(64 * 1024, 'z');
    std::size_t written = 0;
    std::size_t max_buffered = 0;
    // Write until drain() blocks for 50 ms: the kernel's buffers and the transport's are full.
    for (;;) {
      w.write(chunk);
      written += chunk.size();
      max_buffered = std::max(max_buffered, w.transport()->get_write_buffer_size());
      auto drained = aio::create_task(w.drain());
      std::vector<Task<void>> drains{drained};
      auto waiting = aio::wait(drains, 0.05);
      auto result = co_await std::move(waiting);
      if (!result.pending.empty()) {
        drained.cancel();
        try {
          co_await drained;
        } catch (const aio::CancelledError&) {
        }
        break;
      }
      if (written > 256U * 1024 * 1024) {
        ADD_FAILURE() << "drain() never blocked";
        co_return;
      }
    }
    // The transport never held much more than the high-water mark plus one chunk.
    EXPECT_LE(max_buffered, 64U * 1024 + chunk.size());
    release.set();
    co_await w.drain();
    w.write_eof();
    EXPECT_EQ(co_await r.read(), std::to_string(written));
    w.close();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Streams, PartialReadsAcrossChunks) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    // The server dribbles its answer a few bytes at a time.
    auto handler = [](StreamReader, StreamWriter w) -> Task<void> {
      const std::string text = "HEADER:12345678\r\nBODY-";
      for (std::size_t i = 0; i < text.size(); i += 3) {
        w.write(text.substr(i, 3));
        co_await w.drain();
        co_await aio::sleep(0.002);
      }
      w.write(std::string(70000, 'b'));  // a body bigger than one read
      co_await w.drain();
      w.close();
    };
    auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    EXPECT_EQ(co_await r.readuntil(":"), "HEADER:");
    EXPECT_EQ(co_await r.readexactly(8), "12345678");
    EXPECT_EQ(co_await r.readline(), "\r\n");
    EXPECT_EQ(co_await r.readexactly(5), "BODY-");
    std::string body = co_await r.readexactly(70000);
    EXPECT_EQ(body, std::string(70000, 'b'));
    EXPECT_EQ(co_await r.read(1), "");
    EXPECT_TRUE(r.at_eof());
    w.close();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Streams, CPythonClientAgainstOurServer) {
  NoFdLeak leaks;
  auto main = []() -> Task<std::optional<std::string>> {
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
    const std::string script = R"(
import asyncio
async def main():
    r, w = await asyncio.open_connection('127.0.0.1', )" +
                               std::to_string(port_of(server)) + R"()
    total = b''
    for i in range(100):
        msg = (b'%d:' % i) * (i + 1) + b'\n'
        w.write(msg)
        await w.drain()
        got = await r.readexactly(len(msg))
        assert got == msg, (got, msg)
        total += got
    w.close()
    await w.wait_closed()
    print(len(total))
asyncio.run(main())
)";
    auto& loop = aio::get_running_loop();
    auto ran = aio::run_in_executor(loop, nullptr,
                                    [script] { return batteries::testing::run_python(script); });
    auto out = co_await std::move(ran);
    server.close();
    co_await server.wait_closed();
    co_return out;
  };
  const auto out = aio::run(main());
  if (!out) GTEST_SKIP() << "no python3";
  // sum over i of (len(str(i)) + 1) * (i + 1) + 1
  std::size_t expected = 0;
  for (int i = 0; i < 100; ++i) expected += (std::to_string(i).size() + 1) * (i + 1) + 1;
  EXPECT_EQ(*out, std::to_string(expected) + "\n");
}

TEST(Streams, LoopClosedWithOpenStreamsFreesThem) {
  NoFdLeak leaks;
  std::weak_ptr<aio::Transport> transport;
  {
    auto loop = aio::new_event_loop();
    auto body = [&]() -> Task<void> {
      auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
      auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
      transport = w.transport();
      w.write("x\n");
      co_await w.drain();
      EXPECT_EQ(co_await r.readline(), "x\n");
      // The server, both ends and the echo task stay open.
    };
    aio::run_until_complete(*loop, body());
    loop->set_exception_handler([](aio::EventLoop&, const aio::ExceptionContext&) {});
    loop->close();
  }                                  // the pending echo task is dropped with the loop
  EXPECT_TRUE(transport.expired());  // and under ASan, LeakSanitizer finds no cycle left
}

TEST(Streams, TenThousandConnections) {
  NoFdLeak leaks;
  // The clients live in a child process, so that each side has 10,000 descriptors. Both
  // processes make their loops after the fork.
  constexpr int kClients = 10000;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max < kClients + 200) GTEST_SKIP() << "RLIMIT_NOFILE is below 10,200";
  const rlimit saved = lim;
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  Socket listening(AF_INET, SOCK_STREAM);
  listening.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  listening.bind(InetAddress{"127.0.0.1", 0});
  const int port = std::get<InetAddress>(listening.getsockname()).port;
  listening.listen(4096);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(120);
    auto client = [port]() -> Task<int> {
      // Every connection opens first; then all do one round trip at once.
      std::vector<std::pair<StreamReader, StreamWriter>> conns;
      conns.reserve(kClients);
      for (int i = 0; i < kClients; ++i) {
        conns.push_back(co_await aio::open_connection("127.0.0.1", port));
      }
      std::vector<Task<bool>> trips;
      for (int i = 0; i < kClients; ++i) {
        trips.push_back(aio::create_task([](StreamReader r, StreamWriter w, int n) -> Task<bool> {
          const std::string msg = std::to_string(n) + "\n";
          w.write(msg);
          co_await w.drain();
          co_return co_await r.readline() == msg;
        }(conns[i].first, conns[i].second, i)));
      }
      int ok = 0;
      for (auto& t : trips) ok += (co_await t) ? 1 : 0;
      for (auto& c : conns) c.second.close();
      co_await aio::sleep(0.1);
      co_return ok;
    };
    int ok = 0;
    try {
      ok = aio::run(client());
    } catch (...) {
      ok = -1;
    }
    std::_Exit(ok == kClients ? 0 : 1);
  }
  auto server_main = [&]() -> Task<int> {
    int handled = 0;
    int open_now = 0;
    int most_open = 0;
    auto handler = [&](StreamReader r, StreamWriter w) -> Task<void> {
      most_open = std::max(most_open, ++open_now);
      auto line = co_await r.readline();
      w.write(line);
      co_await w.drain();
      ++handled;
      co_await r.read();  // until the client closes
      w.close();
      --open_now;
    };
    aio::StartServerOptions options{.sock = std::move(listening), .backlog = 4096};
    auto starting = aio::start_server(handler, std::nullopt, std::nullopt, std::move(options));
    auto server = co_await std::move(starting);
    while (handled < kClients || open_now > 0) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the client failed";
        break;
      }
      co_await aio::sleep(0.01);
    }
    EXPECT_EQ(most_open, kClients);
    server.close();
    co_await server.wait_closed();
    co_return handled;
  };
  EXPECT_EQ(aio::run(server_main()), kClients);
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the client failed";
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

// ---- protocols ----------------------------------------------------------------------------------

struct Recorder : aio::Protocol {
  std::shared_ptr<aio::Transport> transport;
  std::string data;
  std::vector<std::string> events;
  std::optional<aio::Future<void>> lost;
  bool keep_open = false;

  void connection_made(std::shared_ptr<aio::Transport> t) override {
    transport = std::move(t);
    events.push_back("made");
  }
  void data_received(std::string_view d) override { data.append(d); }
  bool eof_received() override {
    events.push_back("eof");
    return keep_open;
  }
  void connection_lost(std::exception_ptr exc) override {
    events.push_back(exc ? "lost-error" : "lost");
    if (lost && !lost->done()) lost->set_result();
  }
  void pause_writing() override { events.push_back("pause"); }
  void resume_writing() override { events.push_back("resume"); }
};

struct EchoProtocol : aio::Protocol {
  std::shared_ptr<aio::Transport> transport;
  void connection_made(std::shared_ptr<aio::Transport> t) override { transport = std::move(t); }
  void data_received(std::string_view d) override { transport->write(d); }
};

struct BufferedEcho : aio::BufferedProtocol {
  std::shared_ptr<aio::Transport> transport;
  std::array<char, 7> buf{};  // small, so that reads come in pieces
  void connection_made(std::shared_ptr<aio::Transport> t) override { transport = std::move(t); }
  std::span<char> get_buffer(std::ptrdiff_t) override { return buf; }
  void buffer_updated(std::size_t n) override { transport->write(std::string_view(buf.data(), n)); }
};

TEST(Protocols, CreateConnectionAndServer) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto server = co_await aio::create_server(
        loop, [] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", 0);
    EXPECT_TRUE(server.is_serving());
    auto [transport, protocol] = co_await aio::create_connection(
        loop, [] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
    static_assert(std::is_same_v<decltype(protocol), std::shared_ptr<Recorder>>);
    EXPECT_EQ(protocol->events, std::vector<std::string>{"made"});
    EXPECT_EQ(protocol->transport, transport);
    const auto peer = std::any_cast<Address>(transport->get_extra_info("peername"));
    EXPECT_EQ(std::get<InetAddress>(peer).port, port_of(server));
    EXPECT_TRUE(transport->get_extra_info("sockname").has_value());
    EXPECT_FALSE(transport->get_extra_info("nonexistent").has_value());
    EXPECT_EQ(std::any_cast<int>(transport->get_extra_info("nonexistent", 7)), 7);
    EXPECT_EQ(transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>(16384, 65536)));
    transport->set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>(100, 400)));
    EXPECT_RAISES_MSG(transport->set_write_buffer_limits(10, 20), batteries::ValueError,
                      "high (10) must be >= low (20) must be >= 0");
    transport->writelines({"abc", "", "def", "ghi"});
    for (int i = 0; i < 200 && protocol->data.size() < 9; ++i) co_await aio::sleep(0.005);
    EXPECT_EQ(protocol->data, "abcdefghi");
    EXPECT_TRUE(transport->is_reading());
    transport->pause_reading();
    EXPECT_FALSE(transport->is_reading());
    transport->write("xyz");
    co_await aio::sleep(0.05);
    EXPECT_EQ(protocol->data, "abcdefghi");  // paused: nothing read
    transport->resume_reading();
    for (int i = 0; i < 200 && protocol->data.size() < 12; ++i) co_await aio::sleep(0.005);
    EXPECT_EQ(protocol->data, "abcdefghixyz");
    aio::Future<void> lost(loop);
    protocol->lost = lost;
    transport->close();
    EXPECT_TRUE(transport->is_closing());
    transport->close();  // again: nothing
    co_await lost;
    EXPECT_EQ(protocol->events, (std::vector<std::string>{"made", "lost"}));
    transport->write("ignored after close");  // Python ignores writes once lost
    server.close();
    EXPECT_FALSE(server.is_serving());
    EXPECT_TRUE(server.sockets().empty());
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Protocols, BufferedProtocolAndEofKeepOpen) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto server = co_await aio::create_server(
        loop, [] { return std::make_shared<BufferedEcho>(); }, "127.0.0.1", 0);
    auto [transport, protocol] = co_await aio::create_connection(
        loop,
        [] {
          auto p = std::make_shared<Recorder>();
          p->keep_open = true;
          return p;
        },
        "127.0.0.1", port_of(server));
    const std::string message = "a message longer than seven bytes";
    transport->write(message);
    for (int i = 0; i < 200 && protocol->data.size() < message.size(); ++i) {
      co_await aio::sleep(0.005);
    }
    EXPECT_EQ(protocol->data, message);
    // The server closes; our eof_received() keeps the transport open for writing.
    server.close();
    transport->write_eof();
    for (int i = 0; i < 200 && protocol->events.size() < 2; ++i) co_await aio::sleep(0.005);
    if (protocol->events.size() < 2) {
      ADD_FAILURE() << "no eof_received()";
      co_return;
    }
    EXPECT_EQ(protocol->events[1], "eof");
    EXPECT_FALSE(transport->is_closing());
    aio::Future<void> lost(loop);
    protocol->lost = lost;
    transport->close();
    co_await lost;
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Protocols, PauseAndResumeWriting) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    std::shared_ptr<Recorder> peer;
    auto server = co_await aio::create_server(
        loop,
        [&peer] {
          peer = std::make_shared<Recorder>();
          return peer;
        },
        "127.0.0.1", 0);
    auto [transport, protocol] = co_await aio::create_connection(
        loop, [] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
    for (int i = 0; i < 100 && !peer; ++i) co_await aio::sleep(0.005);
    if (!peer) {
      ADD_FAILURE() << "no connection";
      co_return;
    }
    peer->transport->pause_reading();
    const std::string chunk(1 << 20, 'q');
    for (int i = 0; i < 64 && protocol->events.back() != "pause"; ++i) {
      transport->write(chunk);
      co_await aio::sleep(0);
    }
    EXPECT_EQ(protocol->events.back(), "pause");
    const std::size_t buffered = transport->get_write_buffer_size();
    EXPECT_GT(buffered, 65536U);
    peer->transport->resume_reading();
    for (int i = 0; i < 1000 && protocol->events.back() != "resume"; ++i) {
      co_await aio::sleep(0.005);
    }
    EXPECT_EQ(protocol->events.back(), "resume");
    transport->close();
    server.close();
    peer->transport->close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Protocols, Errors) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto factory = [] { return std::make_shared<Recorder>(); };
    EXPECT_RAISES_MSG(co_await aio::create_connection(loop, factory, std::nullopt, std::nullopt),
                      batteries::ValueError,
                      "host and port was not specified and no sock specified");
    {
      aio::CreateConnectionOptions options;
      options.sock.emplace(AF_INET, SOCK_STREAM);
      auto creating = aio::create_connection(loop, factory, "127.0.0.1", 80, std::move(options));
      EXPECT_RAISES_MSG(co_await std::move(creating), batteries::ValueError,
                        "host/port and sock can not be specified at the same time");
    }
    {
      aio::CreateConnectionOptions options{.server_hostname = "example.com"};
      auto creating = aio::create_connection(loop, factory, "127.0.0.1", 80, std::move(options));
      EXPECT_RAISES_MSG(co_await std::move(creating), batteries::ValueError,
                        "server_hostname is only meaningful with ssl");
    }
    {
      aio::CreateConnectionOptions options{.ssl_handshake_timeout = 1.0};
      auto creating = aio::create_connection(loop, factory, "127.0.0.1", 80, std::move(options));
      EXPECT_RAISES_MSG(co_await std::move(creating), batteries::ValueError,
                        "ssl_handshake_timeout is only meaningful with ssl");
    }
    EXPECT_RAISES_MSG(co_await aio::create_server(loop, factory), batteries::ValueError,
                      "Neither host/port nor sock were specified");
    // Binding a port in use: Python's message.
    auto server = co_await aio::create_server(loop, factory, "127.0.0.1", 0);
    const int port = port_of(server);
    {
      aio::CreateServerOptions options{.reuse_address = false};
      auto creating = aio::create_server(loop, factory, "127.0.0.1", port, std::move(options));
      EXPECT_RAISES_MSG(co_await std::move(creating), batteries::OSError,
                        "[Errno 98] error while attempting to bind on address ('127.0.0.1', " +
                            std::to_string(port) + "): address already in use");
    }
    server.close();
    co_await server.wait_closed();
    EXPECT_RAISES(co_await aio::open_connection("nonexistent.invalid", 80), aio::gaierror);
  };
  aio::run(main());
}

TEST(Protocols, WritelinesManyPiecesKeepsOrder) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    std::shared_ptr<Recorder> peer;
    auto server = co_await aio::create_server(
        loop,
        [&peer] {
          peer = std::make_shared<Recorder>();
          return peer;
        },
        "127.0.0.1", 0);
    auto [transport, protocol] = co_await aio::create_connection(
        loop, [] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
    // 300 pieces (more than one sendmsg takes), some empty, 3.3 MB in all: more than the
    // socket takes at once, so the rest is buffered mid-piece.
    std::vector<std::string> storage;
    std::string expected;
    for (int i = 0; i < 300; ++i) {
      storage.push_back(i % 7 == 0 ? std::string()
                                   : std::string(11000 + i, static_cast<char>('A' + i % 26)));
      expected += storage.back();
    }
    std::vector<std::string_view> pieces(storage.begin(), storage.end());
    transport->writelines(pieces);
    storage.clear();  // the transport copied what it did not send
    for (int i = 0; i < 2000 && (!peer || peer->data.size() < expected.size()); ++i) {
      co_await aio::sleep(0.005);
    }
    EXPECT_TRUE(peer && peer->data == expected);
    transport->close();
    peer->transport->close();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Protocols, ReusePortAndConnectAcceptedSocket) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto factory = [] { return std::make_shared<EchoProtocol>(); };
    // reuse_port: a second server binds the same port.
    aio::CreateServerOptions first_options{.reuse_port = true};
    auto creating = aio::create_server(loop, factory, "127.0.0.1", 0, std::move(first_options));
    auto first = co_await std::move(creating);
    const int port = port_of(first);
    aio::CreateServerOptions second_options{.reuse_port = true};
    auto creating2 =
        aio::create_server(loop, factory, "127.0.0.1", port, std::move(second_options));
    auto second = co_await std::move(creating2);
    EXPECT_EQ(port_of(second), port);
    EXPECT_EQ(first.sockets().at(0).getsockopt(SOL_SOCKET, SO_REUSEPORT), 1);
    first.close();
    second.close();
    co_await first.wait_closed();
    co_await second.wait_closed();

    // connect_accepted_socket: a socket accepted by hand becomes an echo connection.
    Socket listening(AF_INET, SOCK_STREAM);
    listening.bind(InetAddress{"127.0.0.1", 0});
    listening.listen();
    const int lport = std::get<InetAddress>(listening.getsockname()).port;
    auto client = aio::create_task(aio::open_connection("127.0.0.1", lport));
    auto [conn, peer] = co_await aio::sock_accept(loop, listening);
    auto wrapping = aio::connect_accepted_socket(loop, factory, std::move(conn));
    auto [transport, protocol] = co_await std::move(wrapping);
    EXPECT_EQ(std::any_cast<Address>(transport->get_extra_info("peername")), peer);
    auto [r, w] = co_await client;
    w.write("accepted\n");
    EXPECT_EQ(co_await r.readline(), "accepted\n");
    w.close();
    co_await w.wait_closed();
    transport->close();
    // A datagram socket is refused, as Python refuses it.
    Socket udp(AF_INET, SOCK_DGRAM);
    auto refusing = aio::connect_accepted_socket(loop, factory, std::move(udp));
    EXPECT_RAISES(co_await std::move(refusing), batteries::ValueError);
    co_await aio::sleep(0.01);
  };
  aio::run(main());
}

TEST(Protocols, LoopClosedWithOpenTransportsReleasesThem) {
  NoFdLeak leaks;
  std::weak_ptr<aio::Transport> client_transport;
  {
    auto loop = aio::new_event_loop();
    auto open_everything = [&]() -> Task<void> {
      auto& lp = aio::get_running_loop();
      auto server = co_await aio::create_server(
          lp, [] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", 0);
      auto [transport, protocol] = co_await aio::create_connection(
          lp, [] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
      client_transport = transport;
      transport->write("unanswered");
      co_await aio::sleep(0.01);
      // Nothing is closed: the loop's close() must let it all go.
    };
    aio::run_until_complete(*loop, open_everything());
    EXPECT_FALSE(client_transport.expired());
    loop->close();
    EXPECT_TRUE(client_transport.expired());  // the transport<->protocol cycle was broken
  }
}

// ---- servers ------------------------------------------------------------------------------------

TEST(Servers, ServeForeverAndRun) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0, {.start_serving = false});
    EXPECT_FALSE(server.is_serving());
    const int port = port_of(server);
    auto forever = aio::create_task(server.serve_forever());
    co_await aio::sleep(0);
    EXPECT_TRUE(server.is_serving());
    EXPECT_RAISES(co_await server.serve_forever(), batteries::RuntimeError);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
    w.write("x\n");
    EXPECT_EQ(co_await r.readline(), "x\n");
    w.close();
    forever.cancel();
    EXPECT_RAISES(co_await forever, aio::CancelledError);
    EXPECT_FALSE(server.is_serving());
    EXPECT_RAISES(co_await aio::open_connection("127.0.0.1", port),
                  batteries::ConnectionRefusedError);
    EXPECT_RAISES_MSG(co_await server.serve_forever(), batteries::RuntimeError,
                      "server " + server.repr() + " is closed");

    // `async with server:` closes it and waits, even when the body raises.
    auto server2 = co_await aio::start_server(echo, "127.0.0.1", 0);
    EXPECT_RAISES_MSG(co_await server2.run([]() -> Task<void> {
      throw batteries::ValueError("body");
      co_return;
    }()),
                      batteries::ValueError, "body");
    EXPECT_FALSE(server2.is_serving());
  };
  aio::run(main());
}

TEST(Servers, WaitClosedWaitsForConnections) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port_of(server));
    w.write("a\n");
    EXPECT_EQ(co_await r.readline(), "a\n");
    server.close();
    auto waiting = aio::create_task(server.wait_closed());
    co_await aio::sleep(0.02);
    EXPECT_FALSE(waiting.done());  // the connection is still open
    w.write("b\n");                // and still served
    EXPECT_EQ(co_await r.readline(), "b\n");
    w.close();
    co_await aio::wait_for(waiting, 5.0);
  };
  aio::run(main());
}

TEST(Servers, Ipv6AndAllInterfaces) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    auto server = co_await aio::start_server(echo, "::1", 0);
    const int port = port_of(server);
    auto [r, w] = co_await aio::open_connection("::1", port);
    w.write("six\n");
    EXPECT_EQ(co_await r.readline(), "six\n");
    w.close();
    server.close();
    co_await server.wait_closed();
    // No host: every interface, one socket per family.
    auto any = co_await aio::start_server(echo, std::nullopt, 0);
    EXPECT_GE(any.sockets().size(), 1U);
    any.close();
    co_await any.wait_closed();
  };
  aio::run(main());
}

TEST(Servers, HappyEyeballs) {
  NoFdLeak leaks;
  auto main = []() -> Task<void> {
    // A server on 127.0.0.1 only; "localhost" may resolve to ::1 first, which is refused.
    auto server = co_await aio::start_server(echo, "127.0.0.1", 0);
    const int port = port_of(server);
    aio::OpenConnectionOptions options{.happy_eyeballs_delay = 0.25};
    auto opening = aio::open_connection("localhost", port, std::move(options));
    auto [r, w] = co_await std::move(opening);
    w.write("he\n");
    EXPECT_EQ(co_await r.readline(), "he\n");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  aio::run(main());
}

TEST(Servers, UnixSockets) {
  NoFdLeak leaks;
  const std::string dir = batteries::testing::make_temp_dir("streams");
  const std::string path = dir + "/s.sock";
  auto main = [&]() -> Task<void> {
    auto server = co_await aio::start_unix_server(echo, path);
    auto [r, w] = co_await aio::open_unix_connection(path);
    w.write("unix\n");
    EXPECT_EQ(co_await r.readline(), "unix\n");
    const auto peer = std::any_cast<Address>(w.get_extra_info("peername"));
    EXPECT_EQ(std::get<std::string>(peer), path);
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
    // A stale socket file is replaced.
    auto again = co_await aio::start_unix_server(echo, path);
    again.close();
    co_await again.wait_closed();
    EXPECT_RAISES(co_await aio::open_unix_connection(path + ".none"), batteries::FileNotFoundError);
  };
  aio::run(main());
  batteries::testing::remove_tree(dir);
}

}  // namespace
