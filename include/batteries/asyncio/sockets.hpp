// asyncio's low-level socket layer: Socket, socketpair, and the loop's sock_* coroutines.
//
// Python spreads these over two modules; batteries keeps them together:
//   socket.socket(family, type, proto)        Socket(family, type, proto)
//   socket.socket(fileno=fd)                  Socket::from_fd(fd)
//   socket.socketpair()                       socketpair()
//   socket.gaierror                           gaierror (an OSError, errno = the EAI_* code)
//   ('127.0.0.1', 80) / ('::1', 80, 0, 0)     InetAddress{"127.0.0.1", 80} / {"::1", 80}
//   '/path/of/an/AF_UNIX/socket'              std::string, in the Address variant
//   await loop.sock_recv(s, n)                co_await sock_recv(loop, s, n)
//   await loop.sock_recv_into(s, buf)         co_await sock_recv_into(loop, s, buf)
//   await loop.sock_sendall(s, data)          co_await sock_sendall(loop, s, data)
//   await loop.sock_connect(s, address)       co_await sock_connect(loop, s, address)
//   await loop.sock_accept(s)                 co_await sock_accept(loop, s)
//   await loop.sock_sendfile(s, f, o, n)      co_await sock_sendfile(loop, s, f.fileno(), o, n)
//   await loop.sock_recvfrom(s, n)            co_await sock_recvfrom(loop, s, n)
//   await loop.sock_recvfrom_into(s, buf)     co_await sock_recvfrom_into(loop, s, buf)
//   await loop.sock_sendto(s, data, address)  co_await sock_sendto(loop, s, data, address)
//   await loop.getaddrinfo(h, p, family=..)   co_await getaddrinfo(loop, h, p, {.family = ..})
//   await loop.getnameinfo(sockaddr, flags)   co_await getnameinfo(loop, sockaddr, flags)
//
// Differences from Python:
//   - Every Socket is created close-on-exec, as Python's are (PEP 446).
//   - The sock_* coroutines put the socket in non-blocking mode if it is not already (Python
//     requires it and checks only in debug mode). A Socket caches its blocking flag, so set
//     it through setblocking() rather than with fcntl() on fileno().
//   - Sends use MSG_NOSIGNAL: a peer that hung up gives BrokenPipeError, never SIGPIPE
//     (Python ignores SIGPIPE process-wide; a C++ library cannot).
//   - The sock_* coroutines reference their Socket and buffers: the socket, sock_recv_into's
//     buffer and sock_sendall's data (unless given as an rvalue std::string, which the task
//     then owns) must outlive the task. Tasks start lazily, when awaited or scheduled.
//   - InetAddress::repr() prints Python's 4-tuple (host, port, flowinfo, scope_id) when the
//     host contains ':' (an IPv6 address) or flowinfo / scope_id are set, else the 2-tuple.
//   - Socket::bind() with a host name resolves it in the calling thread, as Python's
//     socket.bind() does; sock_connect() resolves host names on the loop's default executor,
//     and so does sock_sendto() (Python's socket.sendto() resolves them in the loop's thread).
//   - sock_recvfrom() gives "" for a sender with no address (an unnamed AF_UNIX socket), where
//     Python gives None.
//   - sock_sendfile() takes the file's descriptor, and falls back on reads and sends for any
//     file that is not a regular file; see its comment for the other differences.
//
// Thread-safety: a Socket is a plain object: distinct Sockets may be used from distinct
// threads, one Socket needs external synchronization. The coroutines belong to the loop's
// thread; getaddrinfo / getnameinfo run the C library's resolver on the loop's default
// executor, so the loop never blocks on DNS. Cancelling a pending sock_* operation removes its
// reader or writer; the socket stays open and usable, and no data is lost.
#pragma once

#include <batteries/asyncio/task.hpp>
#include <batteries/errors.hpp>

#include <sys/socket.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace batteries::asyncio {

class EventLoop;

/// Python's socket.gaierror: getaddrinfo() / getnameinfo() failed. errno_() is the EAI_*
/// code and the message is gai_strerror's: "[Errno -2] Name or service not known".
/// (Declared here, in batteries::asyncio, until batteries has a socket module.)
BATTERIES_EXCEPTION(gaierror, OSError);

/// An AF_INET or AF_INET6 address: Python's (host, port) and (host, port, flowinfo,
/// scope_id) tuples. host is numeric when it comes from the OS; a host name is accepted
/// where Python accepts one (bind, sock_connect).
struct InetAddress {
  std::string host;
  std::uint16_t port = 0;
  std::uint32_t flowinfo = 0;
  std::uint32_t scope_id = 0;

  /// Python's repr() of the tuple: "('127.0.0.1', 8080)" or "('::1', 8080, 0, 0)".
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
  friend bool operator==(const InetAddress&, const InetAddress&) = default;
  friend std::ostream& operator<<(std::ostream& out, const InetAddress& a) {
    return out << a.repr();
  }
};

/// A socket address: an internet address, or an AF_UNIX path (raw bytes; an abstract
/// address starts with '\0'; an unnamed socket has "").
using Address = std::variant<InetAddress, std::string>;

/// Python's repr() of the address: the tuple, or the quoted path ('/tmp/s'; an abstract
/// address prints as Python's bytes, b'\x00name').
[[nodiscard]] std::string repr(const Address& address);

/// Python's socket.socket, the subset asyncio's low-level API needs: a move-only owner of a
/// socket descriptor, closed by the destructor. Every method but fileno(), closed(), close()
/// and detach() raises OSError "[Errno 9] Bad file descriptor" once it is closed.
class Socket {
 public:
  /// socket(family, type, proto), close-on-exec. type may include SOCK_NONBLOCK.
  explicit Socket(int family = AF_INET, int type = SOCK_STREAM, int proto = 0);
  /// Adopts fd (Python's socket(fileno=fd)): family, type, proto and the blocking flag are
  /// read from it. OSError if fd is not a socket.
  [[nodiscard]] static Socket from_fd(int fd);
  /// Adopts fd whose family, type, proto and blocking mode the caller knows (no system call).
  [[nodiscard]] static Socket adopt(int fd, int family, int type, int proto,
                                    bool blocking) noexcept {
    return Socket(fd, family, type, proto, blocking);
  }

  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  /// Closes the descriptor, ignoring errors.
  ~Socket();

  /// The descriptor, or -1 once closed or detached.
  [[nodiscard]] int fileno() const noexcept { return m_fd; }
  [[nodiscard]] int family() const noexcept { return m_family; }
  /// The type without SOCK_NONBLOCK / SOCK_CLOEXEC, as Python's socket.type.
  [[nodiscard]] int type() const noexcept { return m_type; }
  [[nodiscard]] int proto() const noexcept { return m_proto; }
  [[nodiscard]] bool closed() const noexcept { return m_fd < 0; }

  void setblocking(bool flag);
  [[nodiscard]] bool getblocking() const;
  void bind(const Address& address);
  void listen(int backlog = 128);
  [[nodiscard]] Address getsockname() const;
  [[nodiscard]] Address getpeername() const;
  void setsockopt(int level, int option, int value);
  [[nodiscard]] int getsockopt(int level, int option) const;
  /// SHUT_RD, SHUT_WR or SHUT_RDWR.
  void shutdown(int how);
  /// Closes the descriptor; closing again does nothing. OSError if close() fails (but not
  /// for ECONNRESET, which Python ignores); the descriptor is released either way.
  void close();
  /// Gives up the descriptor without closing it and returns it (-1 if closed).
  int detach() noexcept;

  // ---- for batteries::asyncio -------------------------------------------------------------
  /// The descriptor; OSError EBADF when closed.
  [[nodiscard]] int checked_fd() const;
  /// Puts the socket in non-blocking mode if it is not already; returns the descriptor.
  int ensure_nonblocking();

 private:
  friend std::pair<Socket, Socket> socketpair(int family, int type, int proto);
  friend Task<std::pair<Socket, Address>> sock_accept(EventLoop& loop, Socket& sock);

  Socket(int fd, int family, int type, int proto, bool blocking) noexcept
      : m_fd(fd), m_family(family), m_type(type), m_proto(proto), m_blocking(blocking) {}

  int m_fd = -1;
  int m_family = AF_INET;
  int m_type = SOCK_STREAM;
  int m_proto = 0;
  bool m_blocking = true;
};

/// Python's socket.socketpair(family=AF_UNIX, type=SOCK_STREAM, proto=0): two connected
/// sockets, close-on-exec.
[[nodiscard]] std::pair<Socket, Socket> socketpair(int family = AF_UNIX, int type = SOCK_STREAM,
                                                   int proto = 0);

/// One entry of getaddrinfo()'s answer: Python's (family, type, proto, canonname, sockaddr).
struct AddrInfo {
  int family = 0;
  int type = 0;
  int proto = 0;
  std::string canonname;
  Address sockaddr;
};

/// Python's loop.getaddrinfo() keyword-only arguments.
struct GetAddrInfoOptions {
  int family = 0;  // AF_UNSPEC
  int type = 0;
  int proto = 0;
  int flags = 0;
};

// ---- coroutines: loop methods, as free functions taking the loop first ---------------------

/// Python's loop.sock_recv(sock, nbytes): up to nbytes bytes (raw bytes in a std::string),
/// waiting until some arrive; "" at end of stream.
Task<std::string> sock_recv(EventLoop& loop, Socket& sock, std::size_t nbytes);

/// Python's loop.sock_recv_into(sock, buf): reads into buf and returns how many bytes it
/// read (0 at end of stream). buf must outlive the task.
Task<std::size_t> sock_recv_into(EventLoop& loop, Socket& sock, std::span<char> buf);

/// Python's loop.sock_sendall(sock, data): sends all of data, waiting for the socket to be
/// writable as often as needed. data must outlive the task. If the task is cancelled, some
/// of the data may have been sent (Python gives no way to know how much either).
Task<void> sock_sendall(EventLoop& loop, Socket& sock, std::string_view data);

/// The same for an rvalue std::string, which the task owns.
template <class S>
requires std::same_as<S, std::string> Task<void> sock_sendall(EventLoop& loop, Socket& sock,
                                                              S&& data) {
  std::string owned = std::move(data);
  co_await sock_sendall(loop, sock, std::string_view(owned));
}

/// Python's loop.sock_connect(sock, address): connects, waiting for it to complete. A host
/// name is resolved first (getaddrinfo with the socket's family, type and proto, on the
/// default executor; the first answer is used). A connection that fails after waiting
/// raises the errno's OSError subclass with Python's message, "[Errno 111] Connect call
/// failed ('127.0.0.1', 1)".
namespace detail {
Task<void> sock_connect_task(EventLoop& loop, Socket& sock, Address address);
}
///
/// (An ordinary function around the coroutine, which copies the address into the task.)
/// GCC 12 caveat (all the functions here): it miscompiles class temporaries made by a
/// conversion inside a co_await operand, `co_await sock_connect(loop, s, InetAddress{..})`
/// or `co_await getaddrinfo(loop, "localhost", "80")` (a temporary is destroyed with a
/// corrupt string); name the argument, or the task, in a variable first.
inline Task<void> sock_connect(EventLoop& loop, Socket& sock, const Address& address) {
  return detail::sock_connect_task(loop, sock, address);
}

/// Python's loop.sock_accept(sock): waits for a connection on a listening socket; returns
/// the new socket (non-blocking, close-on-exec) and the peer's address.
Task<std::pair<Socket, Address>> sock_accept(EventLoop& loop, Socket& sock);

/// Python's loop.getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0), resolved on
/// the loop's default executor. nullopt is Python's None. gaierror when the name does not
/// resolve ("[Errno -2] Name or service not known"); OSError for EAI_SYSTEM.
Task<std::vector<AddrInfo>> getaddrinfo(EventLoop& loop, std::optional<std::string> host,
                                        std::optional<std::string> port,
                                        GetAddrInfoOptions options = {});
/// The same with a numeric port.
Task<std::vector<AddrInfo>> getaddrinfo(EventLoop& loop, std::optional<std::string> host, int port,
                                        GetAddrInfoOptions options = {});

/// Python's loop.getnameinfo(sockaddr, flags=0): (host, service), on the default executor.
/// The address's host must be numeric, as Python's socket.getnameinfo requires (gaierror
/// otherwise). NI_* flags as in <netdb.h>.
Task<std::pair<std::string, std::string>> getnameinfo(EventLoop& loop, Address sockaddr,
                                                      int flags = 0);

// ---- sendfile and datagrams (Python 3.11's sock_recvfrom, sock_recvfrom_into, sock_sendto) ----

/// Python's loop.sock_sendfile(sock, file, offset=0, count=None, *, fallback=True): sends the
/// file's bytes from offset (count of them, or up to the end), with sendfile(2), waiting for
/// the socket to be writable as often as needed; returns how many were sent. When sendfile(2)
/// cannot be used (file_fd is not a regular file, or the first call fails), it reads the file
/// on the default executor and sends what it read, 256 KiB at a time, or raises
/// SendfileNotAvailableError if fallback is false. Either way the file's position is left
/// after the last byte sent (offset + the result), even when it fails or is cancelled.
/// ValueError, with Python's messages, for a socket that is not SOCK_STREAM, a count that is
/// not positive, or a negative offset.
///
/// Differences from Python: file_fd is a descriptor (Python takes a file object opened in
/// binary mode); the caller keeps it open until the task is done. Python 3.11 tries sendfile
/// on anything fstat() accepts, and so "sends" 0 bytes of a pipe; here only a regular file
/// goes to sendfile(2). The fallback always reads from offset (Python's reads from the
/// current position when offset is 0), and leaves a pipe's position alone (Python's seek
/// raises). A peer that hangs up gives BrokenPipeError, never SIGPIPE: SIGPIPE is blocked in
/// the loop's thread around each sendfile(2) call.
Task<std::size_t> sock_sendfile(EventLoop& loop, Socket& sock, int file_fd, std::int64_t offset = 0,
                                std::optional<std::int64_t> count = std::nullopt,
                                bool fallback = true);

/// Python's loop.sock_recvfrom(sock, bufsize): one datagram (up to bufsize bytes of it, the
/// rest discarded, as recvfrom(2) does) and the sender's address, waiting until one arrives.
/// An unnamed sender's address is "" (Python's None).
Task<std::pair<std::string, Address>> sock_recvfrom(EventLoop& loop, Socket& sock,
                                                    std::size_t bufsize);

/// Python's loop.sock_recvfrom_into(sock, buf, nbytes=0): reads one datagram into buf (its
/// first nbytes bytes; 0 means all of buf) and returns how many bytes it read, with the
/// sender's address. ValueError("nbytes is greater than the length of the buffer"). buf must
/// outlive the task.
Task<std::pair<std::size_t, Address>> sock_recvfrom_into(EventLoop& loop, Socket& sock,
                                                         std::span<char> buf,
                                                         std::size_t nbytes = 0);

namespace detail {
Task<std::size_t> sock_sendto_task(EventLoop& loop, Socket& sock, std::string_view data,
                                   Address address);
/// TypeError, with Python's socket.sendto() message, unless address (nullopt: Python's None)
/// is the kind a socket of family sends to.
void check_sendto_address(int family, const std::optional<Address>& address);
}  // namespace detail

/// Python's loop.sock_sendto(sock, data, address): sends one datagram to address, waiting for
/// the socket to be writable if it must; returns the number of bytes sent. A host name is
/// resolved on the default executor (getaddrinfo with the socket's family; the first answer
/// is used). data must outlive the task (or be given as an rvalue std::string, which the task
/// then owns).
inline Task<std::size_t> sock_sendto(EventLoop& loop, Socket& sock, std::string_view data,
                                     const Address& address) {
  return detail::sock_sendto_task(loop, sock, data, address);
}

/// The same for an rvalue std::string, which the task owns.
template <class S>
requires std::same_as<S, std::string> Task<std::size_t> sock_sendto(EventLoop& loop, Socket& sock,
                                                                    S&& data, Address address) {
  std::string owned = std::move(data);
  co_return co_await detail::sock_sendto_task(loop, sock, std::string_view(owned),
                                              std::move(address));
}

}  // namespace batteries::asyncio
