// Socket, socketpair, the sock_* coroutines and the resolver calls of asyncio/sockets.hpp.
#include <batteries/asyncio/exceptions.hpp>
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/sockets.hpp>
#include <batteries/asyncio/threads.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net.hpp"

namespace batteries::asyncio {

namespace detail {

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

/// The OSError subclass Python picks for errnum, with a message of our own as strerror
/// (OSError(err, 'Connect call failed ...') in Python picks the subclass the same way).
[[noreturn]] void raise_os_error_with(int errnum, std::string strerror) {
  const std::string_view name = os_error_type_name(errnum);
#define BATTERIES_RAISE_IF(TYPE) \
  if (name == #TYPE) throw TYPE(errnum, std::move(strerror))
  BATTERIES_RAISE_IF(BlockingIOError);
  BATTERIES_RAISE_IF(ChildProcessError);
  BATTERIES_RAISE_IF(BrokenPipeError);
  BATTERIES_RAISE_IF(ConnectionAbortedError);
  BATTERIES_RAISE_IF(ConnectionRefusedError);
  BATTERIES_RAISE_IF(ConnectionResetError);
  BATTERIES_RAISE_IF(FileExistsError);
  BATTERIES_RAISE_IF(FileNotFoundError);
  BATTERIES_RAISE_IF(InterruptedError);
  BATTERIES_RAISE_IF(IsADirectoryError);
  BATTERIES_RAISE_IF(NotADirectoryError);
  BATTERIES_RAISE_IF(PermissionError);
  BATTERIES_RAISE_IF(ProcessLookupError);
  BATTERIES_RAISE_IF(TimeoutError);
#undef BATTERIES_RAISE_IF
  throw OSError(errnum, std::move(strerror));
}

/// gaierror for a getaddrinfo()/getnameinfo() result code (OSError for EAI_SYSTEM).
[[noreturn]] void raise_gai(int code, int saved_errno) {
  if (code == EAI_SYSTEM) raise_os_error(saved_errno);
  throw gaierror(code, ::gai_strerror(code));
}

[[noreturn]] void raise_ebadf() { raise_os_error(EBADF); }

/// Python's repr() of bytes: b'...' with \xNN escapes.
std::string bytes_repr(std::string_view data) {
  const bool squote = data.find('\'') != std::string_view::npos;
  const bool dquote = data.find('"') != std::string_view::npos;
  const char quote = squote && !dquote ? '"' : '\'';
  std::string out = "b";
  out += quote;
  for (const char ch : data) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  out += quote;
  return out;
}

Address from_sockaddr(const sockaddr* sa, socklen_t len) {
  switch (sa->sa_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      char host[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      return InetAddress{host, ntohs(in->sin_port)};
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      char host[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      return InetAddress{host, ntohs(in6->sin6_port), ntohl(in6->sin6_flowinfo),
                         in6->sin6_scope_id};
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
      const auto offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
      if (len <= offset) return std::string();
      std::string path(un->sun_path, len - offset);
      if (!path.empty() && path[0] != '\0') path.resize(std::strlen(path.c_str()));
      return path;
    }
    default:
      throw OSError(fmt::format("unsupported address family {}", sa->sa_family));
  }
}

/// The numeric form of an internet host for family, or false: "" is the any address and
/// "<broadcast>" the broadcast one, as in Python.
bool numeric_inet(int family, const InetAddress& address, SockAddr& out) {
  out = SockAddr{};
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(address.port);
    if (address.host.empty()) {
      in->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (address.host == "<broadcast>") {
      in->sin_addr.s_addr = htonl(INADDR_BROADCAST);
    } else if (::inet_pton(AF_INET, address.host.c_str(), &in->sin_addr) != 1) {
      return false;
    }
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(address.port);
  in6->sin6_flowinfo = htonl(address.flowinfo);
  in6->sin6_scope_id = address.scope_id;
  if (address.host.empty()) {
    in6->sin6_addr = in6addr_any;
  } else if (::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr) != 1) {
    return false;
  }
  out.len = sizeof(sockaddr_in6);
  return true;
}

std::string family_name(int family) {
  switch (family) {
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_UNIX:
      return "AF_UNIX";
    default:
      return std::to_string(family);
  }
}

/// The OS form of a numeric address (or a path) for a socket of family; false when the
/// internet host is a name that must be resolved first. TypeError for the wrong kind.
bool to_sockaddr(int family, const Address& address, SockAddr& out) {
  if (family == AF_UNIX) {
    const auto* path = std::get_if<std::string>(&address);
    if (path == nullptr) throw TypeError("a str or bytes path is required for AF_UNIX, not tuple");
    out = SockAddr{};
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    if (path->size() >= sizeof un->sun_path) throw OSError("AF_UNIX path too long");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path->data(), path->size());
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path->size());
    return true;
  }
  if (family != AF_INET && family != AF_INET6) {
    throw OSError(fmt::format("address family {} is not supported", family_name(family)));
  }
  const auto* inet = std::get_if<InetAddress>(&address);
  if (inet == nullptr) {
    throw TypeError(fmt::format("{} address must be tuple, not str", family_name(family)));
  }
  return numeric_inet(family, *inet, out);
}

/// The C library's getaddrinfo, in the calling thread.
std::vector<AddrInfo> resolve(const std::optional<std::string>& host,
                              const std::optional<std::string>& port,
                              const GetAddrInfoOptions& options) {
  addrinfo hints{};
  hints.ai_family = options.family;
  hints.ai_socktype = options.type;
  hints.ai_protocol = options.proto;
  hints.ai_flags = options.flags;
  addrinfo* result = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(host ? host->c_str() : nullptr, port ? port->c_str() : nullptr,
                               &hints, &result);
  if (rc != 0) raise_gai(rc, errno);
  std::vector<AddrInfo> out;
  try {
    for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      out.push_back(AddrInfo{ai->ai_family, ai->ai_socktype, ai->ai_protocol,
                             ai->ai_canonname != nullptr ? ai->ai_canonname : "",
                             from_sockaddr(ai->ai_addr, ai->ai_addrlen)});
    }
  } catch (...) {
    ::freeaddrinfo(result);
    throw;
  }
  ::freeaddrinfo(result);
  return out;
}

}  // namespace detail

using namespace detail;  // NOLINT(google-build-using-namespace): this file is their home

// ---- addresses ---------------------------------------------------------------------------------

std::string InetAddress::repr() const {
  if (host.find(':') != std::string::npos || flowinfo != 0 || scope_id != 0) {
    return fmt::format("({}, {}, {}, {})", py_repr(host), port, flowinfo, scope_id);
  }
  return fmt::format("({}, {})", py_repr(host), port);
}

std::string repr(const Address& address) {
  if (const auto* inet = std::get_if<InetAddress>(&address)) return inet->repr();
  const auto& path = std::get<std::string>(address);
  if (!path.empty() && path[0] == '\0') return bytes_repr(path);
  return py_repr(path);
}

// ---- Socket ------------------------------------------------------------------------------------

Socket::Socket(int family, int type, int proto) {
  const int fd = ::socket(family, type | SOCK_CLOEXEC, proto);
  if (fd < 0) raise_errno();
  m_fd = fd;
  m_family = family;
  m_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  m_proto = proto;
  m_blocking = (type & SOCK_NONBLOCK) == 0;
}

Socket Socket::from_fd(int fd) {
  auto get = [fd](int option) {
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) raise_errno();
    return value;
  };
  const int family = get(SO_DOMAIN);
  const int type = get(SO_TYPE);
  const int proto = get(SO_PROTOCOL);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) raise_errno();
  return Socket(fd, family, type, proto, (flags & O_NONBLOCK) == 0);
}

Socket::Socket(Socket&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)),
      m_family(other.m_family),
      m_type(other.m_type),
      m_proto(other.m_proto),
      m_blocking(other.m_blocking) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = std::exchange(other.m_fd, -1);
    m_family = other.m_family;
    m_type = other.m_type;
    m_proto = other.m_proto;
    m_blocking = other.m_blocking;
  }
  return *this;
}

Socket::~Socket() {
  if (m_fd >= 0) ::close(m_fd);
}

int Socket::checked_fd() const {
  if (m_fd < 0) raise_ebadf();
  return m_fd;
}

void Socket::setblocking(bool flag) {
  const int fd = checked_fd();
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) raise_errno();
  const int wanted = flag ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) != 0) raise_errno();
  m_blocking = flag;
}

bool Socket::getblocking() const { return m_blocking; }

int Socket::ensure_nonblocking() {
  const int fd = checked_fd();
  if (m_blocking) setblocking(false);
  return fd;
}

void Socket::bind(const Address& address) {
  const int fd = checked_fd();
  SockAddr sa;
  if (!to_sockaddr(m_family, address, sa)) {
    // A host name: resolved here, blocking, as Python's socket.bind() does.
    const auto& inet = std::get<InetAddress>(address);
    const auto infos = resolve(inet.host, std::to_string(inet.port), {.family = m_family});
    if (infos.empty()) throw gaierror(EAI_NONAME, ::gai_strerror(EAI_NONAME));
    to_sockaddr(m_family, infos.front().sockaddr, sa);
  }
  if (::bind(fd, sa.get(), sa.len) != 0) raise_errno();
}

void Socket::listen(int backlog) {
  if (::listen(checked_fd(), backlog < 0 ? 0 : backlog) != 0) raise_errno();
}

Address Socket::getsockname() const {
  SockAddr sa;
  sa.len = sizeof sa.storage;
  if (::getsockname(checked_fd(), reinterpret_cast<sockaddr*>(&sa.storage), &sa.len) != 0) {
    raise_errno();
  }
  return from_sockaddr(sa.get(), sa.len);
}

Address Socket::getpeername() const {
  SockAddr sa;
  sa.len = sizeof sa.storage;
  if (::getpeername(checked_fd(), reinterpret_cast<sockaddr*>(&sa.storage), &sa.len) != 0) {
    raise_errno();
  }
  return from_sockaddr(sa.get(), sa.len);
}

void Socket::setsockopt(int level, int option, int value) {
  if (::setsockopt(checked_fd(), level, option, &value, sizeof value) != 0) raise_errno();
}

int Socket::getsockopt(int level, int option) const {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(checked_fd(), level, option, &value, &len) != 0) raise_errno();
  return value;
}

void Socket::shutdown(int how) {
  if (::shutdown(checked_fd(), how) != 0) raise_errno();
}

void Socket::close() {
  if (m_fd < 0) return;
  const int fd = std::exchange(m_fd, -1);
  if (::close(fd) != 0 && errno != ECONNRESET && errno != EINTR) raise_errno();
}

int Socket::detach() noexcept { return std::exchange(m_fd, -1); }

std::pair<Socket, Socket> socketpair(int family, int type, int proto) {
  int fds[2];
  if (::socketpair(family, type | SOCK_CLOEXEC, proto, fds) != 0) raise_errno();
  const int plain = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  const bool blocking = (type & SOCK_NONBLOCK) == 0;
  return {Socket(fds[0], family, plain, proto, blocking),
          Socket(fds[1], family, plain, proto, blocking)};
}

// ---- coroutines --------------------------------------------------------------------------------

Task<std::string> sock_recv(EventLoop& loop, Socket& sock, std::size_t nbytes) {
  int fd = sock.ensure_nonblocking();
  std::string data(nbytes, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd, data.data(), nbytes, 0);
    if (n >= 0) {
      data.resize(static_cast<std::size_t>(n));
      co_return data;
    }
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, false);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

Task<std::size_t> sock_recv_into(EventLoop& loop, Socket& sock, std::span<char> buf) {
  int fd = sock.ensure_nonblocking();
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) co_return static_cast<std::size_t>(n);
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, false);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

Task<void> sock_sendall(EventLoop& loop, Socket& sock, std::string_view data) {
  int fd = sock.ensure_nonblocking();
  for (;;) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      if (data.empty()) co_return;
    } else if (!would_block(errno)) {
      raise_errno();
    }
    // Python keeps its writer until all is sent; waiting afresh each time is the same
    // to the caller.
    {
      FdWait wait(loop, fd, true);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

Task<void> detail::sock_connect_task(EventLoop& loop, Socket& sock, Address address) {
  int fd = sock.ensure_nonblocking();
  SockAddr sa;
  if (!to_sockaddr(sock.family(), address, sa)) {
    // Python's _ensure_resolved: a host name goes through loop.getaddrinfo().
    const auto& inet = std::get<InetAddress>(address);
    // Named, not temporaries in the co_await operand (GCC 12: see sockets.hpp).
    std::optional<std::string> host = inet.host;
    std::optional<std::string> port = std::to_string(inet.port);
    const GetAddrInfoOptions options{
        .family = sock.family(), .type = sock.type(), .proto = sock.proto()};
    auto resolving = getaddrinfo(loop, std::move(host), std::move(port), options);
    auto infos = co_await std::move(resolving);
    if (infos.empty()) throw gaierror(EAI_NONAME, ::gai_strerror(EAI_NONAME));
    address = std::move(infos.front().sockaddr);
    to_sockaddr(sock.family(), address, sa);
    fd = sock.checked_fd();
  }
  if (::connect(fd, sa.get(), sa.len) == 0) co_return;
  if (errno != EINPROGRESS && !would_block(errno)) raise_errno();
  for (;;) {
    {
      FdWait wait(loop, fd, true);
      co_await wait.future();
    }
    const int err = sock.getsockopt(SOL_SOCKET, SO_ERROR);
    if (err == 0) co_return;
    if (err == EINPROGRESS || would_block(err)) continue;  // not done yet: wait again
    raise_os_error_with(err, fmt::format("Connect call failed {}", repr(address)));
  }
}

Task<std::pair<Socket, Address>> sock_accept(EventLoop& loop, Socket& sock) {
  int fd = sock.ensure_nonblocking();
  for (;;) {
    SockAddr sa;
    sa.len = sizeof sa.storage;
    const int conn = ::accept4(fd, reinterpret_cast<sockaddr*>(&sa.storage), &sa.len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) {
      Socket accepted(conn, sock.family(), sock.type(), sock.proto(), false);
      co_return std::pair<Socket, Address>(std::move(accepted), from_sockaddr(sa.get(), sa.len));
    }
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, false);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

Task<std::vector<AddrInfo>> getaddrinfo(EventLoop& loop, std::optional<std::string> host,
                                        std::optional<std::string> port,
                                        GetAddrInfoOptions options) {
  // The future is made before the co_await: a lambda temporary in the operand trips GCC 12.
  auto resolved =
      run_in_executor(loop, nullptr, [host = std::move(host), port = std::move(port), options] {
        return resolve(host, port, options);
      });
  co_return co_await std::move(resolved);
}

Task<std::vector<AddrInfo>> getaddrinfo(EventLoop& loop, std::optional<std::string> host, int port,
                                        GetAddrInfoOptions options) {
  return getaddrinfo(loop, std::move(host), std::optional<std::string>(std::to_string(port)),
                     options);
}

Task<std::pair<std::string, std::string>> getnameinfo(EventLoop& loop, Address sockaddr,
                                                      int flags) {
  auto named = run_in_executor(
      loop, nullptr,
      [sockaddr = std::move(sockaddr), flags]() -> std::pair<std::string, std::string> {
        SockAddr sa;
        if (const auto* inet = std::get_if<InetAddress>(&sockaddr)) {
          const int family = inet->host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
          if (!numeric_inet(family, *inet, sa))
            throw gaierror(EAI_NONAME, ::gai_strerror(EAI_NONAME));
        } else {
          to_sockaddr(AF_UNIX, sockaddr, sa);
        }
        char host[NI_MAXHOST] = {};
        char serv[NI_MAXSERV] = {};
        errno = 0;
        const int rc = ::getnameinfo(sa.get(), sa.len, host, sizeof host, serv, sizeof serv, flags);
        if (rc != 0) raise_gai(rc, errno);
        return {host, serv};
      });
  co_return co_await std::move(named);
}

// ---- sendfile and datagrams --------------------------------------------------------------------

namespace {

// Python's constants.SENDFILE_FALLBACK_READBUFFER_SIZE.
constexpr std::size_t kSendfileFallbackBlock = std::size_t{256} * 1024;

/// sendfile(2) with SIGPIPE blocked in this thread, so that a peer that hung up gives EPIPE
/// (BrokenPipeError) and no signal: sendfile has no MSG_NOSIGNAL. A SIGPIPE it raises is
/// taken back off the thread's pending set, unless one was pending already.
ssize_t sendfile_nosigpipe(int out_fd, int in_fd, off_t* offset, std::size_t count) {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t old;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t n = ::sendfile(out_fd, in_fd, offset, count);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    const timespec zero{};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

/// Python's _sock_sendfile_update_filepos: once something was sent, the file's position is
/// after it, however the call ends. A pipe has no position (ESPIPE), which is left alone.
struct FilePositionUpdate {
  int fd;
  std::int64_t start;
  std::size_t sent = 0;
  FilePositionUpdate(int fd_, std::int64_t start_) noexcept : fd(fd_), start(start_) {}
  FilePositionUpdate(const FilePositionUpdate&) = delete;
  FilePositionUpdate& operator=(const FilePositionUpdate&) = delete;
  ~FilePositionUpdate() {
    if (sent > 0)
      ::lseek(fd, static_cast<off_t>(start + static_cast<std::int64_t>(sent)), SEEK_SET);
  }
};

/// Python's _sock_sendfile_native (unix_events.py).
Task<std::size_t> sendfile_native(EventLoop& loop, Socket& sock, int file_fd, std::int64_t offset,
                                  std::optional<std::int64_t> count) {
  struct stat st {};
  if (::fstat(file_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw SendfileNotAvailableError("not a regular file");
  }
  const auto blocksize = static_cast<std::size_t>(count ? *count : st.st_size);
  if (blocksize == 0) co_return 0;  // an empty file
  int fd = sock.ensure_nonblocking();
  FilePositionUpdate position{file_fd, offset};
  auto pos = static_cast<off_t>(offset);
  bool waited = false;
  for (;;) {
    std::size_t want = blocksize;
    if (count) {
      const auto total = static_cast<std::size_t>(*count);
      if (position.sent >= total) co_return position.sent;
      want = total - position.sent;
    }
    const ssize_t n = sendfile_nosigpipe(fd, file_fd, &pos, want);
    if (n == 0) co_return position.sent;  // end of file
    if (n > 0) {
      position.sent += static_cast<std::size_t>(n);
    } else if (!would_block(errno)) {
      const int err = errno;
      // Most likely a file sendfile(2) cannot read: the fallback's turn.
      if (position.sent == 0) throw SendfileNotAvailableError("os.sendfile call failed");
      if (err == ENOTCONN && waited) throw ConnectionError(ENOTCONN, "socket is not connected");
      raise_os_error(err);
    }
    // As Python does, the next call waits for the socket to be writable, even after a
    // call that sent something: other callbacks get their turn.
    {
      FdWait wait(loop, fd, true);
      co_await wait.future();
    }
    waited = true;
    fd = sock.checked_fd();
  }
}

/// Python's _sock_sendfile_fallback: reads on the default executor, sends with sock_sendall.
Task<std::size_t> sendfile_fallback(EventLoop& loop, Socket& sock, int file_fd, std::int64_t offset,
                                    std::optional<std::int64_t> count) {
  // A pipe cannot seek; reading it from where it is is all that offset 0 can mean.
  if (::lseek(file_fd, static_cast<off_t>(offset), SEEK_SET) < 0 &&
      !(errno == ESPIPE && offset == 0)) {
    raise_errno();
  }
  std::size_t blocksize = kSendfileFallbackBlock;
  if (count) blocksize = std::min(blocksize, static_cast<std::size_t>(*count));
  // Shared with the executor's thread, which may still be reading into it after a cancel.
  auto buffer = std::make_shared<std::vector<char>>(blocksize);
  FilePositionUpdate position{file_fd, offset};
  for (;;) {
    if (count) {
      const auto total = static_cast<std::size_t>(*count);
      if (position.sent >= total) break;
      blocksize = std::min(blocksize, total - position.sent);
    }
    // -1: the descriptor is non-blocking and has nothing yet.
    auto reading = run_in_executor(loop, nullptr, [buffer, file_fd, blocksize]() -> ssize_t {
      for (;;) {
        const ssize_t n = ::read(file_fd, buffer->data(), blocksize);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
        if (errno != EINTR) raise_errno();
      }
    });
    const ssize_t n = co_await std::move(reading);
    if (n < 0) {
      FdWait wait(loop, file_fd, false);
      co_await wait.future();
      continue;
    }
    if (n == 0) break;  // end of file
    co_await sock_sendall(loop, sock,
                          std::string_view(buffer->data(), static_cast<std::size_t>(n)));
    position.sent += static_cast<std::size_t>(n);
  }
  co_return position.sent;
}

/// The address recvfrom() gave for a datagram's sender.
Address datagram_source(const SockAddr& from) {
  // An unnamed sender (a socketpair's, an unbound AF_UNIX socket's) has no address at all.
  if (from.len == 0) return std::string();
  return from_sockaddr(from.get(), from.len);
}

}  // namespace

Task<std::size_t> sock_sendfile(EventLoop& loop, Socket& sock, int file_fd, std::int64_t offset,
                                std::optional<std::int64_t> count, bool fallback) {
  // Python's _check_sendfile_params, in its order.
  if (sock.type() != SOCK_STREAM) throw ValueError("only SOCK_STREAM type sockets are supported");
  if (count && *count <= 0) {
    throw ValueError(fmt::format("count must be a positive integer (got {})", *count));
  }
  if (offset < 0) {
    throw ValueError(fmt::format("offset must be a non-negative integer (got {})", offset));
  }
  try {
    co_return co_await sendfile_native(loop, sock, file_fd, offset, count);
  } catch (const SendfileNotAvailableError&) {
    if (!fallback) throw;
  }
  co_return co_await sendfile_fallback(loop, sock, file_fd, offset, count);
}

Task<std::pair<std::string, Address>> sock_recvfrom(EventLoop& loop, Socket& sock,
                                                    std::size_t bufsize) {
  int fd = sock.ensure_nonblocking();
  std::string data(bufsize, '\0');
  for (;;) {
    SockAddr from;
    from.len = sizeof from.storage;
    const ssize_t n = ::recvfrom(fd, data.data(), bufsize, 0,
                                 reinterpret_cast<sockaddr*>(&from.storage), &from.len);
    if (n >= 0) {
      data.resize(static_cast<std::size_t>(n));
      co_return std::pair<std::string, Address>(std::move(data), datagram_source(from));
    }
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, false);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

Task<std::pair<std::size_t, Address>> sock_recvfrom_into(EventLoop& loop, Socket& sock,
                                                         std::span<char> buf, std::size_t nbytes) {
  if (nbytes == 0) nbytes = buf.size();
  if (nbytes > buf.size()) throw ValueError("nbytes is greater than the length of the buffer");
  int fd = sock.ensure_nonblocking();
  for (;;) {
    SockAddr from;
    from.len = sizeof from.storage;
    const ssize_t n = ::recvfrom(fd, buf.data(), nbytes, 0,
                                 reinterpret_cast<sockaddr*>(&from.storage), &from.len);
    if (n >= 0) {
      co_return std::pair<std::size_t, Address>(static_cast<std::size_t>(n), datagram_source(from));
    }
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, false);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

void detail::check_sendto_address(int family, const std::optional<Address>& address) {
  if (family == AF_UNIX) {
    if (!address) throw TypeError("a bytes-like object is required, not 'NoneType'");
    if (std::holds_alternative<InetAddress>(*address)) {
      throw TypeError("a bytes-like object is required, not 'tuple'");
    }
  } else if (family == AF_INET || family == AF_INET6) {
    if (!address || !std::holds_alternative<InetAddress>(*address)) {
      throw TypeError(fmt::format("sendto(): {} address must be tuple, not {}", family_name(family),
                                  address ? "str" : "NoneType"));
    }
  }
}

Task<std::size_t> detail::sock_sendto_task(EventLoop& loop, Socket& sock, std::string_view data,
                                           Address address) {
  int fd = sock.ensure_nonblocking();
  check_sendto_address(sock.family(), address);
  SockAddr sa;
  if (!to_sockaddr(sock.family(), address, sa)) {
    // A host name: resolved on the executor, as sock_connect does (Python's socket.sendto
    // would block the loop on it).
    const auto& inet = std::get<InetAddress>(address);
    std::optional<std::string> host = inet.host;
    std::optional<std::string> port = std::to_string(inet.port);
    const GetAddrInfoOptions options{.family = sock.family()};
    auto resolving = getaddrinfo(loop, std::move(host), std::move(port), options);
    auto infos = co_await std::move(resolving);
    if (infos.empty()) throw gaierror(EAI_NONAME, ::gai_strerror(EAI_NONAME));
    to_sockaddr(sock.family(), infos.front().sockaddr, sa);
    fd = sock.checked_fd();
  }
  for (;;) {
    const ssize_t n = ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, sa.get(), sa.len);
    if (n >= 0) co_return static_cast<std::size_t>(n);
    if (!would_block(errno)) raise_errno();
    {
      FdWait wait(loop, fd, true);
      co_await wait.future();
    }
    fd = sock.checked_fd();
  }
}

}  // namespace batteries::asyncio
