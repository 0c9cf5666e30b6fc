// Datagram endpoints: Python 3.11's loop.create_datagram_endpoint (base_events.py) and its
// transport, selector_events._SelectorDatagramTransport.
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/transports.hpp>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "net.hpp"
#include "transport_impl.hpp"

namespace batteries::asyncio {

namespace {

using detail::SockAddr;

// Python's _SelectorTransport.max_size (kMaxReadSize): the largest datagram read whole; the
// rest of a larger one is lost, as recvfrom(2) discards it.
constexpr std::size_t kMaxDatagramSize = detail::kMaxReadSize;
// Python's default write-buffer limits (_FlowControlMixin).
constexpr std::size_t kDefaultHighWater = std::size_t{64} * 1024;

/// Python's truth value of an address argument: None and '' are false.
bool truthy(const std::optional<Address>& address) {
  if (!address) return false;
  const auto* path = std::get_if<std::string>(&*address);
  return path == nullptr || !path->empty();
}

/// Python's str() of an address: the tuple's repr, a path as it is, an abstract AF_UNIX
/// address (bytes in Python) as b'\x00...'.
std::string address_str(const Address& address) {
  if (const auto* path = std::get_if<std::string>(&address)) {
    if (path->empty() || (*path)[0] != '\0') return *path;
  }
  return repr(address);
}

/// Python 3.11's repr() of a socket.socket: <socket.socket fd=6, family=2, type=2, proto=17,
/// laddr=('127.0.0.1', 5000)>, the addresses only when the OS has them.
std::string socket_repr(const Socket& sock) {
  std::string out = fmt::format("<socket.socket{} fd={}, family={}, type={}, proto={}",
                                sock.closed() ? " [closed]" : "", sock.fileno(), sock.family(),
                                sock.type(), sock.proto());
  if (!sock.closed()) {
    try {
      const Address laddr = sock.getsockname();
      if (truthy(laddr)) out += ", laddr=" + address_str(laddr);
    } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): Python leaves it out
    }
    try {
      const Address raddr = sock.getpeername();
      if (truthy(raddr)) out += ", raddr=" + address_str(raddr);
    } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): Python leaves it out
    }
  }
  return out + ">";
}

// ---- the transport -----------------------------------------------------------------------------

/// Python's _SelectorDatagramTransport.
///
/// The loop's reference: every callback the transport gives the loop (connection_made, the
/// reader, the writer, connection_lost) holds a shared_ptr to it, and one of them is
/// registered or queued from creation until connection_lost() has run. So the loop keeps an
/// open transport, and a loop that is closed with it still open lets it go (its socket is
/// closed then, and the protocol is not told, as in Python when the transport is collected).
/// close() or abort() on a transport that outlived its loop's closing just release the
/// socket and the protocol (Python would raise RuntimeError from call_soon).
class SelectorDatagramTransport final : public DatagramTransport {
 public:
  SelectorDatagramTransport(EventLoop& loop, Socket sock,
                            std::shared_ptr<DatagramProtocol> protocol,
                            std::optional<Address> address)
      : m_loop(&loop),
        m_sock(std::move(sock)),
        m_fd(m_sock.fileno()),
        m_protocol(std::move(protocol)),
        m_address(std::move(address)) {
    try {
      m_extra.emplace_back("sockname", m_sock.getsockname());
    } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): Python stores None
    }
    try {
      m_extra.emplace_back("peername", m_sock.getpeername());
      m_connected = true;
    } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): Python stores None
    }
    m_extra.emplace_back("socket", &m_sock);
  }

  /// Python's __init__ after the fields: connection_made, then reading, then the waiter, each
  /// from the ready queue.
  void start(Future<void> waiter) {
    auto self = shared_self();
    m_loop->call_soon([self, protocol = m_protocol] { protocol->connection_made(self); });
    m_loop->call_soon([self] { self->add_reader(); });
    m_loop->call_soon([waiter]() mutable {
      if (!waiter.done()) waiter.set_result();
    });
  }

  // ---- BaseTransport ----
  [[nodiscard]] bool is_closing() const override { return m_closing; }

  void close() override {
    if (m_closing) return;
    m_closing = true;
    if (!loop_usable()) {
      release_without_loop();
      return;
    }
    remove_reader();
    if (m_buffer.empty()) {
      ++m_conn_lost;
      remove_writer();
      schedule_connection_lost(nullptr);
    }
  }

  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    auto datagram = std::dynamic_pointer_cast<DatagramProtocol>(std::move(protocol));
    if (!datagram) throw TypeError("a datagram transport needs a DatagramProtocol");
    m_protocol = std::move(datagram);
  }
  [[nodiscard]] std::shared_ptr<BaseProtocol> get_protocol() const override { return m_protocol; }

  [[nodiscard]] std::string repr() const override {
    std::string out = "<_SelectorDatagramTransport";
    if (m_sock.closed()) {
      out += " closed";
    } else if (m_closing) {
      out += " closing";
    }
    out += fmt::format(" fd={}", m_fd);
    if (!m_sock.closed() && loop_usable()) {
      out += m_reading ? " read=polling" : " read=idle";
      out += fmt::format(" write=<{}, bufsize={}>", m_writing ? "polling" : "idle", m_buffer_size);
    }
    return out + ">";
  }

  // ---- DatagramTransport ----
  void sendto(std::string_view data, const std::optional<Address>& addr) override {
    // Python 3.11 drops an empty datagram here; later versions send it, as this does.
    const std::optional<Address>* target = &addr;
    if (m_address) {
      if (addr && !(*addr == *m_address)) {
        throw ValueError(
            fmt::format("Invalid address: must be None or {}", address_str(*m_address)));
      }
      target = &m_address;
    }
    if (m_conn_lost != 0) {
      // Python counts these for a connected endpoint (and logs from the 5th); an unconnected
      // one would write to its closed socket. Either way nothing is sent.
      ++m_conn_lost;
      return;
    }
    SockAddr destination;
    if (!m_connected) {
      try {
        destination = destination_of(*target);
      } catch (const OSError&) {
        protocol_error_received(std::current_exception());
        return;
      } catch (...) {
        if (detail::is_exit_exception(std::current_exception())) throw;
        fatal_error(std::current_exception(), "Fatal write error on datagram transport");
        return;
      }
    }
    if (m_buffer.empty()) {
      // Try to send it right away first.
      if (send_one(data, destination) >= 0) return;
      if (!detail::would_block(errno)) {
        protocol_error_received(make_os_error(errno));
        return;
      }
      // The writer needs the loop; a transport kept past it must not reach for it.
      if (!loop_usable()) throw RuntimeError("Event loop is closed");
      add_writer();
    }
    m_buffer.push_back(Pending{std::string(data), destination});
    m_buffer_size += data.size();
    maybe_pause_protocol();
  }

  void abort() override {
    if (!loop_usable()) {
      m_closing = true;
      release_without_loop();
      return;
    }
    force_close(nullptr);
  }

  [[nodiscard]] std::size_t get_write_buffer_size() const override { return m_buffer_size; }

  // Python's _FlowControlMixin, which its datagram transport has too.
  void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                               std::optional<std::size_t> low = std::nullopt) override {
    const std::size_t h = high ? *high : (low ? 4 * *low : kDefaultHighWater);
    const std::size_t l = low ? *low : h / 4;
    if (h < l) throw ValueError(fmt::format("high ({}) must be >= low ({}) must be >= 0", h, l));
    m_high = h;
    m_low = l;
    maybe_pause_protocol();
  }
  [[nodiscard]] std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override {
    return {m_low, m_high};
  }

 private:
  /// A datagram the socket could not take yet, and where it goes (unused when connected).
  struct Pending {
    std::string data;
    SockAddr destination;
  };

  std::shared_ptr<SelectorDatagramTransport> shared_self() {
    return std::static_pointer_cast<SelectorDatagramTransport>(shared_from_this());
  }

  /// Whether the loop can still take callbacks: it may be closed, or gone, while the
  /// protocol or the user still holds the transport.
  [[nodiscard]] bool loop_usable() const {
    return detail::loop_is_alive(m_loop) && !m_loop->is_closed();
  }

  /// close() or abort() after the loop closed: nothing can run connection_lost() any more.
  void release_without_loop() noexcept {
    m_buffer.clear();
    m_buffer_size = 0;
    m_reading = false;
    m_writing = false;
    if (m_conn_lost == 0) ++m_conn_lost;
    m_protocol.reset();
    try {
      m_sock.close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the descriptor is released either way
    }
  }

  /// The OS form of where an unconnected endpoint sends: Python's socket.sendto() checks the
  /// address's kind (TypeError) and resolves a host name, in this thread.
  [[nodiscard]] SockAddr destination_of(const std::optional<Address>& address) const {
    detail::check_sendto_address(m_sock.family(), address);
    SockAddr sa;
    if (!detail::to_sockaddr(m_sock.family(), *address, sa)) {
      const auto& inet = std::get<InetAddress>(*address);
      const auto infos =
          detail::resolve(inet.host, std::to_string(inet.port), {.family = m_sock.family()});
      if (infos.empty()) throw gaierror(EAI_NONAME, ::gai_strerror(EAI_NONAME));
      detail::to_sockaddr(m_sock.family(), infos.front().sockaddr, sa);
    }
    return sa;
  }

  /// One send(2) or sendto(2); errno is left for the caller when it fails.
  ssize_t send_one(std::string_view data, const SockAddr& destination) const {
    if (m_connected) return ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
    return ::sendto(m_fd, data.data(), data.size(), MSG_NOSIGNAL, destination.get(),
                    destination.len);
  }

  void add_reader() {
    if (m_reading || m_closing) return;  // Python's _add_reader: only while it reads
    m_loop->add_reader(m_fd, [self = shared_self()] { self->read_ready(); });
    m_reading = true;
  }
  void remove_reader() noexcept {
    if (!m_reading) return;
    m_reading = false;
    try {
      m_loop->remove_reader(m_fd);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the loop is closed
    }
  }
  void add_writer() {
    if (m_writing) return;
    m_loop->add_writer(m_fd, [self = shared_self()] { self->write_ready(); });
    m_writing = true;
  }
  void remove_writer() noexcept {
    if (!m_writing) return;
    m_writing = false;
    try {
      m_loop->remove_writer(m_fd);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the loop is closed
    }
  }

  /// Python's _read_ready: one datagram per readiness, as Python reads.
  void read_ready() {
    if (m_conn_lost != 0) return;
    char* buf = detail::read_buffer();  // the thread's, shared with the other transports
    SockAddr from;
    from.len = sizeof from.storage;
    const ssize_t n = ::recvfrom(m_fd, buf, kMaxDatagramSize, 0,
                                 reinterpret_cast<sockaddr*>(&from.storage), &from.len);
    if (n < 0) {
      // An ICMP error for an earlier send (ECONNREFUSED, ...) surfaces here.
      if (!detail::would_block(errno)) protocol_error_received(make_os_error(errno));
      return;
    }
    Address sender;
    try {
      // An unnamed sender (an unbound AF_UNIX socket) has no address: Python's None.
      sender = from.len != 0 ? detail::from_sockaddr(from.get(), from.len) : Address(std::string());
    } catch (...) {
      fatal_error(std::current_exception(), "Fatal read error on datagram transport");
      return;
    }
    // As in Python, an exception from the protocol goes to the loop's exception handler
    // ("Exception in callback"), and the transport stays open.
    m_protocol->datagram_received(std::string_view(buf, static_cast<std::size_t>(n)), sender);
  }

  /// Python's _sendto_ready.
  void write_ready() {
    while (!m_buffer.empty()) {
      const Pending& front = m_buffer.front();
      const ssize_t n = send_one(front.data, front.destination);
      if (n < 0 && detail::would_block(errno)) break;  // try again later
      const int err = errno;
      m_buffer_size -= front.data.size();
      m_buffer.pop_front();
      if (n < 0) {
        // The datagram is dropped; the rest waits for the next turn, as in Python.
        protocol_error_received(make_os_error(err));
        return;
      }
    }
    maybe_resume_protocol();  // may add to the buffer
    if (m_buffer.empty()) {
      remove_writer();
      if (m_closing) call_connection_lost(nullptr);
    }
  }

  void protocol_error_received(std::exception_ptr exc) {
    // Python calls it with the protocol it has; after connection_lost() there is none.
    if (m_protocol) m_protocol->error_received(std::move(exc));
  }

  void maybe_pause_protocol() {
    if (m_buffer_size <= m_high || m_protocol_paused) return;
    m_protocol_paused = true;
    try {
      m_protocol->pause_writing();
    } catch (...) {
      if (detail::is_exit_exception(std::current_exception())) throw;
      m_loop->call_exception_handler(
          {"protocol.pause_writing() failed", std::current_exception(), std::nullopt, repr()});
    }
  }
  void maybe_resume_protocol() {
    if (!m_protocol_paused || m_buffer_size > m_low) return;
    m_protocol_paused = false;
    try {
      m_protocol->resume_writing();
    } catch (...) {
      if (detail::is_exit_exception(std::current_exception())) throw;
      m_loop->call_exception_handler(
          {"protocol.resume_writing() failed", std::current_exception(), std::nullopt, repr()});
    }
  }

  /// Python's _fatal_error: reports what is not an OSError, then closes at once.
  void fatal_error(const std::exception_ptr& exc, const char* message) {
    detail::report_transport_error(*m_loop, exc, message, this);
    force_close(exc);
  }

  /// Python's _force_close.
  void force_close(std::exception_ptr exc) {
    if (m_conn_lost != 0) return;
    if (!m_buffer.empty()) {
      m_buffer.clear();
      m_buffer_size = 0;  // (Python 3.11 leaves its count as it was)
      remove_writer();
    }
    if (!m_closing) {
      m_closing = true;
      remove_reader();
    }
    ++m_conn_lost;
    schedule_connection_lost(std::move(exc));
  }

  void schedule_connection_lost(std::exception_ptr exc) {
    m_loop->call_soon(
        [self = shared_self(), exc = std::move(exc)] { self->call_connection_lost(exc); });
  }

  /// Python's _call_connection_lost: tells the protocol, closes the socket, lets the protocol
  /// go. The caller's reference (a callback's) keeps the transport alive meanwhile.
  void call_connection_lost(std::exception_ptr exc) {
    if (m_sock.closed()) return;
    if (m_conn_lost == 0) ++m_conn_lost;  // (Python leaves 0 after a drained close())
    const std::shared_ptr<DatagramProtocol> protocol = std::move(m_protocol);
    struct Finally {
      SelectorDatagramTransport* t;
      ~Finally() {
        t->remove_reader();
        t->remove_writer();
        try {
          t->m_sock.close();
        } catch (...) {  // NOLINT(bugprone-empty-catch): the descriptor is released either way
        }
      }
    } finally{this};
    if (protocol) protocol->connection_lost(std::move(exc));
  }

  EventLoop* m_loop;
  Socket m_sock;
  int m_fd;
  std::shared_ptr<DatagramProtocol> m_protocol;
  std::optional<Address> m_address;  // the remote_addr given, resolved: Python's _address
  bool m_connected = false;          // the socket has a peer: Python's _extra['peername']
  std::deque<Pending> m_buffer;
  std::size_t m_buffer_size = 0;  // the bytes of data in m_buffer
  std::size_t m_high = kDefaultHighWater;
  std::size_t m_low = kDefaultHighWater / 4;
  int m_conn_lost = 0;
  bool m_closing = false;
  bool m_protocol_paused = false;
  bool m_reading = false;
  bool m_writing = false;
};

// ---- create_datagram_endpoint ------------------------------------------------------------------

/// One way to make the endpoint: the socket's family and protocol, and the addresses to bind
/// and connect it to (Python's addr_pairs_info).
struct AddrPair {
  int family;
  int proto;
  std::optional<Address> local;
  std::optional<Address> remote;
};

/// Python's _ensure_resolved for a datagram socket: a numeric host as it is (_ipaddr_info),
/// a name through getaddrinfo on the executor.
Task<std::vector<AddrInfo>> ensure_resolved(EventLoop& loop, InetAddress address, int family,
                                            int proto, int flags) {
  if ((proto == 0 || proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
      address.host.find('%') == std::string::npos) {
    std::vector<int> families{family};
    if (family == AF_UNSPEC) families = {AF_INET, AF_INET6};
    for (const int af : families) {
      unsigned char numeric[sizeof(in6_addr)];
      if (::inet_pton(af, address.host.c_str(), numeric) == 1) {
        co_return std::vector<AddrInfo>{AddrInfo{af, SOCK_DGRAM, IPPROTO_UDP, "", address}};
      }
    }
  }
  std::optional<std::string> host = address.host;
  std::optional<std::string> port = std::to_string(address.port);
  const GetAddrInfoOptions options{
      .family = family, .type = SOCK_DGRAM, .proto = proto, .flags = flags};
  auto resolving = getaddrinfo(loop, std::move(host), std::move(port), options);
  co_return co_await std::move(resolving);
}

/// Python's check that sock comes alone: the message names the other arguments given.
void check_sock_alone(const std::optional<Address>& local_addr,
                      const std::optional<Address>& remote_addr,
                      const DatagramEndpointOptions& options) {
  std::vector<std::string> problems;
  if (truthy(local_addr)) problems.push_back("local_addr=" + address_str(*local_addr));
  if (truthy(remote_addr)) problems.push_back("remote_addr=" + address_str(*remote_addr));
  if (options.family != 0) problems.push_back(fmt::format("family={}", options.family));
  if (options.proto != 0) problems.push_back(fmt::format("proto={}", options.proto));
  if (options.flags != 0) problems.push_back(fmt::format("flags={}", options.flags));
  if (options.reuse_port) problems.emplace_back("reuse_port=True");
  if (options.allow_broadcast) problems.emplace_back("allow_broadcast=True");
  if (problems.empty()) return;
  throw ValueError(
      fmt::format("socket modifier keyword arguments can not be used when sock is specified. ({})",
                  fmt::join(problems, ", ")));
}

/// Python removes a stale socket file before binding an AF_UNIX datagram socket to its path.
void remove_stale_unix_socket(EventLoop& loop, const std::string& path) {
  struct stat st {};
  const bool failed =
      ::stat(path.c_str(), &st) != 0 || (S_ISSOCK(st.st_mode) && ::unlink(path.c_str()) != 0);
  if (!failed || errno == ENOENT) return;
  // Python logs it and goes on (the directory may allow only the socket's creation).
  loop.call_exception_handler(
      {fmt::format("Unable to check or remove stale UNIX socket {}", py_repr(path)),
       make_os_error(errno, path), std::nullopt});
}

/// Python's addr_pairs_info for internet addresses: each address resolved, the answers
/// paired by (family, proto), keeping the pairs that have every address given.
Task<std::vector<AddrPair>> inet_pairs(EventLoop& loop, const std::optional<Address>& local_addr,
                                       const std::optional<Address>& remote_addr,
                                       const DatagramEndpointOptions& options) {
  std::vector<AddrPair> pairs;  // in the order Python's dict keeps
  for (int idx = 0; idx < 2; ++idx) {
    const std::optional<Address>& addr = idx == 0 ? local_addr : remote_addr;
    if (!addr) continue;
    const auto* inet = std::get_if<InetAddress>(&*addr);
    if (inet == nullptr || inet->flowinfo != 0 || inet->scope_id != 0) {
      throw TypeError("2-tuple is expected");
    }
    auto resolving = ensure_resolved(loop, *inet, options.family, options.proto, options.flags);
    const std::vector<AddrInfo> infos = co_await std::move(resolving);
    if (infos.empty()) throw OSError("getaddrinfo() returned empty list");
    for (const AddrInfo& info : infos) {
      auto it = std::find_if(pairs.begin(), pairs.end(), [&](const AddrPair& p) {
        return p.family == info.family && p.proto == info.proto;
      });
      if (it == pairs.end()) {
        pairs.push_back(AddrPair{info.family, info.proto, std::nullopt, std::nullopt});
        it = pairs.end() - 1;
      }
      (idx == 0 ? it->local : it->remote) = info.sockaddr;  // the last answer wins, as in Python
    }
  }
  std::erase_if(pairs, [&](const AddrPair& p) {
    return (truthy(local_addr) && !p.local) || (truthy(remote_addr) && !p.remote);
  });
  if (pairs.empty()) throw ValueError("can not get address information");
  co_return pairs;
}

}  // namespace

Task<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<BaseProtocol>>>
detail::create_datagram_endpoint_impl(EventLoop& loop, AnyProtocolFactory factory,
                                      std::optional<Address> local_addr,
                                      std::optional<Address> remote_addr,
                                      DatagramEndpointOptions options) {
  std::optional<Socket> sock;
  std::optional<Address> r_addr;
  if (options.sock) {
    if (options.sock->type() != SOCK_DGRAM) {
      throw ValueError("A UDP Socket was expected, got " + socket_repr(*options.sock));
    }
    check_sock_alone(local_addr, remote_addr, options);
    options.sock->setblocking(false);
    sock = std::move(options.sock);
  } else {
    std::vector<AddrPair> pairs;
    if (!truthy(local_addr) && !truthy(remote_addr)) {
      if (options.family == 0) throw ValueError("unexpected address family");
      pairs.push_back(AddrPair{options.family, options.proto, std::nullopt, std::nullopt});
    } else if (options.family == AF_UNIX) {
      for (const auto* addr : {&local_addr, &remote_addr}) {
        if (*addr && !std::holds_alternative<std::string>(**addr)) {
          throw TypeError("string is expected");
        }
      }
      if (truthy(local_addr)) {
        const auto& path = std::get<std::string>(*local_addr);
        if (path[0] != '\0') remove_stale_unix_socket(loop, path);
      }
      pairs.push_back(AddrPair{options.family, options.proto, local_addr, remote_addr});
    } else {
      auto pairing = inet_pairs(loop, local_addr, remote_addr, options);
      pairs = co_await std::move(pairing);
    }

    std::vector<std::exception_ptr> exceptions;
    for (AddrPair& pair : pairs) {
      try {
        Socket candidate(pair.family, SOCK_DGRAM, pair.proto);
        if (options.reuse_port) {
          try {
            candidate.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
          } catch (const OSError&) {
            throw ValueError(
                "reuse_port not supported by socket module, SO_REUSEPORT defined but not "
                "implemented.");
          }
        }
        if (options.allow_broadcast) candidate.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
        candidate.setblocking(false);
        if (truthy(local_addr)) candidate.bind(*pair.local);
        if (truthy(remote_addr)) {
          if (!options.allow_broadcast) {
            auto connecting = sock_connect(loop, candidate, *pair.remote);
            co_await std::move(connecting);
          }
          r_addr = *pair.remote;
        }
        sock = std::move(candidate);
        break;
      } catch (const OSError&) {
        exceptions.push_back(std::current_exception());
        r_addr.reset();
      }
    }
    if (!sock) std::rethrow_exception(exceptions.front());
  }

  std::shared_ptr<BaseProtocol> protocol = factory();
  auto datagram_protocol = std::dynamic_pointer_cast<DatagramProtocol>(protocol);
  if (!datagram_protocol) {
    throw TypeError("create_datagram_endpoint() needs a factory of DatagramProtocol");
  }
  Future<void> waiter(loop);
  auto transport = std::make_shared<SelectorDatagramTransport>(
      loop, std::move(*sock), std::move(datagram_protocol), std::move(r_addr));
  transport->start(waiter);
  try {
    co_await waiter;
  } catch (...) {
    transport->close();
    throw;
  }
  co_return std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<BaseProtocol>>(
      std::move(transport), std::move(protocol));
}

}  // namespace batteries::asyncio
