// Tests of asyncio's socket layer: Socket, socketpair, sock_*, getaddrinfo and getnameinfo,
// over loopback only.
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <batteries/asyncio.hpp>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Address;
using aio::InetAddress;
using aio::Socket;
using aio::Task;
using batteries::ConnectionRefusedError;
using batteries::OSError;
using batteries::TimeoutError;

namespace {

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// Checks, at the end of a test, that it left no descriptor open.
class NoFdLeak {
 public:
  NoFdLeak() : m_before(open_fd_count()) {}
  NoFdLeak(const NoFdLeak&) = delete;
  NoFdLeak& operator=(const NoFdLeak&) = delete;
  ~NoFdLeak() { EXPECT_EQ(open_fd_count(), m_before) << "a descriptor leaked"; }

 private:
  int m_before;
};

std::uint16_t port_of(const Address& address) { return std::get<InetAddress>(address).port; }

// A listening TCP socket on host, port 0.
Socket listener(int family, const std::string& host) {
  Socket s(family, SOCK_STREAM);
  s.bind(InetAddress{host, 0});
  s.listen();
  return s;
}

bool have_ipv6_loopback() {
  try {
    Socket s(AF_INET6, SOCK_STREAM);
    s.bind(InetAddress{"::1", 0});
    return true;
  } catch (const OSError&) {
    return false;
  }
}

// ---- socketpair ----------------------------------------------------------------------------

TEST(Sockets, SocketpairRoundTrip) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    Socket& a = pair.first;
    Socket& b = pair.second;
    EXPECT_EQ(a.family(), AF_UNIX);
    EXPECT_EQ(a.type(), SOCK_STREAM);
    EXPECT_TRUE(a.getblocking());
    co_await aio::sock_sendall(loop, a, "hello");
    EXPECT_FALSE(a.getblocking());  // the sock_* functions make it non-blocking
    const std::string got = co_await aio::sock_recv(loop, b, 100);
    EXPECT_EQ(got, "hello");

    co_await aio::sock_sendall(loop, b, std::string("world!"));
    std::array<char, 4> buf{};
    const std::size_t n = co_await aio::sock_recv_into(loop, a, buf);
    EXPECT_EQ(n, 4U);
    EXPECT_EQ(std::string(buf.data(), n), "worl");
    const std::string rest = co_await aio::sock_recv(loop, a, 100);
    EXPECT_EQ(rest, "d!");
  }());
}

TEST(Sockets, SendallWaitsForSlowReader) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    std::string data(8U << 20U, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);

    auto sender = aio::create_task(aio::sock_sendall(loop, pair.first, data));
    co_await aio::sleep(0.01);
    EXPECT_FALSE(sender.done()) << "8 MiB cannot fit in a socket buffer";

    std::string received;
    int reads = 0;
    while (received.size() < data.size() && reads < 100000) {
      std::string chunk = co_await aio::sock_recv(loop, pair.second, 256 * 1024);
      if (chunk.empty()) break;
      received += chunk;
      if (++reads % 8 == 0) co_await aio::sleep(0.001);  // a slow reader
    }
    co_await sender;
    EXPECT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
    // The writer is gone: nobody watches the sender any more.
    EXPECT_FALSE(loop.remove_writer(pair.first.fileno()));
  }());
}

TEST(Sockets, RecvReturnsEmptyAtEof) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    auto reader = aio::create_task(aio::sock_recv(loop, pair.second, 10));
    co_await aio::sleep(0.01);
    EXPECT_FALSE(reader.done());
    pair.first.shutdown(SHUT_WR);
    const std::string got = co_await reader;
    EXPECT_EQ(got, "");
    std::array<char, 8> buf{};
    const std::size_t n = co_await aio::sock_recv_into(loop, pair.second, buf);
    EXPECT_EQ(n, 0U);
  }());
}

// ---- TCP -----------------------------------------------------------------------------------

Task<void> tcp_exchange(int family, std::string host) {
  auto& loop = aio::get_running_loop();
  Socket server = listener(family, host);
  const std::uint16_t port = port_of(server.getsockname());
  EXPECT_NE(port, 0);

  auto accepting = aio::create_task(aio::sock_accept(loop, server));
  Socket client(family, SOCK_STREAM);
  const Address target = InetAddress{host, port};
  co_await aio::sock_connect(loop, client, target);
  auto accepted = co_await std::move(accepting);
  Socket& conn = accepted.first;

  EXPECT_FALSE(conn.getblocking());
  EXPECT_EQ(conn.family(), family);
  EXPECT_EQ(aio::repr(accepted.second), aio::repr(client.getsockname()));
  EXPECT_TRUE(accepted.second == client.getsockname());
  EXPECT_TRUE(conn.getpeername() == client.getsockname());
  EXPECT_TRUE(client.getpeername() == server.getsockname());

  co_await aio::sock_sendall(loop, client, "ping");
  const std::string ping = co_await aio::sock_recv(loop, conn, 100);
  EXPECT_EQ(ping, "ping");
  co_await aio::sock_sendall(loop, conn, "pong");
  const std::string pong = co_await aio::sock_recv(loop, client, 100);
  EXPECT_EQ(pong, "pong");
}

TEST(Sockets, TcpIpv4AcceptAndConnect) {
  NoFdLeak check;
  aio::run(tcp_exchange(AF_INET, "127.0.0.1"));
}

TEST(Sockets, TcpIpv6AcceptAndConnect) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  NoFdLeak check;
  aio::run(tcp_exchange(AF_INET6, "::1"));
}

TEST(Sockets, ConnectToClosedPortIsRefused) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket bound(AF_INET, SOCK_STREAM);  // holds a port nobody listens on
    bound.bind(InetAddress{"127.0.0.1", 0});
    const std::uint16_t port = port_of(bound.getsockname());
    Socket client(AF_INET, SOCK_STREAM);
    bool refused = false;
    const Address target = InetAddress{"127.0.0.1", port};
    try {
      co_await aio::sock_connect(loop, client, target);
    } catch (const ConnectionRefusedError& e) {
      refused = true;
      EXPECT_EQ(e.errno_(), ECONNREFUSED);
    }
    EXPECT_TRUE(refused);
  }());
}

TEST(Sockets, ConnectResolvesHostNames) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket server = listener(AF_INET, "127.0.0.1");
    const std::uint16_t port = port_of(server.getsockname());
    auto accepting = aio::create_task(aio::sock_accept(loop, server));
    Socket client(AF_INET, SOCK_STREAM);
    // Named, not a braced temporary in the co_await operand (GCC 12: see sockets.hpp).
    const Address target = InetAddress{"localhost", port};
    co_await aio::sock_connect(loop, client, target);
    auto accepted = co_await std::move(accepting);
    EXPECT_EQ(client.getpeername(), Address(InetAddress{"127.0.0.1", port}));
    EXPECT_EQ(accepted.first.getpeername(), client.getsockname());
  }());
}

// ---- cancellation ----------------------------------------------------------------------------

TEST(Sockets, CancelledRecvLeavesTheSocketUsable) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    bool timed_out = false;
    try {
      (void)co_await aio::wait_for(aio::sock_recv(loop, pair.second, 10), 0.02);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_FALSE(loop.remove_reader(pair.second.fileno())) << "the reader was left behind";
    EXPECT_FALSE(pair.second.closed());

    co_await aio::sock_sendall(loop, pair.first, "later");
    const std::string got = co_await aio::wait_for(aio::sock_recv(loop, pair.second, 10), 10.0);
    EXPECT_EQ(got, "later");
  }());
}

TEST(Sockets, CancelledAcceptLeavesTheListenerUsable) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket server = listener(AF_INET, "127.0.0.1");
    bool timed_out = false;
    try {
      (void)co_await aio::wait_for(aio::sock_accept(loop, server), 0.02);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_FALSE(loop.remove_reader(server.fileno())) << "the reader was left behind";

    auto accepting = aio::create_task(aio::sock_accept(loop, server));
    accepting.cancel();
    bool cancelled = false;
    try {
      (void)co_await accepting;
    } catch (const aio::CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);

    Socket client(AF_INET, SOCK_STREAM);
    co_await aio::sock_connect(loop, client, server.getsockname());
    auto accepted = co_await aio::wait_for(aio::sock_accept(loop, server), 10.0);
    EXPECT_EQ(accepted.second, client.getsockname());
  }());
}

// ---- resolution ------------------------------------------------------------------------------

TEST(Sockets, GetaddrinfoLocalhost) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    // Tasks made first, then awaited: no converted temporaries in a co_await operand
    // (GCC 12: see sockets.hpp).
    auto lookup = aio::getaddrinfo(loop, "localhost", "80");
    const auto infos = co_await std::move(lookup);
    EXPECT_FALSE(infos.empty());
    for (const auto& info : infos) {
      EXPECT_TRUE(info.family == AF_INET || info.family == AF_INET6) << info.family;
      EXPECT_EQ(port_of(info.sockaddr), 80);
    }
    auto lookup2 =
        aio::getaddrinfo(loop, "127.0.0.1", 8080, {.family = AF_INET, .type = SOCK_STREAM});
    const auto streams = co_await std::move(lookup2);
    EXPECT_EQ(streams.size(), 1U);
    if (!streams.empty()) {
      EXPECT_EQ(streams[0].type, SOCK_STREAM);
      EXPECT_EQ(aio::repr(streams[0].sockaddr), "('127.0.0.1', 8080)");
    }
  }());
}

TEST(Sockets, GetaddrinfoBadHostIsGaierror) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    bool raised = false;
    try {
      auto lookup = aio::getaddrinfo(loop, "nonexistent.invalid", "80");
      (void)co_await std::move(lookup);
    } catch (const aio::gaierror& e) {
      raised = true;
      // EAI_NONAME where the resolver answers for .invalid; EAI_AGAIN with no network.
      if (e.errno_() == EAI_NONAME) {
        EXPECT_STREQ(e.what(), "[Errno -2] Name or service not known");
      }
      EXPECT_EQ(e.type_name(), "gaierror");
    }
    EXPECT_TRUE(raised);
  }());
}

TEST(Sockets, Getnameinfo) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    const Address local = InetAddress{"127.0.0.1", 80};
    const auto name = co_await aio::getnameinfo(loop, local, NI_NUMERICHOST | NI_NUMERICSERV);
    EXPECT_EQ(name.first, "127.0.0.1");
    EXPECT_EQ(name.second, "80");
    bool raised = false;
    try {
      const Address bad = InetAddress{"not a number", 80};
      (void)co_await aio::getnameinfo(loop, bad);
    } catch (const aio::gaierror&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
  }());
}

// ---- Socket errors and addresses ---------------------------------------------------------------

TEST(Sockets, BindToAPortInUse) {
  NoFdLeak check;
  Socket first = listener(AF_INET, "127.0.0.1");
  Socket second(AF_INET, SOCK_STREAM);
  EXPECT_RAISES_MSG(second.bind(first.getsockname()), OSError, "[Errno 98] Address already in use");
  try {
    second.bind(first.getsockname());
    ADD_FAILURE() << "bind did not raise";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_(), EADDRINUSE);
    EXPECT_EQ(e.type_name(), "OSError");
  }
}

TEST(Sockets, ClosedSocketRaisesEbadf) {
  NoFdLeak check;
  Socket s(AF_INET, SOCK_STREAM);
  EXPECT_FALSE(s.closed());
  EXPECT_GE(s.fileno(), 0);
  s.close();
  s.close();  // idempotent
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.fileno(), -1);
  EXPECT_RAISES_MSG(s.listen(), OSError, "[Errno 9] Bad file descriptor");
  EXPECT_RAISES_MSG(s.bind(InetAddress{"127.0.0.1", 0}), OSError, "[Errno 9] Bad file descriptor");
  EXPECT_RAISES_MSG((void)s.getsockname(), OSError, "[Errno 9] Bad file descriptor");
  EXPECT_RAISES_MSG(s.setblocking(false), OSError, "[Errno 9] Bad file descriptor");
  EXPECT_RAISES_MSG(aio::run([](Socket& sock) -> Task<void> {
                      (void)co_await aio::sock_recv(aio::get_running_loop(), sock, 10);
                    }(s)),
                    OSError, "[Errno 9] Bad file descriptor");
}

TEST(Sockets, FromFdAndDetach) {
  NoFdLeak check;
  auto pair = aio::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
  EXPECT_FALSE(pair.first.getblocking());
  const int fd = pair.first.detach();
  EXPECT_TRUE(pair.first.closed());
  Socket adopted = Socket::from_fd(fd);
  EXPECT_EQ(adopted.fileno(), fd);
  EXPECT_EQ(adopted.family(), AF_UNIX);
  EXPECT_EQ(adopted.type(), SOCK_STREAM);
  EXPECT_FALSE(adopted.getblocking());
  Socket moved = std::move(adopted);
  EXPECT_TRUE(adopted.closed());  // NOLINT(bugprone-use-after-move): moved-from is closed
  EXPECT_EQ(moved.fileno(), fd);
}

TEST(Sockets, AddressReprMatchesPython) {
  const std::vector<std::pair<Address, std::string>> cases = {
      {InetAddress{"127.0.0.1", 8080}, "('127.0.0.1', 8080)"},
      {InetAddress{"::1", 8080}, "('::1', 8080, 0, 0)"},
      {InetAddress{"fe80::1", 1, 2, 3}, "('fe80::1', 1, 2, 3)"},
      {InetAddress{"it's", 0}, "(\"it's\", 0)"},
      {std::string("/tmp/sock"), "'/tmp/sock'"},
      {std::string("\0abc", 4), "b'\\x00abc'"},
  };
  for (const auto& [address, expected] : cases) EXPECT_EQ(aio::repr(address), expected);

  const auto python = batteries::testing::run_python(
      "print(repr(('127.0.0.1', 8080)));print(repr(('::1', 8080, 0, 0)));"
      "print(repr(('fe80::1', 1, 2, 3)));print(repr((\"it's\", 0)));print(repr('/tmp/sock'));"
      "print(repr(b'\\x00abc'))");
  if (!python) GTEST_SKIP() << "no python3";
  const auto lines = batteries::testing::split(*python, '\n');
  ASSERT_GE(lines.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(aio::repr(cases[i].first), lines[i]);
  }
}

TEST(Sockets, UnixSocketAddresses) {
  NoFdLeak check;
  Socket s(AF_UNIX, SOCK_STREAM);
  const std::string abstract =
      std::string(1, '\0') + "batteries-sockets-test-" + std::to_string(::getpid());
  s.bind(abstract);
  EXPECT_EQ(s.getsockname(), Address(abstract));
  auto pair = aio::socketpair();
  EXPECT_EQ(pair.first.getsockname(), Address(std::string()));
  EXPECT_RAISES(s.bind(InetAddress{"127.0.0.1", 0}), batteries::TypeError);
}

}  // namespace
