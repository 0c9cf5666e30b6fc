// The socket stream transport, servers, and create_connection / create_server and their Unix
// variants: Python 3.11's selector_events._SelectorSocketTransport and base_events.
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/tasks.hpp>
#include <batteries/asyncio/transports.hpp>

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net.hpp"
#include "transport_impl.hpp"

namespace batteries::asyncio {

namespace {

// Python's default write-buffer limits.
constexpr std::size_t kDefaultHighWater = 64 * 1024;
// Python's ACCEPT_RETRY_DELAY: accept() pauses this long when out of descriptors.
constexpr double kAcceptRetryDelay = 1.0;

std::exception_ptr errno_exception(int err) {
  try {
    raise_os_error(err);
  } catch (...) {
    return std::current_exception();
  }
}

bool is_os_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const OSError&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_exit(const std::exception_ptr& e) { return detail::is_exit_exception(e); }

std::string exception_str(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

// ---- BaseTransport ---------------------------------------------------------------------------

std::any BaseTransport::get_extra_info(std::string_view name, std::any default_) const {
  for (const auto& [key, value] : m_extra) {
    if (key == name) return value;
  }
  return default_;
}

// ---- helpers shared with TLS and subprocesses --------------------------------------------------

namespace detail {

char* read_buffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer.reset(new char[kMaxReadSize]);
  return buffer.get();
}

bool is_stream_protocol(const BaseProtocol* protocol) noexcept {
  return dynamic_cast<const Protocol*>(protocol) != nullptr ||
         dynamic_cast<const BufferedProtocol*>(protocol) != nullptr;
}

void stream_connection_made(BaseProtocol& protocol, std::shared_ptr<Transport> transport) {
  if (auto* plain = dynamic_cast<Protocol*>(&protocol)) {
    plain->connection_made(std::move(transport));
  } else if (auto* buffered = dynamic_cast<BufferedProtocol*>(&protocol)) {
    buffered->connection_made(std::move(transport));
  } else {
    throw TypeError("a stream transport needs a Protocol or a BufferedProtocol");
  }
}

void report_transport_error(EventLoop& loop, const std::exception_ptr& exc,
                            const std::string& message, const BaseTransport* transport) {
  // Python logs OSErrors (a reset, a broken pipe) only in debug mode: they are the peer's doing.
  if (is_os_error(exc) && !loop.get_debug()) return;
  ExceptionContext context{message, exc, std::nullopt};
  if (transport != nullptr) {
    try {
      context.future = "transport: " + transport->repr();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the report goes without the name
    }
  }
  loop.call_exception_handler(context);
}

// ---- the socket transport ----------------------------------------------------------------------

/// Python's _SelectorSocketTransport.
class SocketTransport final : public Transport, private LoopResource {
 public:
  SocketTransport(EventLoop& loop, Socket sock, std::shared_ptr<ServerState> server)
      : m_loop(&loop),
        m_sock(std::move(sock)),
        m_fd(m_sock.fileno()),
        m_server(std::move(server)) {}

  /// Python's __init__ after the fields: connection_made, then reading.
  void start(const std::shared_ptr<SocketTransport>& self, std::shared_ptr<BaseProtocol> protocol,
             ExtraInfo extra) {
    m_extra = std::move(extra);
    auto add = [&](const char* name, auto get) {
      for (const auto& e : m_extra) {
        if (e.first == name) return;
      }
      try {
        m_extra.emplace_back(name, get());
      } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): Python stores None
      }
    };
    add("sockname", [&] { return m_sock.getsockname(); });
    add("peername", [&] { return m_sock.getpeername(); });
    m_extra.emplace_back("socket", &m_sock);
    if (m_sock.family() == AF_INET || m_sock.family() == AF_INET6) {
      const int one = 1;
      ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    set_protocol(std::move(protocol));
    m_self = self;
    m_loop->attach_resource(this);
    if (m_server) server_attach(m_server.get());
    m_protocol_connected = true;
    try {
      stream_connection_made(*m_protocol, self);
    } catch (...) {
      abort();
      throw;
    }
    if (!m_closing && !m_paused) add_reader();
  }

  // ---- BaseTransport ----
  [[nodiscard]] bool is_closing() const override { return m_closing; }
  void close() override {
    if (m_closing) return;
    m_closing = true;
    remove_reader();
    if (buffer_size() == 0) {
      ++m_conn_lost;
      remove_writer();
      schedule_connection_lost(nullptr);
    }
  }
  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    if (!protocol) throw TypeError("set_protocol() needs a protocol, got null");
    auto* plain = dynamic_cast<Protocol*>(protocol.get());
    auto* buffered = dynamic_cast<BufferedProtocol*>(protocol.get());
    if (plain == nullptr && buffered == nullptr) {
      throw TypeError("a socket transport needs a Protocol or a BufferedProtocol");
    }
    m_plain = buffered == nullptr ? plain : nullptr;
    m_buffered = buffered;
    m_protocol = std::move(protocol);
  }
  [[nodiscard]] std::shared_ptr<BaseProtocol> get_protocol() const override { return m_protocol; }
  [[nodiscard]] std::string repr() const override {
    std::string out = "<_SelectorSocketTransport";
    if (m_sock.closed()) {
      out += " closed";
    } else if (m_closing) {
      out += " closing";
    }
    out += fmt::format(" fd={}", m_fd);
    if (!m_sock.closed() && !m_loop->is_closed()) {
      out += m_reading ? " read=polling" : " read=idle";
      out += fmt::format(" write=<{}, bufsize={}>", m_writing ? "polling" : "idle", buffer_size());
    }
    return out + ">";
  }

  // ---- ReadTransport ----
  [[nodiscard]] bool is_reading() const override { return !m_paused && !m_closing; }
  void pause_reading() override {
    if (m_closing || m_paused) return;
    m_paused = true;
    remove_reader();
  }
  void resume_reading() override {
    if (m_closing || !m_paused) return;
    m_paused = false;
    add_reader();
  }

  // ---- WriteTransport ----
  void set_write_buffer_limits(std::optional<std::size_t> high,
                               std::optional<std::size_t> low) override {
    const std::size_t h = high ? *high : (low ? 4 * *low : kDefaultHighWater);
    const std::size_t l = low ? *low : h / 4;
    if (h < l) throw ValueError(fmt::format("high ({}) must be >= low ({}) must be >= 0", h, l));
    m_high = h;
    m_low = l;
    maybe_pause_protocol();
  }
  [[nodiscard]] std::size_t get_write_buffer_size() const override { return buffer_size(); }
  [[nodiscard]] std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override {
    return {m_low, m_high};
  }

  void write(std::string_view data) override {
    if (m_eof) throw RuntimeError("Cannot call write() after write_eof()");
    if (data.empty()) return;
    if (m_conn_lost != 0) {
      ++m_conn_lost;  // Python logs "socket.send() raised exception." from the 5th on
      return;
    }
    if (buffer_size() == 0) {
      const ssize_t n = ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        if (data.empty()) return;
      } else if (!would_block(errno)) {
        fatal_error(errno_exception(errno), "Fatal write error on socket transport");
        return;
      }
      add_writer();
    }
    append(data);
    maybe_pause_protocol();
  }

  void writelines(std::span<const std::string_view> pieces) override {
    if (m_eof) throw RuntimeError("Cannot call write() after write_eof()");
    if (m_conn_lost != 0 || buffer_size() != 0 || pieces.size() <= 1) {
      for (const std::string_view piece : pieces) write(piece);
      return;
    }
    // sendmsg() with up to 64 pieces at a time, until the socket takes less than it was
    // given; what is left (from piece i, offset bytes into it) is buffered.
    std::size_t i = 0;
    std::size_t offset = 0;
    while (i < pieces.size()) {
      constexpr std::size_t kMaxIov = 64;
      iovec iov[kMaxIov];
      std::size_t count = 0;
      std::size_t batch = 0;
      for (std::size_t j = i; j < pieces.size() && count < kMaxIov; ++j) {
        const std::string_view piece = j == i ? pieces[j].substr(offset) : pieces[j];
        if (piece.empty()) continue;
        iov[count].iov_base = const_cast<char*>(piece.data());
        iov[count].iov_len = piece.size();
        batch += piece.size();
        ++count;
      }
      if (count == 0) return;  // only empty pieces left
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      const ssize_t n = ::sendmsg(m_fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (would_block(errno)) break;
        fatal_error(errno_exception(errno), "Fatal write error on socket transport");
        return;
      }
      // Step over what was sent.
      auto sent = static_cast<std::size_t>(n);
      while (i < pieces.size() && sent >= pieces[i].size() - offset) {
        sent -= pieces[i].size() - offset;
        offset = 0;
        ++i;
      }
      offset += sent;
      if (static_cast<std::size_t>(n) < batch) break;
    }
    if (i == pieces.size()) return;
    add_writer();
    append(pieces[i].substr(offset));
    for (++i; i < pieces.size(); ++i) append(pieces[i]);
    maybe_pause_protocol();
  }

  void write_eof() override {
    if (m_closing || m_eof) return;
    m_eof = true;
    if (buffer_size() == 0) shutdown_write();
  }
  [[nodiscard]] bool can_write_eof() const override { return true; }
  void abort() override { force_close(nullptr); }

 private:
  [[nodiscard]] std::size_t buffer_size() const noexcept { return m_buffer.size() - m_buffer_pos; }

  void append(std::string_view data) {
    if (m_buffer_pos != 0 && m_buffer_pos == m_buffer.size()) {
      m_buffer.clear();
      m_buffer_pos = 0;
    }
    m_buffer.append(data);
  }

  void shutdown_write() noexcept { ::shutdown(m_fd, SHUT_WR); }

  void add_reader() {
    if (m_reading || m_sock.closed()) return;
    m_loop->add_reader(m_fd, [this] { read_ready(); });
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
    m_loop->add_writer(m_fd, [this] { write_ready(); });
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

  void read_ready() {
    if (m_conn_lost != 0) return;
    if (m_buffered != nullptr) {
      read_ready_buffered();
      return;
    }
    char* buf = read_buffer();
    const ssize_t n = ::recv(m_fd, buf, kMaxReadSize, 0);
    if (n < 0) {
      if (!would_block(errno)) {
        fatal_error(errno_exception(errno), "Fatal read error on socket transport");
      }
      return;
    }
    if (n == 0) {
      on_eof();
      return;
    }
    // The protocol may close or drop the transport meanwhile; the loop's reference holds.
    try {
      m_plain->data_received(std::string_view(buf, static_cast<std::size_t>(n)));
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      fatal_error(std::current_exception(), "Fatal error: protocol.data_received() call failed.");
    }
  }

  void read_ready_buffered() {
    std::span<char> buf;
    try {
      buf = m_buffered->get_buffer(-1);
      if (buf.empty()) throw RuntimeError("get_buffer() returned an empty buffer");
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      fatal_error(std::current_exception(), "Fatal error: protocol.get_buffer() call failed.");
      return;
    }
    const ssize_t n = ::recv(m_fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (!would_block(errno)) {
        fatal_error(errno_exception(errno), "Fatal read error on socket transport");
      }
      return;
    }
    if (n == 0) {
      on_eof();
      return;
    }
    try {
      m_buffered->buffer_updated(static_cast<std::size_t>(n));
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      fatal_error(std::current_exception(), "Fatal error: protocol.buffer_updated() call failed.");
    }
  }

  void on_eof() {
    bool keep_open = false;
    try {
      keep_open = m_plain != nullptr ? m_plain->eof_received() : m_buffered->eof_received();
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      fatal_error(std::current_exception(), "Fatal error: protocol.eof_received() call failed.");
      return;
    }
    if (keep_open) {
      remove_reader();
    } else {
      close();
    }
  }

  void write_ready() {
    if (m_conn_lost != 0) return;
    const std::size_t size = buffer_size();
    const ssize_t n = ::send(m_fd, m_buffer.data() + m_buffer_pos, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (would_block(errno)) return;
      const int err = errno;
      remove_writer();
      m_buffer.clear();
      m_buffer_pos = 0;
      fatal_error(errno_exception(err), "Fatal write error on socket transport");
      return;
    }
    m_buffer_pos += static_cast<std::size_t>(n);
    if (m_buffer_pos == m_buffer.size()) {
      m_buffer.clear();
      m_buffer_pos = 0;
    } else if (m_buffer_pos >= kMaxReadSize && m_buffer_pos * 2 >= m_buffer.size()) {
      m_buffer.erase(0, m_buffer_pos);  // keep the buffer from creeping
      m_buffer_pos = 0;
    }
    maybe_resume_protocol();  // may write more
    if (buffer_size() == 0) {
      remove_writer();
      std::string().swap(m_buffer);  // an idle connection keeps no write buffer
      if (m_closing) {
        call_connection_lost(nullptr);
      } else if (m_eof) {
        shutdown_write();
      }
    }
  }

  void maybe_pause_protocol() {
    if (buffer_size() <= m_high || m_protocol_paused) return;
    m_protocol_paused = true;
    try {
      m_protocol->pause_writing();
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      m_loop->call_exception_handler(
          {"protocol.pause_writing() failed", std::current_exception(), std::nullopt, repr()});
    }
  }
  void maybe_resume_protocol() {
    if (!m_protocol_paused || buffer_size() > m_low) return;
    m_protocol_paused = false;
    try {
      m_protocol->resume_writing();
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      m_loop->call_exception_handler(
          {"protocol.resume_writing() failed", std::current_exception(), std::nullopt, repr()});
    }
  }

  void fatal_error(std::exception_ptr exc, const char* message) {
    report_transport_error(*m_loop, exc, message, this);
    force_close(std::move(exc));
  }

  void force_close(std::exception_ptr exc) {
    if (m_conn_lost != 0) return;
    if (buffer_size() != 0) {
      m_buffer.clear();
      m_buffer_pos = 0;
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
    m_loop->call_soon([this, exc = std::move(exc)] { call_connection_lost(exc); });
  }

  /// The loop is closing with this transport open: no connection_lost() (nothing can run any
  /// more); the socket closes and the references go.
  void on_loop_close() noexcept override {
    const std::shared_ptr<SocketTransport> keep = std::move(m_self);  // may be the last
    m_reading = false;  // the loop dropped its callbacks
    m_writing = false;
    m_closing = true;
    ++m_conn_lost;
    m_plain = nullptr;
    m_buffered = nullptr;
    m_protocol.reset();
    try {
      m_sock.close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the descriptor is released either way
    }
    if (m_server) {
      server_detach(m_server.get());
      m_server.reset();
    }
  }

  void call_connection_lost(std::exception_ptr exc) {
    if (m_sock.closed()) return;
    m_loop->detach_resource(this);
    const std::shared_ptr<SocketTransport> keep = std::move(m_self);  // may be the last
    const std::shared_ptr<BaseProtocol> protocol = std::move(m_protocol);
    m_plain = nullptr;
    m_buffered = nullptr;
    struct Finally {
      SocketTransport* t;
      ~Finally() {
        t->remove_reader();
        t->remove_writer();
        try {
          t->m_sock.close();
        } catch (...) {  // NOLINT(bugprone-empty-catch): the descriptor is released either way
        }
        if (t->m_server) {
          server_detach(t->m_server.get());
          t->m_server.reset();
        }
      }
    } finally{this};
    if (m_protocol_connected && protocol) protocol->connection_lost(std::move(exc));
  }

  EventLoop* m_loop;
  Socket m_sock;
  int m_fd;
  std::shared_ptr<ServerState> m_server;
  std::shared_ptr<BaseProtocol> m_protocol;
  Protocol* m_plain = nullptr;
  BufferedProtocol* m_buffered = nullptr;
  std::shared_ptr<SocketTransport> m_self;  // the loop's reference, until connection_lost
  std::string m_buffer;                     // unsent data from m_buffer_pos on
  std::size_t m_buffer_pos = 0;
  std::size_t m_high = kDefaultHighWater;
  std::size_t m_low = kDefaultHighWater / 4;
  int m_conn_lost = 0;
  bool m_closing = false;
  bool m_eof = false;
  bool m_paused = false;
  bool m_protocol_paused = false;
  bool m_protocol_connected = false;
  bool m_reading = false;
  bool m_writing = false;
};

std::shared_ptr<Transport> make_socket_transport(EventLoop& loop, Socket sock,
                                                 std::shared_ptr<BaseProtocol> protocol,
                                                 ExtraInfo extra,
                                                 std::shared_ptr<ServerState> server) {
  sock.ensure_nonblocking();
  auto transport = std::make_shared<SocketTransport>(loop, std::move(sock), std::move(server));
  transport->start(transport, std::move(protocol), std::move(extra));
  return transport;
}

// ---- servers -----------------------------------------------------------------------------------

/// Python's asyncio.Server.
class ServerState : public std::enable_shared_from_this<ServerState>, private LoopResource {
 public:
  ServerState(EventLoop& loop, std::vector<Socket> sockets, AnyProtocolFactory factory,
              TlsOptions tls, int backlog)
      : m_loop(&loop),
        m_sockets(std::move(sockets)),
        m_factory(std::move(factory)),
        m_tls(std::move(tls)),
        m_backlog(backlog) {}

  EventLoop& loop() const noexcept { return *m_loop; }
  const std::vector<Socket>& sockets() const noexcept { return m_sockets; }
  bool is_serving() const noexcept { return m_serving; }
  bool closed() const noexcept { return m_closed; }

  void attach() noexcept { ++m_active; }
  void detach() noexcept {
    --m_active;
    if (m_active == 0 && m_closed) wakeup();
  }

  void start_serving() {
    if (m_serving || m_closed) return;
    m_serving = true;
    m_self = shared_from_this();  // the loop keeps a serving server
    m_loop->attach_resource(this);
    for (Socket& sock : m_sockets) {
      sock.listen(m_backlog);
      const int fd = sock.fileno();
      m_loop->add_reader(fd, [this, fd] { accept_ready(fd); });
    }
  }

  void close() {
    if (m_closed) return;
    m_closed = true;
    if (m_self) m_loop->detach_resource(this);
    const std::shared_ptr<ServerState> keep = std::move(m_self);
    for (Socket& sock : m_sockets) {
      if (m_serving) {
        try {
          m_loop->remove_reader(sock.fileno());
        } catch (...) {  // NOLINT(bugprone-empty-catch): the loop is closed
        }
      }
      try {
        sock.close();
      } catch (...) {  // NOLINT(bugprone-empty-catch): released either way
      }
    }
    m_sockets.clear();
    m_serving = false;
    if (m_serving_forever && !m_serving_forever->done()) m_serving_forever->cancel();
    if (m_active == 0) wakeup();
  }

  Task<void> wait_closed() {
    if (m_closed && m_active == 0) co_return;
    Future<void> waiter(*m_loop);
    m_waiters.push_back(waiter);
    co_await waiter;
  }

  Task<void> serve_forever(std::string self_repr) {
    if (m_serving_forever) {
      throw RuntimeError(
          fmt::format("server {} is already being awaited on serve_forever()", self_repr));
    }
    if (m_closed) throw RuntimeError(fmt::format("server {} is closed", self_repr));
    start_serving();
    const auto keep = shared_from_this();
    Future<void> forever(*m_loop);
    m_serving_forever = forever;
    std::exception_ptr error;
    try {
      co_await forever;
    } catch (const CancelledError&) {
      error = std::current_exception();
    }
    m_serving_forever.reset();
    if (error) {
      // Python: close, wait for it, and re-raise the cancellation.
      close();
      co_await wait_closed();
      std::rethrow_exception(error);
    }
  }

  /// The loop closes while this serves: the listening sockets close, nothing is woken.
  void on_loop_close() noexcept override {
    const std::shared_ptr<ServerState> keep = std::move(m_self);
    m_closed = true;
    m_serving = false;
    m_sockets.clear();  // closes them
  }

  std::string repr() const {
    std::string out = "<Server sockets=(";
    for (std::size_t i = 0; i < m_sockets.size(); ++i) {
      if (i != 0) out += ", ";
      out += fmt::format("<socket fd={} laddr={}>", m_sockets[i].fileno(),
                         asyncio::repr(m_sockets[i].getsockname()));
    }
    if (m_sockets.size() == 1) out += ",";
    return out + ")>";
  }

 private:
  void wakeup() {
    auto waiters = std::move(m_waiters);
    m_waiters.clear();
    for (auto& w : waiters) {
      if (!w.done()) w.set_result();
    }
  }

  void accept_ready(int fd) {
    for (int i = 0; i < std::max(m_backlog, 1); ++i) {
      SockAddr sa;
      sa.len = sizeof sa.storage;
      const int conn = ::accept4(fd, reinterpret_cast<sockaddr*>(&sa.storage), &sa.len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (conn < 0) {
        const int err = errno;
        if (would_block(err) || err == ECONNABORTED || err == EPROTO) return;
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          // Python: report, stop accepting for a second, then try again.
          m_loop->call_exception_handler({"socket.accept() out of system resource",
                                          errno_exception(err), std::nullopt, repr()});
          m_loop->remove_reader(fd);
          auto weak = weak_from_this();
          m_loop->call_later(kAcceptRetryDelay, [weak, fd] {
            auto self = weak.lock();
            if (!self || self->m_closed || !self->m_serving) return;
            self->m_loop->add_reader(fd, [s = self.get(), fd] { s->accept_ready(fd); });
          });
          return;
        }
        m_loop->call_exception_handler(
            {"Error on accept()", errno_exception(err), std::nullopt, repr()});
        return;
      }
      const Socket& listener = *std::find_if(m_sockets.begin(), m_sockets.end(),
                                             [fd](const Socket& l) { return l.fileno() == fd; });
      Socket accepted =
          Socket::adopt(conn, listener.family(), listener.type(), listener.proto(), false);
      try {
        Address peer = from_sockaddr(sa.get(), sa.len);
        ExtraInfo extra;
        extra.emplace_back("peername", std::move(peer));
        if (m_tls.ssl) {
          auto made = accept_tls(std::move(accepted), std::move(extra));
          create_task(std::move(made));
        } else {
          auto protocol = m_factory();
          make_socket_transport(*m_loop, std::move(accepted), std::move(protocol), std::move(extra),
                                shared_from_this());
        }
      } catch (...) {
        if (is_exit(std::current_exception())) throw;
        m_loop->call_exception_handler({"Error on transport creation for incoming connection",
                                        std::current_exception(), std::nullopt, repr()});
      }
      if (m_closed) return;
    }
  }

  Task<void> accept_tls(Socket sock, ExtraInfo extra) {
    const auto keep = shared_from_this();
    try {
      auto protocol = m_factory();
      auto made = make_ssl_transport(*m_loop, std::move(sock), std::move(protocol), m_tls, true,
                                     std::move(extra), keep);
      co_await std::move(made);
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      if (is_exit(std::current_exception())) throw;
      report_transport_error(*m_loop, std::current_exception(),
                             "Error on transport creation for incoming connection", nullptr);
    }
  }

  EventLoop* m_loop;
  std::vector<Socket> m_sockets;
  AnyProtocolFactory m_factory;
  TlsOptions m_tls;
  int m_backlog;
  std::shared_ptr<ServerState> m_self;
  std::vector<Future<void>> m_waiters;
  std::optional<Future<void>> m_serving_forever;
  std::size_t m_active = 0;
  bool m_serving = false;
  bool m_closed = false;
};

void server_attach(ServerState* server) noexcept { server->attach(); }
void server_detach(ServerState* server) noexcept { server->detach(); }

}  // namespace detail

using namespace detail;  // NOLINT(google-build-using-namespace): this file is their home

std::vector<std::string> detail::host_list(std::optional<std::string> host) {
  std::vector<std::string> hosts;
  if (host) hosts.push_back(std::move(*host));
  return hosts;
}

// ---- Server ------------------------------------------------------------------------------------

EventLoop& Server::get_loop() const { return m_state->loop(); }
void Server::close() { m_state->close(); }
Task<void> Server::wait_closed() { return m_state->wait_closed(); }
Task<void> Server::start_serving() {
  m_state->start_serving();
  co_await sleep(0);  // Python: one iteration, so that the readers are in place
}
Task<void> Server::serve_forever() { return m_state->serve_forever(repr()); }
bool Server::is_serving() const { return m_state->is_serving(); }
const std::vector<Socket>& Server::sockets() const { return m_state->sockets(); }
std::string Server::repr() const { return m_state->repr(); }

// ---- create_connection -------------------------------------------------------------------------

namespace {

void check_tls_options(const std::shared_ptr<ssl::SSLContext>& ssl,
                       const std::optional<double>& handshake,
                       const std::optional<double>& shutdown) {
  if (handshake && !ssl) throw ValueError("ssl_handshake_timeout is only meaningful with ssl");
  if (shutdown && !ssl) throw ValueError("ssl_shutdown_timeout is only meaningful with ssl");
  if (handshake && !(*handshake > 0)) {
    throw ValueError(
        fmt::format("ssl_handshake_timeout should be a positive number, got {}", *handshake));
  }
  if (shutdown && !(*shutdown > 0)) {
    throw ValueError(
        fmt::format("ssl_shutdown_timeout should be a positive number, got {}", *shutdown));
  }
}

/// Python's _interleave_addrinfos: the addresses grouped by family, taken in turn, the
/// first family's first `first_family_count` at the head.
std::vector<AddrInfo> interleave_addrinfos(std::vector<AddrInfo> infos, int first_family_count) {
  std::vector<int> order;
  std::vector<std::vector<AddrInfo>> by_family;
  for (auto& info : infos) {
    auto it = std::find(order.begin(), order.end(), info.family);
    if (it == order.end()) {
      order.push_back(info.family);
      by_family.emplace_back();
      it = order.end() - 1;
    }
    by_family[static_cast<std::size_t>(it - order.begin())].push_back(std::move(info));
  }
  std::vector<AddrInfo> out;
  std::vector<std::size_t> next(by_family.size(), 0);
  if (first_family_count > 1 && !by_family.empty()) {
    const auto n = std::min(static_cast<std::size_t>(first_family_count - 1), by_family[0].size());
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::move(by_family[0][i]));
    next[0] = n;
  }
  for (bool more = true; more;) {
    more = false;
    for (std::size_t f = 0; f < by_family.size(); ++f) {
      if (next[f] < by_family[f].size()) {
        out.push_back(std::move(by_family[f][next[f]++]));
        more = true;
      }
    }
  }
  return out;
}

/// The errors of one connection attempt (Python's my_exceptions).
using Attempts = std::vector<std::exception_ptr>;

std::string lower_strerror(int err) {
  std::string text = std::strerror(err);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string family_enum_repr(int family) {
  return fmt::format("<AddressFamily.{}: {}>", family_name(family), family);
}

/// Python's _connect_sock: a socket for info, bound to a local address of its family if
/// any were given, then connected. Failures are recorded in errors, and raised.
Task<Socket> connect_sock(EventLoop& loop, AddrInfo info,
                          std::shared_ptr<const std::vector<AddrInfo>> local,
                          std::shared_ptr<Attempts> errors) {
  try {
    Socket sock(info.family, info.type != 0 ? info.type : SOCK_STREAM, info.proto);
    sock.setblocking(false);
    if (local) {
      bool bound = false;
      std::exception_ptr last;
      for (const AddrInfo& laddr : *local) {
        if (laddr.family != info.family) continue;
        try {
          sock.bind(laddr.sockaddr);
          bound = true;
          break;
        } catch (const OSError& e) {
          try {
            raise_os_error_with(
                e.errno_().value_or(0),
                fmt::format("error while attempting to bind on address {}: {}",
                            repr(laddr.sockaddr), lower_strerror(e.errno_().value_or(0))));
          } catch (...) {
            last = std::current_exception();
            errors->push_back(last);
          }
        }
      }
      if (!bound) {
        if (last) {
          errors->pop_back();
          std::rethrow_exception(last);
        }
        throw OSError(fmt::format("no matching local address with family={} found",
                                  family_enum_repr(info.family)));
      }
    }
    auto connecting = sock_connect(loop, sock, info.sockaddr);
    co_await std::move(connecting);
    co_return sock;
  } catch (const OSError&) {
    errors->push_back(std::current_exception());
    throw;
  }
}

/// Python's staggered_race over the addresses: attempt i starts when an attempt failed or
/// after delay; the first connection wins and the others are cancelled.
Task<std::optional<Socket>> happy_eyeballs(EventLoop& loop, std::vector<AddrInfo> infos,
                                           std::shared_ptr<const std::vector<AddrInfo>> local,
                                           double delay,
                                           std::vector<std::shared_ptr<Attempts>>& errors) {
  std::vector<Task<Socket>> running;
  std::size_t next = 0;
  auto start_next = [&] {
    errors.push_back(std::make_shared<Attempts>());
    running.push_back(create_task(connect_sock(loop, infos[next], local, errors.back())));
    ++next;
  };
  std::optional<Socket> winner;
  std::exception_ptr cancelled;
  try {
    start_next();
    while (!winner) {
      std::vector<Task<Socket>> pending;
      for (auto& t : running) {
        if (!t.done()) pending.push_back(t);
      }
      if (pending.empty()) {
        if (next >= infos.size()) break;
        start_next();
        continue;
      }
      const std::optional<double> timeout =
          next < infos.size() ? std::optional<double>(delay) : std::nullopt;
      auto waiting = wait(pending, timeout, FIRST_COMPLETED);
      auto result = co_await std::move(waiting);
      bool failed = false;
      for (auto& t : result.done) {
        if (t.exception()) {
          failed = true;
        } else if (!winner) {
          winner.emplace(std::move(t).result());
        }
      }
      // The delay ran out, or an attempt failed: the next one starts now.
      if (!winner && next < infos.size() && (result.done.empty() || failed)) start_next();
    }
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  std::vector<Task<Socket>> losers;
  for (auto& t : running) {
    if (!t.done()) {
      t.cancel();
      losers.push_back(t);
    }
  }
  if (cancelled) std::rethrow_exception(cancelled);
  if (!losers.empty()) {
    // Python waits for them to finish: their sockets are closed when this returns.
    auto waiting = wait(losers);
    co_await std::move(waiting);
  }
  co_return winner;
}

/// Python's _ensure_resolved for a (host, port) pair.
Task<std::vector<AddrInfo>> resolve_stream(EventLoop& loop, std::optional<std::string> host,
                                           std::optional<int> port, int family, int proto,
                                           int flags) {
  std::optional<std::string> service;
  if (port) service = std::to_string(*port);
  const GetAddrInfoOptions options{
      .family = family, .type = SOCK_STREAM, .proto = proto, .flags = flags};
  auto resolving = getaddrinfo(loop, std::move(host), std::move(service), options);
  co_return co_await std::move(resolving);
}

/// Python's create_connection error: one error as it is, several as "Multiple exceptions".
[[noreturn]] void raise_connect_errors(const std::vector<std::shared_ptr<Attempts>>& attempts) {
  std::vector<std::exception_ptr> all;
  for (const auto& a : attempts) all.insert(all.end(), a->begin(), a->end());
  if (all.empty()) throw OSError("create_connection() failed: no address could be tried");
  if (all.size() == 1) std::rethrow_exception(all.front());
  const std::string model = exception_str(all.front());
  if (std::all_of(all.begin(), all.end(),
                  [&](const std::exception_ptr& e) { return exception_str(e) == model; })) {
    std::rethrow_exception(all.front());
  }
  std::string text = "Multiple exceptions: ";
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i != 0) text += ", ";
    text += exception_str(all[i]);
  }
  throw OSError(text);
}

void check_stream_socket(const Socket& sock) {
  if (sock.type() != SOCK_STREAM) {
    throw ValueError(fmt::format("A Stream Socket was expected, got <socket fd={} type={}>",
                                 sock.fileno(), sock.type()));
  }
}

/// Python's _create_connection_transport: the protocol and a (TLS) transport for sock.
Task<StreamPair> connection_transport(EventLoop& loop, Socket sock, AnyProtocolFactory& factory,
                                      TlsOptions tls, bool server_side) {
  sock.setblocking(false);
  auto protocol = factory();
  if (!protocol || !is_stream_protocol(protocol.get())) {
    throw TypeError("the protocol factory must make a Protocol or a BufferedProtocol");
  }
  if (tls.ssl) {
    auto made = make_ssl_transport(loop, std::move(sock), protocol, std::move(tls), server_side, {},
                                   nullptr);
    auto transport = co_await std::move(made);
    co_return StreamPair(std::move(transport), std::move(protocol));
  }
  auto transport = make_socket_transport(loop, std::move(sock), protocol);
  co_return StreamPair(std::move(transport), std::move(protocol));
}

}  // namespace

Task<StreamPair> detail::create_connection_impl(EventLoop& loop, AnyProtocolFactory factory,
                                                std::optional<std::string> host,
                                                std::optional<int> port,
                                                CreateConnectionOptions options) {
  std::optional<std::string> server_hostname = options.server_hostname;
  if (server_hostname && !options.ssl) {
    throw ValueError("server_hostname is only meaningful with ssl");
  }
  if (!server_hostname && options.ssl) {
    if (!host || host->empty()) {
      throw ValueError("You must set server_hostname when using ssl without a host");
    }
    server_hostname = host;
  }
  check_tls_options(options.ssl, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
  if (options.sock && (host || port)) {
    throw ValueError("host/port and sock can not be specified at the same time");
  }
  std::optional<int> interleave = options.interleave;
  if (options.happy_eyeballs_delay && !interleave) interleave = 1;

  std::optional<Socket> sock = std::move(options.sock);
  if (host || port) {
    auto resolving = resolve_stream(loop, host, port, options.family, options.proto, options.flags);
    auto infos = co_await std::move(resolving);
    if (infos.empty()) throw OSError("getaddrinfo() returned empty list");
    std::shared_ptr<const std::vector<AddrInfo>> local;
    if (options.local_addr) {
      const auto* inet = std::get_if<InetAddress>(&*options.local_addr);
      if (inet == nullptr) throw TypeError("local_addr must be an (host, port) address");
      auto lresolving = resolve_stream(loop, inet->host, inet->port, options.family, options.proto,
                                       options.flags);
      auto linfos = co_await std::move(lresolving);
      if (linfos.empty()) throw OSError("getaddrinfo() returned empty list");
      local = std::make_shared<const std::vector<AddrInfo>>(std::move(linfos));
    }
    if (interleave && *interleave > 0) infos = interleave_addrinfos(std::move(infos), *interleave);

    std::vector<std::shared_ptr<Attempts>> errors;
    if (!options.happy_eyeballs_delay) {
      for (AddrInfo& info : infos) {
        errors.push_back(std::make_shared<Attempts>());
        try {
          auto connecting = connect_sock(loop, std::move(info), local, errors.back());
          sock.emplace(co_await std::move(connecting));
          break;
        } catch (const OSError&) {
          continue;
        }
      }
    } else {
      auto racing =
          happy_eyeballs(loop, std::move(infos), local, *options.happy_eyeballs_delay, errors);
      sock = co_await std::move(racing);
    }
    if (!sock) raise_connect_errors(errors);
  } else {
    if (!sock) throw ValueError("host and port was not specified and no sock specified");
    check_stream_socket(*sock);
  }
  TlsOptions tls{options.ssl, server_hostname, options.ssl_handshake_timeout,
                 options.ssl_shutdown_timeout};
  auto making = connection_transport(loop, std::move(*sock), factory, std::move(tls), false);
  co_return co_await std::move(making);
}

// ---- create_server -----------------------------------------------------------------------------

Task<Server> detail::create_server_impl(EventLoop& loop, AnyProtocolFactory factory,
                                        std::vector<std::string> hosts, std::optional<int> port,
                                        CreateServerOptions options) {
  check_tls_options(options.ssl, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
  std::vector<Socket> sockets;
  if (!hosts.empty() || port) {
    if (options.sock) throw ValueError("host/port and sock can not be specified at the same time");
    const bool reuse_address = options.reuse_address.value_or(true);
    std::vector<std::optional<std::string>> names;
    if (hosts.empty() || std::find(hosts.begin(), hosts.end(), "") != hosts.end()) {
      names.emplace_back(std::nullopt);  // every interface
    } else {
      names.assign(hosts.begin(), hosts.end());
    }
    std::vector<AddrInfo> infos;
    for (auto& name : names) {
      auto resolving =
          resolve_stream(loop, name, port.value_or(0), options.family, 0, options.flags);
      auto got = co_await std::move(resolving);
      for (auto& info : got) {
        const bool seen = std::any_of(infos.begin(), infos.end(), [&](const AddrInfo& i) {
          return i.family == info.family && i.sockaddr == info.sockaddr;
        });
        if (!seen) infos.push_back(std::move(info));
      }
    }
    for (const AddrInfo& info : infos) {
      Socket sock(info.family, SOCK_STREAM, info.proto);
      if (reuse_address) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reuse_port) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      // Python: an IPv6 socket serves IPv6 only, so that the IPv4 one can bind the port too.
      if (info.family == AF_INET6) sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
      try {
        sock.bind(info.sockaddr);
      } catch (const OSError& e) {
        raise_os_error_with(
            e.errno_().value_or(0),
            fmt::format("error while attempting to bind on address {}: {}", repr(info.sockaddr),
                        lower_strerror(e.errno_().value_or(0))));
      }
      sockets.push_back(std::move(sock));
    }
  } else {
    if (!options.sock) throw ValueError("Neither host/port nor sock were specified");
    check_stream_socket(*options.sock);
    sockets.push_back(std::move(*options.sock));
  }
  for (Socket& sock : sockets) sock.setblocking(false);
  TlsOptions tls{options.ssl, std::nullopt, options.ssl_handshake_timeout,
                 options.ssl_shutdown_timeout};
  auto state = std::make_shared<ServerState>(loop, std::move(sockets), std::move(factory),
                                             std::move(tls), options.backlog);
  Server server(state);
  if (options.start_serving) {
    state->start_serving();
    co_await sleep(0);  // Python: one iteration, so that the readers are in place
  }
  co_return server;
}

// ---- Unix sockets
// --------------------------------------------------------------------------------

Task<StreamPair> detail::create_unix_connection_impl(EventLoop& loop, AnyProtocolFactory factory,
                                                     std::optional<std::string> path,
                                                     CreateUnixConnectionOptions options) {
  std::optional<std::string> server_hostname = options.server_hostname;
  if (options.ssl) {
    if (!server_hostname) throw ValueError("you have to pass server_hostname when using ssl");
  } else if (server_hostname) {
    throw ValueError("server_hostname is only meaningful with ssl");
  }
  check_tls_options(options.ssl, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
  std::optional<Socket> sock;
  if (path) {
    if (options.sock) throw ValueError("path and sock can not be specified at the same time");
    sock.emplace(AF_UNIX, SOCK_STREAM, 0);
    sock->setblocking(false);
    auto connecting = sock_connect(loop, *sock, Address(*path));
    co_await std::move(connecting);
  } else {
    if (!options.sock) throw ValueError("no path and sock were specified");
    if (options.sock->family() != AF_UNIX || options.sock->type() != SOCK_STREAM) {
      throw ValueError(fmt::format("A UNIX Domain Stream Socket was expected, got <socket fd={}>",
                                   options.sock->fileno()));
    }
    sock = std::move(options.sock);
  }
  TlsOptions tls{options.ssl, server_hostname, options.ssl_handshake_timeout,
                 options.ssl_shutdown_timeout};
  auto making = connection_transport(loop, std::move(*sock), factory, std::move(tls), false);
  co_return co_await std::move(making);
}

Task<Server> detail::create_unix_server_impl(EventLoop& loop, AnyProtocolFactory factory,
                                             std::optional<std::string> path,
                                             CreateUnixServerOptions options) {
  check_tls_options(options.ssl, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
  std::vector<Socket> sockets;
  if (path) {
    if (options.sock) throw ValueError("path and sock can not be specified at the same time");
    // Python: a stale socket file (not an abstract name) is removed first.
    if (!path->empty() && (*path)[0] != '\0') {
      struct stat st {};
      if (::stat(path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path->c_str());
    }
    Socket sock(AF_UNIX, SOCK_STREAM, 0);
    try {
      sock.bind(Address(*path));
    } catch (const OSError& e) {
      if (e.errno_().value_or(0) == EADDRINUSE) {
        raise_os_error_with(EADDRINUSE,
                            fmt::format("Address {} is already in use", py_repr(*path)));
      }
      throw;
    }
    sockets.push_back(std::move(sock));
  } else {
    if (!options.sock) throw ValueError("path was not specified, and no sock specified");
    if (options.sock->family() != AF_UNIX || options.sock->type() != SOCK_STREAM) {
      throw ValueError(fmt::format("A UNIX Domain Stream Socket was expected, got <socket fd={}>",
                                   options.sock->fileno()));
    }
    sockets.push_back(std::move(*options.sock));
  }
  for (Socket& sock : sockets) sock.setblocking(false);
  TlsOptions tls{options.ssl, std::nullopt, options.ssl_handshake_timeout,
                 options.ssl_shutdown_timeout};
  auto state = std::make_shared<ServerState>(loop, std::move(sockets), std::move(factory),
                                             std::move(tls), options.backlog);
  Server server(state);
  if (options.start_serving) {
    state->start_serving();
    co_await sleep(0);
  }
  co_return server;
}

Task<StreamPair> detail::connect_accepted_socket_impl(EventLoop& loop, AnyProtocolFactory factory,
                                                      Socket sock,
                                                      ConnectAcceptedSocketOptions options) {
  check_tls_options(options.ssl, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
  check_stream_socket(sock);
  TlsOptions tls{options.ssl, std::nullopt, options.ssl_handshake_timeout,
                 options.ssl_shutdown_timeout};
  auto making = connection_transport(loop, std::move(sock), factory, std::move(tls), true);
  co_return co_await std::move(making);
}

}  // namespace batteries::asyncio
