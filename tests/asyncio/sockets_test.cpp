// Tests of asyncio's socket layer: Socket, socketpair, sock_*, getaddrinfo and getnameinfo,
// over loopback only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <batteries/asyncio.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "fd_leaks.hpp"
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

using batteries::testing::NoFdLeak;

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

// ---- sock_sendfile -----------------------------------------------------------------------------

// A temporary file of size bytes, each position's byte known: byte_at(i).
char byte_at(std::size_t i) { return static_cast<char>((i * 13 + i / 1000) & 0xff); }

class TempFile {
 public:
  explicit TempFile(std::size_t size) : m_dir(batteries::testing::make_temp_dir("sendfile")) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) data[i] = byte_at(i);
    batteries::testing::write_file(path(), data);
    m_fd = ::open(path().c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(m_fd, 0);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    ::close(m_fd);
    batteries::testing::remove_tree(m_dir);
  }
  [[nodiscard]] std::string path() const { return m_dir + "/data.bin"; }
  [[nodiscard]] int fd() const { return m_fd; }
  [[nodiscard]] off_t position() const { return ::lseek(m_fd, 0, SEEK_CUR); }

 private:
  std::string m_dir;
  int m_fd = -1;
};

bool is_file_slice(const std::string& got, std::size_t offset) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != byte_at(offset + i)) return false;
  }
  return true;
}

// Reads until EOF or limit bytes, slowly: a pause every few reads.
Task<std::string> slow_read(Socket& sock, std::size_t limit) {
  auto& loop = aio::get_running_loop();
  std::string received;
  int reads = 0;
  while (received.size() < limit && reads < 200000) {
    std::string chunk = co_await aio::sock_recv(loop, sock, std::size_t{64} * 1024);
    if (chunk.empty()) break;
    received += chunk;
    if (++reads % 16 == 0) co_await aio::sleep(0.001);
  }
  co_return received;
}

TEST(SockSendfile, WholeFileToASlowReader) {
  NoFdLeak check;
  const std::size_t size = 5U << 20U;
  TempFile file(size);
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    auto reader = aio::create_task(slow_read(pair.second, size));
    const std::size_t sent = co_await aio::sock_sendfile(loop, pair.first, file.fd());
    EXPECT_EQ(sent, size);
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(is_file_slice(got, 0));
    EXPECT_EQ(file.position(), static_cast<off_t>(size)) << "the file position follows";
    EXPECT_FALSE(loop.remove_writer(pair.first.fileno())) << "the writer was left behind";
  }());
}

TEST(SockSendfile, OffsetAndCountOverTcp) {
  NoFdLeak check;
  const std::size_t size = 5U << 20U;
  TempFile file(size);
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket server = listener(AF_INET, "127.0.0.1");
    auto accepting = aio::create_task(aio::sock_accept(loop, server));
    Socket client(AF_INET, SOCK_STREAM);
    co_await aio::sock_connect(loop, client, server.getsockname());
    auto accepted = co_await std::move(accepting);

    const std::size_t offset = 1000;
    const std::size_t count = 3U << 20U;
    auto reader = aio::create_task(slow_read(accepted.first, count));
    const std::size_t sent =
        co_await aio::sock_sendfile(loop, client, file.fd(), offset, std::int64_t{count});
    EXPECT_EQ(sent, count);
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), count);
    EXPECT_TRUE(is_file_slice(got, offset));
    EXPECT_EQ(file.position(), static_cast<off_t>(offset + count));

    // A count past the end sends up to the end.
    auto reader2 = aio::create_task(slow_read(accepted.first, 5000));
    const std::size_t tail =
        co_await aio::sock_sendfile(loop, client, file.fd(), size - 5000, std::int64_t{1} << 40);
    EXPECT_EQ(tail, 5000U);
    const std::string got2 = co_await reader2;
    EXPECT_TRUE(is_file_slice(got2, size - 5000));
    EXPECT_EQ(file.position(), static_cast<off_t>(size));

    // Nothing left to send from the end: 0, and the position stays.
    EXPECT_EQ(co_await aio::sock_sendfile(loop, client, file.fd(), size), 0U);
  }());
}

TEST(SockSendfile, EmptyFileSendsNothing) {
  NoFdLeak check;
  TempFile file(0);
  aio::run([&]() -> Task<void> {
    auto pair = aio::socketpair();
    EXPECT_EQ(co_await aio::sock_sendfile(aio::get_running_loop(), pair.first, file.fd()), 0U);
    EXPECT_EQ(file.position(), 0);
  }());
}

TEST(SockSendfile, FallsBackOnAPipe) {
  NoFdLeak check;
  const std::size_t size = 1U << 20U;
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    // A writer thread fills the pipe and closes it: the fallback reads until EOF.
    std::thread writer([fd = fds[1], size] {
      std::string data(size, '\0');
      for (std::size_t i = 0; i < size; ++i) data[i] = byte_at(i);
      std::size_t done = 0;
      while (done < size) {
        const ssize_t n = ::write(fd, data.data() + done, size - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
    auto pair = aio::socketpair();
    auto reader = aio::create_task(slow_read(pair.second, size));
    std::size_t sent = 0;
    try {
      sent = co_await aio::sock_sendfile(loop, pair.first, fds[0]);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "sock_sendfile raised " << e.what();
    }
    writer.join();
    ::close(fds[0]);
    EXPECT_EQ(sent, size);
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(is_file_slice(got, 0));
  }());
}

TEST(SockSendfile, FallbackWithCountOnACharacterDevice) {
  NoFdLeak check;
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    const int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(zero, 0);
    auto pair = aio::socketpair();
    const std::size_t count = 300000;  // more than one 256 KiB block
    auto reader = aio::create_task(slow_read(pair.second, count));
    const std::size_t sent =
        co_await aio::sock_sendfile(loop, pair.first, zero, 0, std::int64_t{count});
    ::close(zero);
    EXPECT_EQ(sent, count);
    const std::string got = co_await reader;
    EXPECT_EQ(got, std::string(count, '\0'));
  }());
}

TEST(SockSendfile, NoFallbackRaisesSendfileNotAvailableError) {
  NoFdLeak check;
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto pair = aio::socketpair();
    bool raised = false;
    try {
      (void)co_await aio::sock_sendfile(loop, pair.first, fds[0], 0, std::nullopt, false);
    } catch (const aio::SendfileNotAvailableError& e) {
      raised = true;
      EXPECT_STREQ(e.what(), "not a regular file");
      EXPECT_EQ(e.type_name(), "SendfileNotAvailableError");
      EXPECT_NE(dynamic_cast<const batteries::RuntimeError*>(&e), nullptr);
    }
    EXPECT_TRUE(raised);
    ::close(fds[0]);
    ::close(fds[1]);
  }());
}

TEST(SockSendfile, PeerHangsUpMidway) {
  NoFdLeak check;
  const std::size_t size = 5U << 20U;
  TempFile file(size);
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    auto sending = aio::create_task(aio::sock_sendfile(loop, pair.first, file.fd(), 10));
    // Read some, then hang up: the next sendfile(2) gets EPIPE, never a SIGPIPE.
    (void)co_await slow_read(pair.second, 100000);
    pair.second.close();
    bool raised = false;
    try {
      (void)co_await sending;
    } catch (const batteries::ConnectionError& e) {
      raised = true;
      EXPECT_TRUE(e.errno_() == EPIPE || e.errno_() == ECONNRESET) << e.what();
    }
    EXPECT_TRUE(raised);
    EXPECT_GT(file.position(), 10) << "the position follows what was sent";
    EXPECT_LT(file.position(), static_cast<off_t>(size));
  }());
}

TEST(SockSendfile, CancelledLeavesThePositionAfterWhatWasSent) {
  NoFdLeak check;
  const std::size_t size = 5U << 20U;
  TempFile file(size);
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair();
    bool timed_out = false;
    try {
      (void)co_await aio::wait_for(aio::sock_sendfile(loop, pair.first, file.fd()), 0.05);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out) << "nobody reads: 5 MiB cannot fit in a socket buffer";
    EXPECT_FALSE(loop.remove_writer(pair.first.fileno())) << "the writer was left behind";
    const off_t position = file.position();
    EXPECT_GT(position, 0);
    // Exactly what the socket took is there to read.
    pair.first.shutdown(SHUT_WR);
    const std::string got = co_await slow_read(pair.second, size);
    EXPECT_EQ(got.size(), static_cast<std::size_t>(position));
    EXPECT_TRUE(is_file_slice(got, 0));
  }());
}

TEST(SockSendfile, ArgumentErrorsMatchPython) {
  NoFdLeak check;
  TempFile file(10);
  std::vector<std::string> ours;
  aio::run([&]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket udp(AF_INET, SOCK_DGRAM);
    auto pair = aio::socketpair();
    auto message = [&](Task<std::size_t> task) -> Task<void> {
      try {
        (void)co_await std::move(task);
        ours.emplace_back("no error");
      } catch (const batteries::ValueError& e) {
        ours.push_back(std::string("ValueError: ") + e.what());
      }
    };
    co_await message(aio::sock_sendfile(loop, udp, file.fd()));
    co_await message(aio::sock_sendfile(loop, pair.first, file.fd(), 0, std::int64_t{0}));
    co_await message(aio::sock_sendfile(loop, pair.first, file.fd(), 0, std::int64_t{-5}));
    co_await message(aio::sock_sendfile(loop, pair.first, file.fd(), -1));
  }());
  ASSERT_EQ(ours.size(), 4U);
  EXPECT_EQ(ours[0], "ValueError: only SOCK_STREAM type sockets are supported");
  EXPECT_EQ(ours[1], "ValueError: count must be a positive integer (got 0)");
  EXPECT_EQ(ours[2], "ValueError: count must be a positive integer (got -5)");
  EXPECT_EQ(ours[3], "ValueError: offset must be a non-negative integer (got -1)");

  const auto python = batteries::testing::run_python(
      "import asyncio, socket\n"
      "async def main():\n"
      "    loop = asyncio.get_running_loop()\n"
      "    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "    a, b = socket.socketpair()\n"
      "    a.setblocking(False)\n"
      "    with open('" +
      file.path() +
      "', 'rb') as f:\n"
      "        for s, o, c in ((udp, 0, None), (a, 0, 0), (a, 0, -5), (a, -1, None)):\n"
      "            try:\n"
      "                await loop.sock_sendfile(s, f, o, c)\n"
      "                print('no error')\n"
      "            except ValueError as e:\n"
      "                print('ValueError:', e)\n"
      "    for s in (udp, a, b): s.close()\n"
      "asyncio.run(main())\n");
  if (!python) GTEST_SKIP() << "no python3";
  const auto lines = batteries::testing::split(*python, '\n');
  ASSERT_GE(lines.size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], lines[i]);
}

// ---- sock_recvfrom, sock_recvfrom_into, sock_sendto ------------------------------------------

Socket udp_socket(int family, const std::string& host) {
  Socket s(family, SOCK_DGRAM);
  s.bind(InetAddress{host, 0});
  return s;
}

Task<void> udp_exchange(int family, std::string host) {
  auto& loop = aio::get_running_loop();
  Socket a = udp_socket(family, host);
  Socket b = udp_socket(family, host);
  const Address a_addr = a.getsockname();
  const Address b_addr = b.getsockname();

  // The receiver waits first; the datagram wakes it.
  auto receiving = aio::create_task(aio::sock_recvfrom(loop, a, 100));
  co_await aio::sleep(0.01);
  EXPECT_FALSE(receiving.done());
  const std::size_t sent = co_await aio::sock_sendto(loop, b, "hello", a_addr);
  EXPECT_EQ(sent, 5U);
  auto [data, from] = co_await receiving;
  EXPECT_EQ(data, "hello");
  EXPECT_EQ(from, b_addr);

  // Into a buffer: nbytes limits the read, and the rest of the datagram is gone.
  EXPECT_EQ(co_await aio::sock_sendto(loop, a, std::string("datagram"), b_addr), 8U);
  std::array<char, 16> buf{};
  auto [n, from2] = co_await aio::sock_recvfrom_into(loop, b, buf, 4);
  EXPECT_EQ(n, 4U);
  EXPECT_EQ(std::string(buf.data(), n), "data");
  EXPECT_EQ(from2, a_addr);

  // nbytes 0: the whole buffer; an empty datagram is one too.
  EXPECT_EQ(co_await aio::sock_sendto(loop, a, "", b_addr), 0U);
  EXPECT_EQ(co_await aio::sock_sendto(loop, a, "0123456789", b_addr), 10U);
  auto [n_empty, from3] = co_await aio::sock_recvfrom_into(loop, b, buf);
  EXPECT_EQ(n_empty, 0U);
  EXPECT_EQ(from3, a_addr);
  auto [n_full, from4] = co_await aio::sock_recvfrom_into(loop, b, buf);
  EXPECT_EQ(n_full, 10U);
  EXPECT_EQ(std::string(buf.data(), n_full), "0123456789");
}

TEST(SockDatagram, Ipv4RecvfromAndSendto) {
  NoFdLeak check;
  aio::run(udp_exchange(AF_INET, "127.0.0.1"));
}

TEST(SockDatagram, Ipv6RecvfromAndSendto) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  NoFdLeak check;
  aio::run(udp_exchange(AF_INET6, "::1"));
}

TEST(SockDatagram, SendtoResolvesHostNames) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket a = udp_socket(AF_INET, "127.0.0.1");
    Socket b(AF_INET, SOCK_DGRAM);
    const Address target = InetAddress{"localhost", port_of(a.getsockname())};
    EXPECT_EQ(co_await aio::sock_sendto(loop, b, "by name", target), 7U);
    auto [data, from] = co_await aio::wait_for(aio::sock_recvfrom(loop, a, 100), 10.0);
    EXPECT_EQ(data, "by name");
    EXPECT_EQ(from, Address(InetAddress{"127.0.0.1", port_of(b.getsockname())}));
  }());
}

TEST(SockDatagram, UnixDatagramsAndUnnamedSenders) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair(AF_UNIX, SOCK_DGRAM);
    co_await aio::sock_sendall(loop, pair.first, "one");  // a socketpair's sockets have no names
    auto [data, from] = co_await aio::sock_recvfrom(loop, pair.second, 100);
    EXPECT_EQ(data, "one");
    EXPECT_EQ(from, Address(std::string())) << "Python's None";

    Socket named(AF_UNIX, SOCK_DGRAM);
    const std::string name =
        std::string(1, '\0') + "batteries-recvfrom-" + std::to_string(::getpid());
    named.bind(name);
    Socket sender(AF_UNIX, SOCK_DGRAM);
    const std::string sender_name = name + "-sender";
    sender.bind(sender_name);
    const Address to = name;
    co_await aio::sock_sendto(loop, sender, "two", to);
    auto [data2, from2] = co_await aio::sock_recvfrom(loop, named, 100);
    EXPECT_EQ(data2, "two");
    EXPECT_EQ(from2, Address(sender_name));
  }());
}

TEST(SockDatagram, ArgumentErrors) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket inet(AF_INET, SOCK_DGRAM);
    Socket unix_socket(AF_UNIX, SOCK_DGRAM);
    std::array<char, 4> buf{};
    std::vector<std::string> messages;
    auto run = [&](auto task) -> Task<void> {
      try {
        (void)co_await std::move(task);
        messages.emplace_back("no error");
      } catch (const batteries::Exception& e) {
        messages.push_back(std::string(e.type_name()) + ": " + e.what());
      }
    };
    const Address path = std::string("/nonexistent/socket");
    const Address tuple = InetAddress{"127.0.0.1", 9};
    co_await run(aio::sock_recvfrom_into(loop, inet, buf, 10));
    co_await run(aio::sock_sendto(loop, inet, "x", path));
    co_await run(aio::sock_sendto(loop, unix_socket, "x", tuple));
    co_await run(aio::sock_sendto(loop, unix_socket, "x", path));
    EXPECT_EQ(messages, (std::vector<std::string>{
                            "ValueError: nbytes is greater than the length of the buffer",
                            "TypeError: sendto(): AF_INET address must be tuple, not str",
                            "TypeError: a bytes-like object is required, not 'tuple'",
                            "FileNotFoundError: [Errno 2] No such file or directory",
                        }));
  }());
}

TEST(SockDatagram, CancelledRecvfromLeavesNoReader) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    Socket a = udp_socket(AF_INET, "127.0.0.1");
    bool timed_out = false;
    try {
      (void)co_await aio::wait_for(aio::sock_recvfrom(loop, a, 10), 0.02);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_FALSE(loop.remove_reader(a.fileno())) << "the reader was left behind";
  }());
}

}  // namespace
