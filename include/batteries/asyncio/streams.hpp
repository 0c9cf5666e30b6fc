// asyncio streams: StreamReader, StreamWriter, open_connection and start_server.
//
//   reader, writer = await asyncio.open_connection(h, p)
//                                        auto [reader, writer] = co_await open_connection(h, p);
//   await asyncio.start_server(cb, h, p)    co_await start_server(cb, h, p)
//   async def cb(reader, writer): ...       [](StreamReader r, StreamWriter w) -> Task<void> {...}
//   await reader.read(100)                  co_await reader.read(100)
//   await reader.readline()                 co_await reader.readline()
//   await reader.readexactly(n)             co_await reader.readexactly(n)
//   await reader.readuntil(b'\r\n')         co_await reader.readuntil("\r\n")
//   writer.write(data); await writer.drain()
//                                           writer.write(data); co_await writer.drain();
//   writer.close(); await writer.wait_closed()
//                                           writer.close(); co_await writer.wait_closed();
//
// StreamReader and StreamWriter are handles: copies refer to the same stream, as Python's
// variables refer to the same object. Data is raw bytes in std::string.
//
// Flow control works both ways, as in Python: a reader whose buffer holds more than twice its
// limit pauses the transport's reading until it is read down to the limit; drain() waits
// while the transport's write buffer is above its high-water mark (64 KiB by default), so a
// peer that does not read stops the writer instead of growing its memory.
//
// Cancellation: a cancelled read leaves the data in the reader's buffer, and the stream
// usable. A cancelled drain() leaves the data in the transport's buffer.
//
// Thread-safety: streams belong to their loop's thread.
#pragma once

#include <batteries/asyncio/task.hpp>
#include <batteries/asyncio/transports.hpp>
#include <batteries/errors.hpp>

#include <any>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries::asyncio {

/// Python's streams._DEFAULT_LIMIT: 64 KiB.
inline constexpr std::size_t kDefaultStreamLimit = 64 * 1024;

namespace detail {
class StreamReaderState;
class FlowControl;
class StreamReaderProtocol;
}  // namespace detail

/// Python's asyncio.StreamReader.
class StreamReader {
 public:
  /// A new reader with no transport yet (Python's StreamReader(limit=..., loop=...)): data
  /// comes through feed_data(). ValueError("Limit cannot be <= 0") for limit 0.
  explicit StreamReader(std::size_t limit = kDefaultStreamLimit, EventLoop* loop = nullptr);
  explicit StreamReader(std::shared_ptr<detail::StreamReaderState> state) noexcept
      : m_state(std::move(state)) {}

  /// Python's read(n=-1): up to n bytes, waiting for at least one; "" at EOF (or n == 0).
  /// n < 0 reads until EOF.
  Task<std::string> read(std::ptrdiff_t n = -1);
  /// Python's readline(): up to and including "\n", or what is left at EOF. ValueError when
  /// the line is longer than the limit (the line is dropped, as Python does).
  Task<std::string> readline();
  /// Python's readexactly(n): exactly n bytes, or IncompleteReadError (with .partial) at EOF.
  Task<std::string> readexactly(std::size_t n);
  /// Python's readuntil(separator=b'\n'): up to and including separator.
  /// IncompleteReadError at EOF; LimitOverrunError when no separator is within the limit
  /// (the data stays in the buffer). ValueError for an empty separator.
  Task<std::string> readuntil(std::string_view separator = "\n");
  /// True when the buffer is empty and EOF was fed.
  [[nodiscard]] bool at_eof() const;
  /// The exception set by set_exception(), or null.
  [[nodiscard]] std::exception_ptr exception() const;

  // ---- the protocol side (public in Python too) -------------------------------------------
  void feed_data(std::string_view data);
  void feed_eof();
  void set_exception(std::exception_ptr exc);
  void set_transport(std::shared_ptr<Transport> transport);

  /// Python's repr(): <StreamReader 12 bytes eof transport=<...>>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
  [[nodiscard]] const std::shared_ptr<detail::StreamReaderState>& state() const noexcept {
    return m_state;
  }

 private:
  std::shared_ptr<detail::StreamReaderState> m_state;
};

namespace detail {
/// What the copies of a StreamWriter share (start_tls() replaces the transport for all).
struct StreamWriterState {
  std::shared_ptr<Transport> transport;
  std::shared_ptr<FlowControl> protocol;
  std::optional<StreamReader> reader;
  EventLoop* loop;
};
}  // namespace detail

/// Python's asyncio.StreamWriter: a transport with drain() and wait_closed().
class StreamWriter {
 public:
  /// Python's StreamWriter(transport, protocol, reader, loop); protocol gives drain() its
  /// flow control (a StreamReaderProtocol, or the subprocess pipes' protocol).
  StreamWriter(std::shared_ptr<Transport> transport, std::shared_ptr<detail::FlowControl> protocol,
               std::optional<StreamReader> reader, EventLoop& loop);

  [[nodiscard]] const std::shared_ptr<Transport>& transport() const noexcept {
    return m_state->transport;
  }
  /// Writes data (raw bytes) to the transport; call drain() after it.
  void write(std::string_view data) { m_state->transport->write(data); }
  void writelines(std::span<const std::string_view> pieces) {
    m_state->transport->writelines(pieces);
  }
  void writelines(std::initializer_list<std::string_view> pieces) {
    m_state->transport->writelines(pieces);
  }
  [[nodiscard]] bool can_write_eof() const { return m_state->transport->can_write_eof(); }
  void write_eof() { m_state->transport->write_eof(); }
  /// Closes the transport (see wait_closed()).
  void close() { m_state->transport->close(); }
  [[nodiscard]] bool is_closing() const { return m_state->transport->is_closing(); }
  /// Waits until the connection is closed; raises the error that closed it, if any.
  Task<void> wait_closed();
  /// Waits until the transport's write buffer is under its high-water mark. Raises the
  /// reader's exception, ConnectionResetError("Connection lost") once the connection is
  /// lost, and yields once when the transport is closing (as Python 3.11 does).
  Task<void> drain();
  [[nodiscard]] std::any get_extra_info(std::string_view name, std::any default_ = {}) const {
    return m_state->transport->get_extra_info(name, std::move(default_));
  }
  /// Python 3.11's start_tls(sslcontext, *, server_hostname=None, ssl_handshake_timeout=None):
  /// upgrades the connection to TLS in place (every copy of this writer uses the new
  /// transport).
  Task<void> start_tls(std::shared_ptr<ssl::SSLContext> sslcontext,
                       std::optional<std::string> server_hostname = std::nullopt,
                       std::optional<double> ssl_handshake_timeout = std::nullopt);
  /// Python's repr(): <StreamWriter transport=<...> reader=<...>>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 private:
  std::shared_ptr<detail::StreamWriterState> m_state;
};

namespace detail {

/// Python's FlowControlMixin: pause_writing / resume_writing / connection_lost bookkeeping
/// that StreamWriter.drain() and wait_closed() wait on.
class FlowControl {
 public:
  explicit FlowControl(EventLoop& loop) noexcept : m_loop(&loop) {}
  virtual ~FlowControl();
  FlowControl(const FlowControl&) = delete;
  FlowControl& operator=(const FlowControl&) = delete;

  /// pause_writing(), resume_writing() and connection_lost() of the protocol.
  void flow_pause() noexcept { m_paused = true; }
  void flow_resume() noexcept;
  void flow_lost(std::exception_ptr exc) noexcept;
  /// Whether a TLS start (StreamWriter::start_tls) should be the server side.
  [[nodiscard]] virtual bool is_server_side() const noexcept { return false; }
  /// StreamWriter::start_tls(): the protocol now writes through writer's new transport.
  virtual void replace_writer(const StreamWriter& writer) { (void)writer; }
  /// Waits while paused; ConnectionResetError("Connection lost") when lost.
  Task<void> drain_helper();
  /// Python's _get_close_waiter(stream): the future wait_closed() awaits, done (with the
  /// error, if any) once the connection is lost.
  [[nodiscard]] virtual Future<void> get_close_waiter() {
    throw NotImplementedError("get_close_waiter");
  }
  [[nodiscard]] EventLoop& loop() const noexcept { return *m_loop; }
  [[nodiscard]] bool connection_is_lost() const noexcept { return m_lost; }
  [[nodiscard]] bool writing_paused() const noexcept { return m_paused; }

 private:
  EventLoop* m_loop;
  std::vector<Future<void>> m_drain_waiters;
  bool m_paused = false;
  bool m_lost = false;
};

using ClientConnected = std::function<Task<void>(StreamReader, StreamWriter)>;

template <class F>
ClientConnected erase_client_connected(F cb) {
  if constexpr (std::is_same_v<std::invoke_result_t<F&, StreamReader, StreamWriter>, Task<void>>) {
    return ClientConnected(std::move(cb));
  } else {
    static_assert(std::is_void_v<std::invoke_result_t<F&, StreamReader, StreamWriter>>,
                  "client_connected_cb returns Task<void> (a coroutine) or void");
    // A plain function: Python calls it and schedules nothing.
    return [cb = std::move(cb)](StreamReader r, StreamWriter w) mutable -> Task<void> {
      cb(std::move(r), std::move(w));
      co_return;
    };
  }
}
}  // namespace detail

/// Python's open_connection(host, port, *, limit, ...) keyword arguments: limit and those of
/// create_connection().
struct OpenConnectionOptions {
  std::size_t limit = kDefaultStreamLimit;
  std::shared_ptr<ssl::SSLContext> ssl = {};
  int family = 0;
  int proto = 0;
  int flags = 0;
  std::optional<Socket> sock = {};
  std::optional<Address> local_addr = {};
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  std::optional<double> happy_eyeballs_delay = {};
  std::optional<int> interleave = {};
};

/// Python's start_server(cb, host, port, *, limit, ...) keyword arguments.
struct StartServerOptions {
  std::size_t limit = kDefaultStreamLimit;
  std::shared_ptr<ssl::SSLContext> ssl = {};
  int family = 0;
  int flags = 1;  // AI_PASSIVE
  std::optional<Socket> sock = {};
  int backlog = 100;
  std::optional<bool> reuse_address = {};
  bool reuse_port = false;
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  bool start_serving = true;
};

/// open_unix_connection / start_unix_server keyword arguments.
struct OpenUnixConnectionOptions {
  std::size_t limit = kDefaultStreamLimit;
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<Socket> sock = {};
  std::optional<std::string> server_hostname = {};
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
};
struct StartUnixServerOptions {
  std::size_t limit = kDefaultStreamLimit;
  std::shared_ptr<ssl::SSLContext> ssl = {};
  std::optional<Socket> sock = {};
  int backlog = 100;
  std::optional<double> ssl_handshake_timeout = {};
  std::optional<double> ssl_shutdown_timeout = {};
  bool start_serving = true;
};

/// A client_connected_cb: called with the reader and writer of each new connection; a
/// coroutine (returning Task<void>) runs as a task, as Python schedules it.
template <class F>
concept ClientConnectedCallback = std::invocable<F&, StreamReader, StreamWriter>;

/// Python's asyncio.open_connection(host, port, **options), on the running loop.
Task<std::pair<StreamReader, StreamWriter>> open_connection(
    std::optional<std::string> host = std::nullopt, std::optional<int> port = std::nullopt,
    OpenConnectionOptions options = {});

namespace detail {
Task<Server> start_server_impl(ClientConnected cb, std::vector<std::string> hosts,
                               std::optional<int> port, StartServerOptions options);
Task<Server> start_unix_server_impl(ClientConnected cb, std::optional<std::string> path,
                                    StartUnixServerOptions options);
}  // namespace detail

/// Python's asyncio.start_server(client_connected_cb, host, port, **options), on the
/// running loop. A task the callback returns is not awaited by the server; an exception it
/// ends with is reported through the loop's exception handler, and the connection closed.
template <ClientConnectedCallback F>
Task<Server> start_server(F client_connected_cb, std::optional<std::string> host = std::nullopt,
                          std::optional<int> port = std::nullopt, StartServerOptions options = {}) {
  return detail::start_server_impl(detail::erase_client_connected(std::move(client_connected_cb)),
                                   detail::host_list(std::move(host)), port, std::move(options));
}

/// Python's asyncio.open_unix_connection(path=None, **options).
Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(
    std::optional<std::string> path = std::nullopt, OpenUnixConnectionOptions options = {});

/// Python's asyncio.start_unix_server(client_connected_cb, path=None, **options).
template <ClientConnectedCallback F>
Task<Server> start_unix_server(F client_connected_cb,
                               std::optional<std::string> path = std::nullopt,
                               StartUnixServerOptions options = {}) {
  return detail::start_unix_server_impl(
      detail::erase_client_connected(std::move(client_connected_cb)), std::move(path),
      std::move(options));
}

}  // namespace batteries::asyncio
