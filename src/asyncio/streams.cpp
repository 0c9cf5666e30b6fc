// StreamReader, StreamWriter, the protocol between them and the transport, open_connection and
// start_server: Python 3.11's asyncio/streams.py.
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/streams.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "transport_impl.hpp"

namespace batteries::asyncio {

namespace detail {

/// Python's StreamReader, behind the handles.
class StreamReaderState {
 public:
  StreamReaderState(std::size_t limit, EventLoop* loop) : m_limit(limit), m_loop(loop) {
    if (limit == 0) throw ValueError("Limit cannot be <= 0");
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_buf.size() - m_pos; }
  [[nodiscard]] std::string_view view() const noexcept {
    return std::string_view(m_buf).substr(m_pos);
  }

  void feed_data(std::string_view data) {
    if (data.empty()) return;
    if (m_pos != 0 && m_pos == m_buf.size()) {
      m_buf.clear();
      m_pos = 0;
    }
    m_buf.append(data);
    wakeup();
    if (m_transport && !m_paused && size() > 2 * m_limit) {
      try {
        m_transport->pause_reading();
        m_paused = true;
      } catch (const NotImplementedError&) {
        m_transport.reset();  // Python: a transport that cannot pause is not asked again
      }
    }
  }
  void feed_eof() {
    m_eof = true;
    wakeup();
  }
  void set_exception(std::exception_ptr exc) {
    m_exception = exc;
    if (m_waiter) {
      auto waiter = std::move(*m_waiter);
      m_waiter.reset();
      if (!waiter.done()) waiter.set_exception(std::move(exc));
    }
  }
  void set_transport(std::shared_ptr<Transport> transport) {
    if (m_transport) throw AssertionError("Transport already set");
    m_transport = std::move(transport);
  }

  /// Takes n bytes off the front.
  std::string take(std::size_t n) {
    std::string out(view().substr(0, n));
    consume(n);
    return out;
  }
  void consume(std::size_t n) {
    m_pos += n;
    if (m_pos == m_buf.size()) {
      // An idle stream keeps no large buffer.
      if (m_buf.capacity() > 4096) {
        std::string().swap(m_buf);
      } else {
        m_buf.clear();
      }
      m_pos = 0;
    } else if (m_pos > 4096 && m_pos * 2 > m_buf.size()) {
      m_buf.erase(0, m_pos);
      m_pos = 0;
    }
    maybe_resume_transport();
  }
  void maybe_resume_transport() {
    if (m_paused && size() <= m_limit) {
      m_paused = false;
      m_transport->resume_reading();
    }
  }
  void check_exception() const {
    if (m_exception) std::rethrow_exception(m_exception);
  }

  /// Python's _wait_for_data(func_name).
  Task<void> wait_for_data(const char* func_name) {
    if (m_waiter) {
      throw RuntimeError(fmt::format(
          "{}() called while another coroutine is already waiting for incoming data", func_name));
    }
    if (m_paused) {
      m_paused = false;
      m_transport->resume_reading();
    }
    EventLoop& loop = m_loop != nullptr ? *m_loop : get_running_loop();
    Future<void> waiter(loop);
    m_waiter = waiter;
    struct Reset {
      StreamReaderState* s;
      ~Reset() { s->m_waiter.reset(); }
    } reset{this};
    co_await waiter;
  }

  Task<std::string> readuntil(std::string separator) {
    if (separator.empty()) throw ValueError("Separator should be at least one-byte string");
    check_exception();
    const std::size_t seplen = separator.size();
    std::size_t offset = 0;
    std::size_t isep = 0;
    for (;;) {
      const std::size_t buflen = size();
      if (buflen >= offset + seplen) {
        const std::size_t found = view().find(separator, offset);
        if (found != std::string_view::npos) {
          isep = found;
          break;
        }
        offset = buflen + 1 - seplen;
        if (offset > m_limit) {
          throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
        }
      }
      if (m_eof) {
        std::string chunk(view());
        consume(size());
        throw IncompleteReadError(std::move(chunk), std::nullopt);
      }
      co_await wait_for_data("readuntil");
    }
    if (isep > m_limit) {
      throw LimitOverrunError("Separator is found, but chunk is longer than limit", isep);
    }
    co_return take(isep + seplen);
  }

  std::string repr() const {
    std::string out = "<StreamReader";
    if (size() != 0) out += fmt::format(" {} bytes", size());
    if (m_eof) out += " eof";
    if (m_limit != kDefaultStreamLimit) out += fmt::format(" limit={}", m_limit);
    if (m_waiter) out += " waiter=" + m_waiter->repr();
    if (m_exception) out += " exception=" + exception_repr(m_exception);
    if (m_transport) out += " transport=" + m_transport->repr();
    if (m_paused) out += " paused";
    return out + ">";
  }

  std::string m_buf;
  std::size_t m_pos = 0;
  std::size_t m_limit;
  EventLoop* m_loop;
  std::optional<Future<void>> m_waiter;
  std::exception_ptr m_exception;
  std::shared_ptr<Transport> m_transport;
  bool m_eof = false;
  bool m_paused = false;

 private:
  void wakeup() {
    if (!m_waiter) return;
    auto waiter = std::move(*m_waiter);
    m_waiter.reset();
    if (!waiter.done()) waiter.set_result();
  }
};

// ---- FlowControl -------------------------------------------------------------------------------

FlowControl::~FlowControl() = default;

void FlowControl::flow_resume() noexcept {
  m_paused = false;
  for (auto& waiter : m_drain_waiters) {
    if (!waiter.done()) waiter.set_result();
  }
}

void FlowControl::flow_lost(std::exception_ptr exc) noexcept {
  m_lost = true;
  if (!m_paused) return;
  for (auto& waiter : m_drain_waiters) {
    if (waiter.done()) continue;
    if (exc) {
      waiter.set_exception(exc);
    } else {
      waiter.set_result();
    }
  }
}

Task<void> FlowControl::drain_helper() {
  if (m_lost) throw ConnectionResetError("Connection lost");
  if (!m_paused) co_return;
  Future<void> waiter(*m_loop);
  m_drain_waiters.push_back(waiter);
  struct Remove {
    FlowControl* f;
    Future<void>* w;
    ~Remove() { std::erase(f->m_drain_waiters, *w); }
  } remove{this, &waiter};
  co_await waiter;
}

// ---- StreamReaderProtocol
// ------------------------------------------------------------------------

/// Python's StreamReaderProtocol.
class StreamReaderProtocol final : public Protocol, public FlowControl {
 public:
  StreamReaderProtocol(EventLoop& loop, std::optional<StreamReader> reader, ClientConnected cb)
      : FlowControl(loop), m_reader(std::move(reader)), m_cb(std::move(cb)), m_closed(loop) {}

  ~StreamReaderProtocol() override {
    // Python's __del__: an error nobody waited for is not reported.
    if (m_closed.done() && !m_closed.cancelled()) (void)m_closed.exception();
  }

  void connection_made(std::shared_ptr<Transport> transport) override {
    m_transport = transport;
    if (m_reader) m_reader->set_transport(transport);
    m_over_ssl = transport->get_extra_info("sslcontext").has_value();
    if (!m_cb) return;
    // The writer refers to this protocol; the protocol keeps no writer, so that no cycle
    // outlives the connection.
    StreamWriter writer(transport, std::shared_ptr<FlowControl>(m_self.lock(), this), m_reader,
                        loop());
    auto task = m_cb(*m_reader, std::move(writer));
    if (!task) return;
    // Python 3.12: an error in the callback is reported and the connection closed.
    auto started = create_task(std::move(task));
    std::weak_ptr<Transport> weak = transport;
    started.add_done_callback([weak](Task<void>& t) {
      auto tr = weak.lock();
      if (t.cancelled()) {
        if (tr) tr->close();
        return;
      }
      if (auto exc = t.exception()) {
        auto& lp = t.get_loop();
        lp.call_exception_handler(
            {"Unhandled exception in client_connected_cb", exc, std::nullopt, t.repr()});
        if (tr) tr->close();
      }
    });
  }

  void connection_lost(std::exception_ptr exc) override {
    if (m_reader) {
      if (exc) {
        m_reader->set_exception(exc);
      } else {
        m_reader->feed_eof();
      }
    }
    if (!m_closed.done()) {
      if (exc) {
        m_closed.set_exception(exc);
      } else {
        m_closed.set_result();
      }
    }
    flow_lost(exc);
    m_transport.reset();
  }

  void data_received(std::string_view data) override {
    if (m_reader) m_reader->state()->feed_data(data);
  }
  bool eof_received() override {
    if (m_reader) m_reader->feed_eof();
    // Over TLS, a half-closed connection cannot carry data: close it (Python's comment).
    return !m_over_ssl;
  }
  void pause_writing() override { flow_pause(); }
  void resume_writing() override { flow_resume(); }

  Future<void> get_close_waiter() override { return m_closed; }
  [[nodiscard]] bool is_server_side() const noexcept override { return static_cast<bool>(m_cb); }
  void replace_writer(const StreamWriter& writer) override {
    m_transport = writer.transport();
    m_over_ssl = m_transport->get_extra_info("sslcontext").has_value();
  }

  std::weak_ptr<StreamReaderProtocol> m_self;

 private:
  std::optional<StreamReader> m_reader;
  ClientConnected m_cb;
  Future<void> m_closed;
  std::shared_ptr<Transport> m_transport;
  bool m_over_ssl = false;
};

std::shared_ptr<StreamReaderProtocol> make_protocol(EventLoop& loop,
                                                    std::optional<StreamReader> reader,
                                                    ClientConnected cb) {
  auto protocol = std::make_shared<StreamReaderProtocol>(loop, std::move(reader), std::move(cb));
  protocol->m_self = protocol;
  return protocol;
}

}  // namespace detail

// ---- StreamReader ------------------------------------------------------------------------------

StreamReader::StreamReader(std::size_t limit, EventLoop* loop)
    : m_state(std::make_shared<detail::StreamReaderState>(limit, loop)) {}

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
  auto state = m_state;  // the task may outlive this handle
  state->check_exception();
  if (n == 0) co_return std::string();
  if (n < 0) {
    // Python reads blocks of limit until EOF and joins them.
    std::string out;
    for (;;) {
      if (state->size() == 0 && !state->m_eof) co_await state->wait_for_data("read");
      state->check_exception();
      if (state->size() == 0) break;
      out += state->take(state->size());
    }
    co_return out;
  }
  if (state->size() == 0 && !state->m_eof) co_await state->wait_for_data("read");
  co_return state->take(std::min(static_cast<std::size_t>(n), state->size()));
}

Task<std::string> StreamReader::readline() {
  auto state = m_state;
  try {
    co_return co_await state->readuntil("\n");
  } catch (IncompleteReadError& e) {
    co_return std::move(e.partial);
  } catch (const LimitOverrunError& e) {
    // Python drops the line (or what there is of it) and raises ValueError.
    const std::string_view rest = state->view();
    if (rest.substr(std::min(e.consumed, rest.size())).starts_with("\n")) {
      state->consume(e.consumed + 1);
    } else {
      state->consume(state->size());
    }
    throw ValueError(e.what());
  }
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  auto state = m_state;
  state->check_exception();
  if (n == 0) co_return std::string();
  while (state->size() < n) {
    if (state->m_eof) {
      std::string partial(state->view());
      state->consume(state->size());
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await state->wait_for_data("readexactly");
  }
  co_return state->take(n);
}

Task<std::string> StreamReader::readuntil(std::string_view separator) {
  return m_state->readuntil(std::string(separator));
}

bool StreamReader::at_eof() const { return m_state->m_eof && m_state->size() == 0; }
std::exception_ptr StreamReader::exception() const { return m_state->m_exception; }
void StreamReader::feed_data(std::string_view data) {
  if (m_state->m_eof) throw AssertionError("feed_data after feed_eof");
  m_state->feed_data(data);
}
void StreamReader::feed_eof() { m_state->feed_eof(); }
void StreamReader::set_exception(std::exception_ptr exc) { m_state->set_exception(std::move(exc)); }
void StreamReader::set_transport(std::shared_ptr<Transport> transport) {
  m_state->set_transport(std::move(transport));
}
std::string StreamReader::repr() const { return m_state->repr(); }

// ---- StreamWriter ------------------------------------------------------------------------------

StreamWriter::StreamWriter(std::shared_ptr<Transport> transport,
                           std::shared_ptr<detail::FlowControl> protocol,
                           std::optional<StreamReader> reader, EventLoop& loop)
    : m_state(std::make_shared<detail::StreamWriterState>(detail::StreamWriterState{
          std::move(transport), std::move(protocol), std::move(reader), &loop})) {
  if (!m_state->transport) throw TypeError("StreamWriter needs a transport");
  if (!m_state->protocol) throw TypeError("StreamWriter needs a protocol");
}

Task<void> StreamWriter::wait_closed() {
  auto state = m_state;
  auto closed = state->protocol->get_close_waiter();
  co_await closed;
}

Task<void> StreamWriter::drain() {
  auto state = m_state;
  if (state->reader) {
    if (auto exc = state->reader->exception()) std::rethrow_exception(exc);
  }
  if (state->transport->is_closing()) {
    // Python: yield, so that connection_lost() can run and drain_helper() raise.
    co_await sleep(0);
  }
  if (!state->protocol->writing_paused() && !state->protocol->connection_is_lost()) co_return;
  co_await state->protocol->drain_helper();
}

Task<void> StreamWriter::start_tls(std::shared_ptr<ssl::SSLContext> sslcontext,
                                   std::optional<std::string> server_hostname,
                                   std::optional<double> ssl_handshake_timeout) {
  auto state = m_state;
  const bool server_side = state->protocol->is_server_side();
  co_await drain();
  auto protocol = std::dynamic_pointer_cast<BaseProtocol>(state->protocol);
  if (!protocol) throw TypeError("start_tls() needs the writer's protocol to be a Protocol");
  StartTlsOptions options{.server_side = server_side,
                          .server_hostname = std::move(server_hostname),
                          .ssl_handshake_timeout = ssl_handshake_timeout,
                          .ssl_shutdown_timeout = std::nullopt};
  auto upgrading = asyncio::start_tls(*state->loop, state->transport, protocol,
                                      std::move(sslcontext), std::move(options));
  state->transport = co_await std::move(upgrading);
  state->protocol->replace_writer(*this);
}

std::string StreamWriter::repr() const {
  std::string out = "<StreamWriter transport=" + m_state->transport->repr();
  if (m_state->reader) out += " reader=" + m_state->reader->repr();
  return out + ">";
}

// ---- open_connection, start_server -------------------------------------------------------------

Task<std::pair<StreamReader, StreamWriter>> open_connection(std::optional<std::string> host,
                                                            std::optional<int> port,
                                                            OpenConnectionOptions options) {
  EventLoop& loop = get_running_loop();
  StreamReader reader(options.limit, &loop);
  auto protocol = detail::make_protocol(loop, reader, nullptr);
  CreateConnectionOptions connect{.ssl = std::move(options.ssl),
                                  .family = options.family,
                                  .proto = options.proto,
                                  .flags = options.flags,
                                  .sock = std::move(options.sock),
                                  .local_addr = std::move(options.local_addr),
                                  .server_hostname = std::move(options.server_hostname),
                                  .ssl_handshake_timeout = options.ssl_handshake_timeout,
                                  .ssl_shutdown_timeout = options.ssl_shutdown_timeout,
                                  .happy_eyeballs_delay = options.happy_eyeballs_delay,
                                  .interleave = options.interleave};
  auto connecting = detail::create_connection_impl(
      loop, [protocol]() -> std::shared_ptr<BaseProtocol> { return protocol; }, std::move(host),
      port, std::move(connect));
  auto made = co_await std::move(connecting);
  StreamWriter writer(std::move(made.first), protocol, reader, loop);
  co_return std::pair<StreamReader, StreamWriter>(std::move(reader), std::move(writer));
}

Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(
    std::optional<std::string> path, OpenUnixConnectionOptions options) {
  EventLoop& loop = get_running_loop();
  StreamReader reader(options.limit, &loop);
  auto protocol = detail::make_protocol(loop, reader, nullptr);
  CreateUnixConnectionOptions connect{.ssl = std::move(options.ssl),
                                      .sock = std::move(options.sock),
                                      .server_hostname = std::move(options.server_hostname),
                                      .ssl_handshake_timeout = options.ssl_handshake_timeout,
                                      .ssl_shutdown_timeout = options.ssl_shutdown_timeout};
  auto connecting = detail::create_unix_connection_impl(
      loop, [protocol]() -> std::shared_ptr<BaseProtocol> { return protocol; }, std::move(path),
      std::move(connect));
  auto made = co_await std::move(connecting);
  StreamWriter writer(std::move(made.first), protocol, reader, loop);
  co_return std::pair<StreamReader, StreamWriter>(std::move(reader), std::move(writer));
}

namespace {
detail::AnyProtocolFactory server_factory(EventLoop& loop, detail::ClientConnected cb,
                                          std::size_t limit) {
  if (limit == 0) throw ValueError("Limit cannot be <= 0");
  auto shared = std::make_shared<detail::ClientConnected>(std::move(cb));
  return [&loop, shared, limit]() -> std::shared_ptr<BaseProtocol> {
    return detail::make_protocol(loop, StreamReader(limit, &loop), *shared);
  };
}
}  // namespace

Task<Server> detail::start_server_impl(ClientConnected cb, std::vector<std::string> hosts,
                                       std::optional<int> port, StartServerOptions options) {
  EventLoop& loop = get_running_loop();
  CreateServerOptions server{.ssl = std::move(options.ssl),
                             .family = options.family,
                             .flags = options.flags,
                             .sock = std::move(options.sock),
                             .backlog = options.backlog,
                             .reuse_address = options.reuse_address,
                             .reuse_port = options.reuse_port,
                             .ssl_handshake_timeout = options.ssl_handshake_timeout,
                             .ssl_shutdown_timeout = options.ssl_shutdown_timeout,
                             .start_serving = options.start_serving};
  auto factory = server_factory(loop, std::move(cb), options.limit);
  auto creating =
      create_server_impl(loop, std::move(factory), std::move(hosts), port, std::move(server));
  co_return co_await std::move(creating);
}

Task<Server> detail::start_unix_server_impl(ClientConnected cb, std::optional<std::string> path,
                                            StartUnixServerOptions options) {
  EventLoop& loop = get_running_loop();
  CreateUnixServerOptions server{.ssl = std::move(options.ssl),
                                 .sock = std::move(options.sock),
                                 .backlog = options.backlog,
                                 .ssl_handshake_timeout = options.ssl_handshake_timeout,
                                 .ssl_shutdown_timeout = options.ssl_shutdown_timeout,
                                 .start_serving = options.start_serving};
  auto factory = server_factory(loop, std::move(cb), options.limit);
  auto creating =
      create_unix_server_impl(loop, std::move(factory), std::move(path), std::move(server));
  co_return co_await std::move(creating);
}

}  // namespace batteries::asyncio
