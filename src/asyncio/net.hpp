// Internal to batteries::asyncio's networking: socket addresses in the OS's form, errors with
// Python's types and messages, and a one-shot wait for a descriptor's readiness.
#pragma once

#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/sockets.hpp>

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace batteries::asyncio::detail {

/// A socket address in the OS's form.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
};

/// EAGAIN, EWOULDBLOCK or EINTR: try again once the descriptor is ready.
bool would_block(int err) noexcept;
/// The OSError subclass Python picks for errnum, with strerror as its message.
[[noreturn]] void raise_os_error_with(int errnum, std::string strerror);
/// gaierror for a getaddrinfo()/getnameinfo() result code (OSError for EAI_SYSTEM).
[[noreturn]] void raise_gai(int code, int saved_errno);
[[noreturn]] void raise_ebadf();
/// Python's repr() of bytes: b'...' with \xNN escapes.
std::string bytes_repr(std::string_view data);
/// The Address of an OS socket address (OSError for a family other than INET, INET6, UNIX).
Address from_sockaddr(const sockaddr* sa, socklen_t len);
/// The numeric form of an internet host for family, or false when it is a name.
bool numeric_inet(int family, const InetAddress& address, SockAddr& out);
/// "AF_INET", "AF_INET6", "AF_UNIX" or the number.
std::string family_name(int family);
/// The OS form of a numeric address (or a path) for a socket of family; false when the
/// internet host is a name that must be resolved first. TypeError for the wrong kind.
bool to_sockaddr(int family, const Address& address, SockAddr& out);
/// The C library's getaddrinfo, in the calling thread.
std::vector<AddrInfo> resolve(const std::optional<std::string>& host,
                              const std::optional<std::string>& port,
                              const GetAddrInfoOptions& options);

/// Waits once for fd to be readable (or writable): a reader (writer) that finishes a future,
/// removed when this is destroyed, whether the wait ended, failed or was cancelled.
class FdWait {
 public:
  FdWait(EventLoop& loop, int fd, bool write)
      : m_loop(loop), m_fd(fd), m_write(write), m_future(loop) {
    auto wake = [f = m_future]() mutable {
      if (!f.done()) f.set_result();
    };
    if (write) {
      loop.add_writer(fd, std::move(wake));
    } else {
      loop.add_reader(fd, std::move(wake));
    }
  }
  FdWait(const FdWait&) = delete;
  FdWait& operator=(const FdWait&) = delete;
  ~FdWait() {
    try {
      if (m_write) {
        m_loop.remove_writer(m_fd);
      } else {
        m_loop.remove_reader(m_fd);
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): the selector lost the fd already
    }
  }
  [[nodiscard]] Future<void>& future() noexcept { return m_future; }

 private:
  EventLoop& m_loop;
  int m_fd;
  bool m_write;
  Future<void> m_future;
};


}  // namespace batteries::asyncio::detail
