// Socket, socketpair, the sock_* coroutines and the resolver calls of asyncio/sockets.hpp.
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/sockets.hpp>
#include <batteries/asyncio/threads.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

namespace batteries::asyncio {

namespace {

/// A socket address in the OS's form.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
};

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

}  // namespace

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

}  // namespace batteries::asyncio
