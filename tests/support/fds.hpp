// File-descriptor helpers for tests: an owning Fd, socketpairs, pipes, and the fd limit.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace batteries::testing {

/// Owns one descriptor and closes it.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.m_fd, -1));
    return *this;
  }
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return m_fd; }
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }
  ssize_t write(std::string_view data) const { return ::write(m_fd, data.data(), data.size()); }
  [[nodiscard]] std::string read(std::size_t limit = 65536) const {
    std::string out(limit, '\0');
    const ssize_t n = ::read(m_fd, out.data(), out.size());
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
  }

 private:
  int m_fd = -1;
};

/// A connected, non-blocking AF_UNIX stream pair.
struct SocketPair {
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::runtime_error("socketpair() failed");
    }
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
  Fd a;
  Fd b;
};

/// A non-blocking pipe.
struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2() failed");
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  Fd read_end;
  Fd write_end;
};

/// Raises the soft RLIMIT_NOFILE to at least `wanted` if the hard limit allows it.
inline bool raise_fd_limit(rlim_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return false;
  }
  if (limit.rlim_cur >= wanted) {
    return true;
  }
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) {
    return false;
  }
  limit.rlim_cur = wanted;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

}  // namespace batteries::testing
