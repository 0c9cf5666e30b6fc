// asyncio's transports and protocols, and the loop methods that make them: create_connection,
// create_server, the Unix variants, connect_accepted_socket, create_datagram_endpoint.
//
//   class P(asyncio.Protocol): ...            struct P : asyncio::Protocol { ... overrides ... };
//   protocol.connection_made(transport)       void connection_made(std::shared_ptr<Transport>)
//   protocol.data_received(data)              void data_received(std::string_view data)
//   protocol.eof_received()                   bool eof_received()
//   protocol.connection_lost(exc)             void connection_lost(std::exception_ptr exc)
//   transport.write(data)                     transport->write(data)
//   transport.get_extra_info('peername')
//   std::any_cast<Address>(transport->get_extra_info("peername")) await loop.create_connection(P,
//   h, p)     co_await create_connection(loop, factory, h, p) await loop.create_server(P, h, p)
//   co_await create_server(loop, factory, h, p)
//
// A protocol factory is any callable returning std::shared_ptr<P> (P a Protocol,
// BufferedProtocol or DatagramProtocol): `[] { return std::make_shared<Echo>(); }`. The loop
// methods return the transport and the protocol as shared_ptrs, typed as the factory's P.
//
// Lifetimes. A transport lives while it is open: the loop keeps it until connection_lost()
// has run, and anyone may hold a shared_ptr to it longer (its methods then do nothing, as
// Python's do on a closed transport). A transport holds its protocol until connection_lost()
// returns, then lets it go, so a protocol may keep its transport's shared_ptr without a
// reference cycle.
//
// Differences from Python:
//   - data_received() gets a std::string_view into the loop's read buffer, valid until it
//     returns: copy what must be kept (Python hands over a new bytes object each time).
//   - get_extra_info() returns a std::any: "peername" and "sockname" hold an Address,
//     "socket" a Socket* (the transport's own socket: do not close it), "ssl_object" an
//     ssl::SSLObject*, "peercert" an ssl::PeerCertificate, "cipher" an ssl::Cipher,
//     "sslcontext" a std::shared_ptr<ssl::SSLContext>. An unknown name gives the default.
//   - Python's abstract methods raise NotImplementedError here too, from the base classes.
//   - Connections set TCP_NODELAY, as Python's do.
//
// Thread-safety: transports, protocols and servers belong to their loop's thread.
#pragma once

#include <batteries/asyncio/sockets.hpp>
#include <batteries/asyncio/task.hpp>
#include <batteries/errors.hpp>

#include <any>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries::ssl {
class SSLContext;
}

namespace batteries::asyncio {

class EventLoop;
class Transport;
class DatagramTransport;
class SubprocessTransport;

// ---- protocols --------------------------------------------------------------------------------

/// Python's asyncio.BaseProtocol: what every protocol is told.
class BaseProtocol {
 public:
  virtual ~BaseProtocol() = default;
  /// The connection is closed: exc is null for EOF or close(), else the error that ended it.
  virtual void connection_lost(std::exception_ptr exc) { (void)exc; }
  /// The transport's write buffer went over its high-water mark.
  virtual void pause_writing() {}
  /// The transport's write buffer drained to its low-water mark.
  virtual void resume_writing() {}
};

/// Python's asyncio.Protocol: a stream protocol that receives data as it arrives.
class Protocol : public BaseProtocol {
 public:
  virtual void connection_made(std::shared_ptr<Transport> transport) { (void)transport; }
  /// Some data arrived. The view is valid only during the call.
  virtual void data_received(std::string_view data) { (void)data; }
  /// The peer sent EOF. Returning false closes the transport; true keeps it open for
  /// writing (then the protocol closes it).
  virtual bool eof_received() { return false; }
};

/// Python's asyncio.BufferedProtocol: the protocol lends the buffer that data is read into.
class BufferedProtocol : public BaseProtocol {
 public:
  virtual void connection_made(std::shared_ptr<Transport> transport) { (void)transport; }
  /// A buffer to read into, of at least one byte; sizehint is -1 when there is no hint.
  virtual std::span<char> get_buffer(std::ptrdiff_t sizehint) = 0;
  /// nbytes were written at the start of the last get_buffer()'s buffer.
  virtual void buffer_updated(std::size_t nbytes) = 0;
  virtual bool eof_received() { return false; }
};

/// Python's asyncio.DatagramProtocol.
class DatagramProtocol : public BaseProtocol {
 public:
  virtual void connection_made(std::shared_ptr<DatagramTransport> transport) { (void)transport; }
  /// A datagram arrived from addr. The view is valid only during the call.
  virtual void datagram_received(std::string_view data, const Address& addr) {
    (void)data;
    (void)addr;
  }
  /// A send or receive failed with an OSError (ICMP "connection refused", say); the
  /// transport stays open.
  virtual void error_received(std::exception_ptr exc) { (void)exc; }
};

/// Python's asyncio.SubprocessProtocol.
class SubprocessProtocol : public BaseProtocol {
 public:
  virtual void connection_made(std::shared_ptr<SubprocessTransport> transport) { (void)transport; }
  /// The child wrote data to its stdout (fd 1) or stderr (fd 2).
  virtual void pipe_data_received(int fd, std::string_view data) {
    (void)fd;
    (void)data;
  }
  /// One of the child's pipes closed.
  virtual void pipe_connection_lost(int fd, std::exception_ptr exc) {
    (void)fd;
    (void)exc;
  }
  /// The child exited.
  virtual void process_exited() {}
};

// ---- transports -------------------------------------------------------------------------------

/// Python's asyncio.BaseTransport.
class BaseTransport : public std::enable_shared_from_this<BaseTransport> {
 public:
  BaseTransport() = default;
  BaseTransport(const BaseTransport&) = delete;
  BaseTransport& operator=(const BaseTransport&) = delete;
  virtual ~BaseTransport() = default;

  /// Python's get_extra_info(name, default=None): see the header's comment for the names.
  [[nodiscard]] virtual std::any get_extra_info(std::string_view name,
                                                std::any default_ = {}) const;
  /// Whether close() (or abort()) was called, or the connection was lost.
  [[nodiscard]] virtual bool is_closing() const { throw NotImplementedError("is_closing"); }
  /// Closes the transport: buffered data is still sent, then connection_lost(nullptr) runs
  /// (soon, never inside close()). Closing again does nothing.
  virtual void close() { throw NotImplementedError("close"); }
  /// Replaces the protocol (start_tls does this). TypeError when it is the wrong kind.
  virtual void set_protocol(std::shared_ptr<BaseProtocol> protocol) {
    (void)protocol;
    throw NotImplementedError("set_protocol");
  }
  [[nodiscard]] virtual std::shared_ptr<BaseProtocol> get_protocol() const {
    throw NotImplementedError("get_protocol");
  }
  /// Python's repr(): <_SelectorSocketTransport fd=7 read=polling write=<idle, bufsize=0>>.
  [[nodiscard]] virtual std::string repr() const { return "<BaseTransport>"; }

 protected:
  /// What get_extra_info() answers from, by default.
  std::vector<std::pair<std::string, std::any>> m_extra;
};

/// Python's asyncio.ReadTransport.
class ReadTransport : public virtual BaseTransport {
 public:
  [[nodiscard]] virtual bool is_reading() const { throw NotImplementedError("is_reading"); }
  /// Stops calling data_received() until resume_reading(). Does nothing when paused or
  /// closing (Python 3.7+).
  virtual void pause_reading() { throw NotImplementedError("pause_reading"); }
  virtual void resume_reading() { throw NotImplementedError("resume_reading"); }
};

/// Python's asyncio.WriteTransport.
class WriteTransport : public virtual BaseTransport {
 public:
  /// Python's set_write_buffer_limits(high=None, low=None): the defaults are 64 KiB and
  /// high / 4 (or high = 4 * low when only low is given). ValueError unless high >= low >= 0.
  virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                       std::optional<std::size_t> low = std::nullopt) {
    (void)high;
    (void)low;
    throw NotImplementedError("set_write_buffer_limits");
  }
  [[nodiscard]] virtual std::size_t get_write_buffer_size() const {
    throw NotImplementedError("get_write_buffer_size");
  }
  /// (low, high), as Python's tuple.
  [[nodiscard]] virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const {
    throw NotImplementedError("get_write_buffer_limits");
  }
  /// Sends data (raw bytes), buffering what the socket does not take now. Never blocks.
  /// RuntimeError after write_eof().
  virtual void write(std::string_view data) {
    (void)data;
    throw NotImplementedError("write");
  }
  /// Python's writelines(list_of_data): the pieces in order, in one system call when it can.
  virtual void writelines(std::span<const std::string_view> pieces) {
    for (const std::string_view piece : pieces) write(piece);
  }
  void writelines(std::initializer_list<std::string_view> pieces) {
    writelines(std::span<const std::string_view>(pieces.begin(), pieces.size()));
  }
  /// Closes the write side once the buffer is sent (shutdown(SHUT_WR)).
  virtual void write_eof() { throw NotImplementedError("write_eof"); }
  [[nodiscard]] virtual bool can_write_eof() const { throw NotImplementedError("can_write_eof"); }
  /// Closes at once, dropping buffered data; connection_lost(nullptr) runs soon.
  virtual void abort() { throw NotImplementedError("abort"); }
};

/// Python's asyncio.Transport: a bidirectional stream (TCP, Unix, TLS, pipes).
class Transport : public ReadTransport, public WriteTransport {};

/// Python's asyncio.DatagramTransport.
class DatagramTransport : public BaseTransport {
 public:
  /// Sends one datagram to addr (nullopt: the connected peer). Never blocks: it is buffered
  /// if the socket cannot take it now. ValueError for an address on a connected endpoint
  /// that differs from its peer.
  virtual void sendto(std::string_view data, const std::optional<Address>& addr = std::nullopt) {
    (void)data;
    (void)addr;
    throw NotImplementedError("sendto");
  }
  virtual void abort() { throw NotImplementedError("abort"); }
  [[nodiscard]] virtual std::size_t get_write_buffer_size() const {
    throw NotImplementedError("get_write_buffer_size");
  }
  /// As WriteTransport's: pause_writing() above high, resume_writing() at low.
  virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                       std::optional<std::size_t> low = std::nullopt) {
    (void)high;
    (void)low;
    throw NotImplementedError("set_write_buffer_limits");
  }
  /// (low, high).
  [[nodiscard]] virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const {
    throw NotImplementedError("get_write_buffer_limits");
  }
};

/// Python's asyncio.SubprocessTransport.
class SubprocessTransport : public BaseTransport {
 public:
  [[nodiscard]] virtual int get_pid() const { throw NotImplementedError("get_pid"); }
  /// nullopt while it runs; the exit status, or -N after signal N.
  [[nodiscard]] virtual std::optional<int> get_returncode() const {
    throw NotImplementedError("get_returncode");
  }
  /// The transport of the child's stdin (0), stdout (1) or stderr (2), or null.
  [[nodiscard]] virtual std::shared_ptr<Transport> get_pipe_transport(int fd) const {
    (void)fd;
    throw NotImplementedError("get_pipe_transport");
  }
  virtual void send_signal(int signal) {
    (void)signal;
    throw NotImplementedError("send_signal");
  }
  virtual void terminate() { throw NotImplementedError("terminate"); }
  virtual void kill() { throw NotImplementedError("kill"); }
};

// ---- servers ----------------------------------------------------------------------------------

namespace detail {
class ServerState;
}

/// Python's asyncio.Server: the listening sockets of create_server() / start_server(). A
/// handle: copies refer to the same server. It stays open until close(), even when every
/// handle is gone, as the loop keeps it.
class Server {
 public:
  explicit Server(std::shared_ptr<detail::ServerState> state) noexcept
      : m_state(std::move(state)) {}

  [[nodiscard]] EventLoop& get_loop() const;
  /// Stops listening and closes the sockets. The connections stay open. Closing again does
  /// nothing.
  void close();
  /// Waits until the server is closed and every connection it accepted has closed (Python
  /// 3.12's behaviour; 3.11 returned as soon as close() had run).
  Task<void> wait_closed();
  /// Starts accepting, if it is not already (start_serving=false leaves it off).
  Task<void> start_serving();
  /// Accepts until cancelled; then closes the server, waits for it, and raises the
  /// CancelledError. RuntimeError when closed, or when serve_forever() already runs.
  Task<void> serve_forever();
  [[nodiscard]] bool is_serving() const;
  /// The listening sockets; empty once closed.
  [[nodiscard]] const std::vector<Socket>& sockets() const;
  /// `async with server: body`: runs body in place, then closes the server and waits for
  /// wait_closed(), whether body returned or raised.
  template <class T>
  Task<T> run(Task<T> body) {
    std::exception_ptr error;
    std::optional<detail::value_or_none<T>> value;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        value.emplace();
      } else {
        value.emplace(co_await std::move(body));
      }
    } catch (...) {
      error = std::current_exception();
    }
    close();
    co_await wait_closed();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
  }
  /// Python's repr(): <Server sockets=(<socket ...>,)>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

  [[nodiscard]] const std::shared_ptr<detail::ServerState>& state() const noexcept {
    return m_state;
  }

 private:
  std::shared_ptr<detail::ServerState> m_state;
};

// ---- options ----------------------------------------------------------------------------------

/// TLS settings shared by the loop methods. ssl null means plain TCP.
struct TlsOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};  // default 60 s
  std::optional<double> ssl_shutdown_timeout = {};   // default 30 s
};

/// Python's loop.create_connection() keyword arguments.
struct CreateConnectionOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};  ///< TLS when set (ssl=True: create_default_context())
  int family = 0;
  int proto = 0;
  int flags = 0;
  std::optional<Socket> sock = {};  ///< an already connected socket (then no host or port)
  std::optional<Address> local_addr = {};
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  std::optional<double> happy_eyeballs_delay = {};  ///< RFC 8305; Python recommends 0.25
  std::optional<int> interleave = {};               ///< 1 when happy_eyeballs_delay is set
};

/// Python's loop.create_server() keyword arguments.
struct CreateServerOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};
  int family = 0;                   ///< AF_UNSPEC: every address host resolves to
  int flags = 1;                    ///< AI_PASSIVE
  std::optional<Socket> sock = {};  ///< an already bound socket (then no host or port)
  int backlog = 100;
  std::optional<bool> reuse_address = {};  ///< default true on POSIX
  bool reuse_port = false;
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  bool start_serving = true;
};

/// Python's loop.create_unix_connection() keyword arguments.
struct CreateUnixConnectionOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<Socket> sock = {};
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
};

/// Python's loop.create_unix_server() keyword arguments.
struct CreateUnixServerOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<Socket> sock = {};
  int backlog = 100;
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  bool start_serving = true;
};

/// Python's loop.connect_accepted_socket() keyword arguments.
struct ConnectAcceptedSocketOptions {
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
};

/// Python's loop.create_datagram_endpoint() keyword arguments.
struct DatagramEndpointOptions {
  int family = 0;
  int proto = 0;
  int flags = 0;
  bool reuse_port = false;
  bool allow_broadcast = false;
  std::optional<Socket> sock = {};
};

/// Python's loop.start_tls() keyword arguments.
struct StartTlsOptions {
  bool server_side = false;
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
};

// ---- the loop methods -------------------------------------------------------------------------

/// A protocol factory for P: a callable returning std::shared_ptr<P>.
template <class F, class P>
concept ProtocolFactoryOf =
    std::invocable<F&> && std::convertible_to<std::invoke_result_t<F&>, std::shared_ptr<P>>;

template <class F>
using factory_protocol_t = typename std::invoke_result_t<F&>::element_type;

namespace detail {
using AnyProtocolFactory = std::function<std::shared_ptr<BaseProtocol>()>;
using StreamPair = std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>;

Task<StreamPair> create_connection_impl(EventLoop& loop, AnyProtocolFactory factory,
                                        std::optional<std::string> host, std::optional<int> port,
                                        CreateConnectionOptions options);
Task<Server> create_server_impl(EventLoop& loop, AnyProtocolFactory factory,
                                std::vector<std::string> hosts, std::optional<int> port,
                                CreateServerOptions options);
Task<StreamPair> create_unix_connection_impl(EventLoop& loop, AnyProtocolFactory factory,
                                             std::optional<std::string> path,
                                             CreateUnixConnectionOptions options);
Task<Server> create_unix_server_impl(EventLoop& loop, AnyProtocolFactory factory,
                                     std::optional<std::string> path,
                                     CreateUnixServerOptions options);
Task<StreamPair> connect_accepted_socket_impl(EventLoop& loop, AnyProtocolFactory factory,
                                              Socket sock, ConnectAcceptedSocketOptions options);
Task<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<BaseProtocol>>>
create_datagram_endpoint_impl(EventLoop& loop, AnyProtocolFactory factory,
                              std::optional<Address> local_addr, std::optional<Address> remote_addr,
                              DatagramEndpointOptions options);

/// [host], or [] for nullopt (out of line: GCC 12 warns falsely on the inline form).
std::vector<std::string> host_list(std::optional<std::string> host);

template <class F>
AnyProtocolFactory erase_factory(F factory) {
  return [factory = std::move(factory)]() mutable -> std::shared_ptr<BaseProtocol> {
    return factory();
  };
}

template <class P>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<P>>> typed_pair(Task<StreamPair> made) {
  auto [transport, protocol] = co_await std::move(made);
  co_return std::pair<std::shared_ptr<Transport>, std::shared_ptr<P>>(
      std::move(transport), std::static_pointer_cast<P>(std::move(protocol)));
}
}  // namespace detail

/// A factory of stream protocols (Protocol or BufferedProtocol).
template <class F>
concept StreamProtocolFactory = ProtocolFactoryOf<F, BaseProtocol> &&
    (std::derived_from<factory_protocol_t<F>, Protocol> ||
     std::derived_from<factory_protocol_t<F>, BufferedProtocol>);

/// Python's loop.create_connection(protocol_factory, host, port, **options): connects over
/// TCP (trying each address getaddrinfo gives, or racing them with happy_eyeballs_delay),
/// then makes the protocol and the transport. The errors are Python's: one failure is
/// raised as it is; several, as OSError("Multiple exceptions: ...").
template <StreamProtocolFactory F>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<factory_protocol_t<F>>>>
create_connection(EventLoop& loop, F protocol_factory, std::optional<std::string> host,
                  std::optional<int> port, CreateConnectionOptions options = {}) {
  return detail::typed_pair<factory_protocol_t<F>>(
      detail::create_connection_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                     std::move(host), port, std::move(options)));
}

/// Python's loop.create_server(protocol_factory, host, port, **options). host nullopt or ""
/// listens on every interface (IPv4 and IPv6); a host that resolves to several addresses
/// gets a socket each. IPv6 sockets are IPV6_V6ONLY, as Python's.
template <StreamProtocolFactory F>
Task<Server> create_server(EventLoop& loop, F protocol_factory,
                           std::optional<std::string> host = std::nullopt,
                           std::optional<int> port = std::nullopt,
                           CreateServerOptions options = {}) {
  return detail::create_server_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                    detail::host_list(std::move(host)), port, std::move(options));
}
/// The same with several hosts (Python's sequence of hosts).
template <StreamProtocolFactory F>
Task<Server> create_server(EventLoop& loop, F protocol_factory, std::vector<std::string> hosts,
                           std::optional<int> port, CreateServerOptions options = {}) {
  return detail::create_server_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                    std::move(hosts), port, std::move(options));
}

/// Python's loop.create_unix_connection(protocol_factory, path=None, **options).
template <StreamProtocolFactory F>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<factory_protocol_t<F>>>>
create_unix_connection(EventLoop& loop, F protocol_factory, std::optional<std::string> path,
                       CreateUnixConnectionOptions options = {}) {
  return detail::typed_pair<factory_protocol_t<F>>(
      detail::create_unix_connection_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                          std::move(path), std::move(options)));
}

/// Python's loop.create_unix_server(protocol_factory, path=None, **options). A stale socket
/// file at path is removed first, as Python does.
template <StreamProtocolFactory F>
Task<Server> create_unix_server(EventLoop& loop, F protocol_factory,
                                std::optional<std::string> path,
                                CreateUnixServerOptions options = {}) {
  return detail::create_unix_server_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                         std::move(path), std::move(options));
}

/// Python's loop.connect_accepted_socket(protocol_factory, sock, **options): wraps a socket
/// accepted elsewhere.
template <StreamProtocolFactory F>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<factory_protocol_t<F>>>>
connect_accepted_socket(EventLoop& loop, F protocol_factory, Socket sock,
                        ConnectAcceptedSocketOptions options = {}) {
  return detail::typed_pair<factory_protocol_t<F>>(
      detail::connect_accepted_socket_impl(loop, detail::erase_factory(std::move(protocol_factory)),
                                           std::move(sock), std::move(options)));
}

namespace detail {
template <class P>
Task<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<P>>> typed_datagram_pair(
    Task<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<BaseProtocol>>> made) {
  auto [transport, protocol] = co_await std::move(made);
  co_return std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<P>>(
      std::move(transport), std::static_pointer_cast<P>(std::move(protocol)));
}
}  // namespace detail

/// Python's loop.create_datagram_endpoint(protocol_factory, local_addr=None,
/// remote_addr=None, **options): a UDP (or AF_UNIX datagram) endpoint.
template <class F>
requires ProtocolFactoryOf<F, DatagramProtocol>
    Task<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<factory_protocol_t<F>>>>
    create_datagram_endpoint(EventLoop& loop, F protocol_factory,
                             std::optional<Address> local_addr = std::nullopt,
                             std::optional<Address> remote_addr = std::nullopt,
                             DatagramEndpointOptions options = {}) {
  return detail::typed_datagram_pair<factory_protocol_t<F>>(detail::create_datagram_endpoint_impl(
      loop, detail::erase_factory(std::move(protocol_factory)), std::move(local_addr),
      std::move(remote_addr), std::move(options)));
}

/// Python's loop.start_tls(transport, protocol, sslcontext, **options): upgrades an open
/// stream connection to TLS and returns the new transport, which protocol now uses. The old
/// transport must not be used again. ssl.SSLError (or TimeoutError) when the handshake fails.
Task<std::shared_ptr<Transport>> start_tls(EventLoop& loop, std::shared_ptr<Transport> transport,
                                           std::shared_ptr<BaseProtocol> protocol,
                                           std::shared_ptr<ssl::SSLContext> sslcontext,
                                           StartTlsOptions options = {});

}  // namespace batteries::asyncio
