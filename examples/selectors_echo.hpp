// The echo server from Python's selectors documentation, ported: accept() and read()
// callbacks stored as each key's data, dispatched from one select() loop.
#pragma once

#include <batteries/errors.hpp>
#include <batteries/selectors.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <functional>
#include <string>

namespace examples {

namespace sel = batteries::selectors;

/// What each key's data holds: Python's `callback(key.fileobj, mask)`.
using Callback = std::function<void(int fd, sel::Events mask)>;

inline void set_nonblocking(int fd) {
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
    batteries::raise_errno();
  }
}

/// Listens on 127.0.0.1:port (0 picks a free port) and echoes what each client sends.
class EchoServer {
 public:
  EchoServer(sel::BaseSelector& selector, std::uint16_t port) : m_selector(selector) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listener < 0) batteries::raise_errno();
    const int one = 1;
    ::setsockopt(m_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(m_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        ::listen(m_listener, 100) < 0) {
      batteries::raise_errno();
    }
    set_nonblocking(m_listener);
    m_selector.register_(m_listener, sel::EVENT_READ,
                         Callback([this](int fd, sel::Events mask) { accept(fd, mask); }));
  }
  ~EchoServer() { ::close(m_listener); }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::uint16_t port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }
  [[nodiscard]] int connections_closed() const { return m_closed; }

 private:
  void accept(int listener, sel::Events) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    const int conn = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (conn < 0) return;
    char host[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &peer.sin_addr, host, sizeof host);
    fmt::print("accepted a connection from {}\n", host);
    set_nonblocking(conn);
    m_selector.register_(conn, sel::EVENT_READ,
                         Callback([this](int fd, sel::Events mask) { read(fd, mask); }));
  }

  void read(int conn, sel::Events) {
    char data[1000];
    const ssize_t n = ::recv(conn, data, sizeof data, 0);
    if (n > 0) {
      const std::string text(data, static_cast<std::size_t>(n));
      fmt::print("echoing {} to the client\n", batteries::py_repr(text));
      ::send(conn, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);  // hope it won't block
    } else {
      fmt::print("closing the connection\n");
      m_selector.unregister(conn);
      ::close(conn);
      ++m_closed;
    }
  }

  sel::BaseSelector& m_selector;
  int m_listener = -1;
  int m_closed = 0;
};

/// The event loop of the example: `for key, mask in sel.select(): key.data(key.fileobj, mask)`.
/// Runs until done() or the timeout passes; returns whether done() became true.
inline bool run_loop(sel::BaseSelector& selector, const std::function<bool()>& done,
                     double timeout_seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (!done()) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    for (const auto& [key, mask] : selector.select(left)) {
      std::any_cast<const Callback&>(key.data)(key.fd, mask);
    }
  }
  return true;
}

}  // namespace examples
