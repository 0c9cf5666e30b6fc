// TLS for asyncio's stream transports: Python 3.11's asyncio/sslproto.py (SSLProtocol and
// _SSLProtocolTransport), make_ssl_transport and loop.start_tls.
//
// An SSLProtocol is the BufferedProtocol of a plain stream transport (the "raw" transport).
// It feeds the TLS records it receives into an SSLObject through a memory BIO, and writes the
// records the SSLObject produces to the raw transport. The application's protocol talks to
// an SSLProtocolTransport, whose calls the SSLProtocol turns into TLS. The state machine,
// flow control and error handling are Python's, step for step.
//
// Ownership: the raw transport holds the SSLProtocol until its connection_lost(); the
// SSLProtocol holds the application's transport and protocol until then too; the
// application's transport holds the SSLProtocol (so that get_extra_info() still answers
// after the connection is gone). connection_lost() breaks the cycle.
#include <fmt/format.h>
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/transports.hpp>
#include <batteries/ssl.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "transport_impl.hpp"

namespace batteries::asyncio {

namespace detail {
namespace {

// Python's asyncio.constants.
constexpr double kSslHandshakeTimeout = 60.0;
constexpr double kSslShutdownTimeout = 30.0;
constexpr std::size_t kHighWaterSslRead = std::size_t{256} * 1024;
constexpr std::size_t kHighWaterSslWrite = std::size_t{512} * 1024;
// Python's SSLProtocol.max_size: the buffer lent to the raw transport.
constexpr std::size_t kMaxSize = std::size_t{256} * 1024;

enum class State { UNWRAPPED, DO_HANDSHAKE, WRAPPED, FLUSHING, SHUTDOWN };
enum class AppState { INIT, CON_MADE, EOF_RECEIVED, CON_LOST };

const char* state_name(State s) {
  switch (s) {
    case State::UNWRAPPED:
      return "SSLProtocolState.UNWRAPPED";
    case State::DO_HANDSHAKE:
      return "SSLProtocolState.DO_HANDSHAKE";
    case State::WRAPPED:
      return "SSLProtocolState.WRAPPED";
    case State::FLUSHING:
      return "SSLProtocolState.FLUSHING";
    case State::SHUTDOWN:
      return "SSLProtocolState.SHUTDOWN";
  }
  return "?";
}

// Python's add_flowcontrol_defaults: (high, low), kb the default high-water mark in KiB.
std::pair<std::size_t, std::size_t> flowcontrol_defaults(std::optional<std::size_t> high,
                                                         std::optional<std::size_t> low,
                                                         std::size_t kb) {
  std::size_t hi = 0;
  if (high) {
    hi = *high;
  } else {
    hi = low ? 4 * *low : kb * 1024;
  }
  const std::size_t lo = low ? *low : hi / 4;
  if (hi < lo) throw ValueError(fmt::format("high ({}) must be >= low ({}) must be >= 0", hi, lo));
  return {hi, lo};
}

template <class E>
bool holds(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// A growable byte buffer that is not zero-filled.
struct ByteBuffer {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  /// At least n bytes; what it held is dropped.
  void reserve(std::size_t n) {
    if (n <= size) return;
    data = std::make_unique_for_overwrite<char[]>(n);
    size = n;
  }
};

/// Scratch buffers shared by the TLS connections of a thread (a loop runs in one thread), so
/// that an idle connection holds none. Each is used within one call: the records the raw
/// transport reads are copied into the BIO at once; the decrypted data is handed to the
/// protocol, and the encrypted records to the raw transport, before the call returns. A call
/// takes the buffer out of its slot and puts it back after, so a nested call (a protocol
/// that writes or closes from data_received()) gets a fresh one.
struct Scratch {
  ByteBuffer incoming;
  ByteBuffer decrypted;
  ByteBuffer outgoing;
};
Scratch& scratch() {
  thread_local Scratch buffers;
  return buffers;
}

/// Takes a scratch buffer out of its slot; gives it back when done (unless it grew past
/// twice the usual size, or a nested call already put one back).
class ScratchLease {
 public:
  explicit ScratchLease(ByteBuffer& slot) : m_slot(slot), m_buffer(std::exchange(slot, {})) {}
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ~ScratchLease() {
    if (!m_slot.data && m_buffer.size <= 2 * kMaxSize) m_slot = std::move(m_buffer);
  }
  ByteBuffer& operator*() noexcept { return m_buffer; }
  ByteBuffer* operator->() noexcept { return &m_buffer; }

 private:
  ByteBuffer& m_slot;
  ByteBuffer m_buffer;
};

class SSLProtocolTransport;

/// Python's sslproto.SSLProtocol.
class SSLProtocol final : public BufferedProtocol,
                          public std::enable_shared_from_this<SSLProtocol> {
 public:
  struct Options {
    bool server_side = false;
    std::optional<std::string> server_hostname;
    bool call_connection_made = true;
    std::optional<double> ssl_handshake_timeout;
    std::optional<double> ssl_shutdown_timeout;
  };

  SSLProtocol(EventLoop& loop, std::shared_ptr<ssl::SSLContext> sslcontext, Future<void> waiter,
              const Options& options);

  /// Makes the protocol and its application transport. ValueError for a bad timeout or a
  /// server without a context; TypeError for an app protocol that is not a stream protocol.
  static std::shared_ptr<SSLProtocol> create(EventLoop& loop,
                                             std::shared_ptr<BaseProtocol> app_protocol,
                                             std::shared_ptr<ssl::SSLContext> sslcontext,
                                             Future<void> waiter, Options options);

  [[nodiscard]] const std::shared_ptr<SSLProtocolTransport>& app_transport() const noexcept {
    return m_app_transport;
  }
  /// Drops the application transport and protocol when the raw transport never took this
  /// protocol (so that no cycle is left behind).
  void detach() noexcept {
    m_app_transport.reset();
    m_app_protocol.reset();
    m_plain = nullptr;
    m_buffered = nullptr;
  }

  // ---- BufferedProtocol (the raw transport's side) ---------------------------------------------
  void connection_made(std::shared_ptr<Transport> transport) override {
    m_connected = true;
    m_transport = std::move(transport);
    start_handshake();
  }
  /// Whether a raw transport took this protocol (its connection_lost() will come).
  [[nodiscard]] bool connected() const noexcept { return m_connected; }
  void connection_lost(std::exception_ptr exc) override;
  std::span<char> get_buffer(std::ptrdiff_t sizehint) override {
    // Python lends a buffer of max_size (or of sizehint, when smaller); any size works.
    (void)sizehint;
    ByteBuffer& buffer = scratch().incoming;
    buffer.reserve(kMaxSize);
    return {buffer.data.get(), buffer.size};
  }
  void buffer_updated(std::size_t nbytes) override;
  bool eof_received() override;
  void pause_writing() override { m_ssl_writing_paused = true; }
  void resume_writing() override {
    m_ssl_writing_paused = false;
    process_outgoing();
  }

  // ---- for the application transport -----------------------------------------------------------
  [[nodiscard]] std::any get_extra_info(std::string_view name, std::any default_) const {
    for (const auto& [key, value] : m_extra) {
      if (key == name) return value;
    }
    if (m_transport) return m_transport->get_extra_info(name, std::move(default_));
    return default_;
  }
  void set_app_protocol(std::shared_ptr<BaseProtocol> protocol) {
    if (!protocol || !is_stream_protocol(protocol.get())) {
      throw TypeError("a TLS transport needs a Protocol or a BufferedProtocol");
    }
    m_buffered = dynamic_cast<BufferedProtocol*>(protocol.get());
    m_plain = m_buffered == nullptr ? dynamic_cast<Protocol*>(protocol.get()) : nullptr;
    m_app_protocol = std::move(protocol);
  }
  [[nodiscard]] const std::shared_ptr<BaseProtocol>& app_protocol() const noexcept {
    return m_app_protocol;
  }
  [[nodiscard]] bool app_reading_paused() const noexcept { return m_app_reading_paused; }
  void start_shutdown();
  void abort_connection() {
    set_state(State::UNWRAPPED);
    if (m_transport) m_transport->abort();
  }
  void write_appdata(std::span<const std::string_view> pieces);
  void pause_reading() { m_app_reading_paused = true; }
  void resume_reading();
  void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::tie(m_outgoing_high_water, m_outgoing_low_water) =
        flowcontrol_defaults(high, low, kHighWaterSslWrite / 1024);
  }
  [[nodiscard]] std::pair<std::size_t, std::size_t> write_buffer_limits() const noexcept {
    return {m_outgoing_low_water, m_outgoing_high_water};
  }
  [[nodiscard]] std::size_t write_buffer_size() const noexcept {
    return m_outgoing.pending() + m_write_buffer_size;
  }
  void control_app_writing();
  [[nodiscard]] std::string raw_repr() const {
    return m_transport ? m_transport->repr() : std::string("None");
  }
  [[nodiscard]] State state() const noexcept { return m_state; }

 private:
  void set_read_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::tie(m_incoming_high_water, m_incoming_low_water) =
        flowcontrol_defaults(high, low, kHighWaterSslRead / 1024);
  }
  void wakeup_waiter(std::exception_ptr exc = nullptr) {
    if (!m_waiter) return;
    Future<void> waiter = std::move(m_waiter);
    m_waiter = Future<void>(nullptr);
    if (waiter.done()) return;  // cancelled
    if (exc) {
      waiter.set_exception(std::move(exc));
    } else {
      waiter.set_result();
    }
  }
  const std::shared_ptr<SSLProtocolTransport>& get_app_transport();
  void set_state(State new_state);

  // Handshake.
  void start_handshake();
  void check_handshake_timeout();
  void do_handshake();
  void on_handshake_complete(const std::exception_ptr& handshake_exc);

  // Shutdown.
  void check_shutdown_timeout();
  void do_flush() {
    do_read();
    set_state(State::SHUTDOWN);
    do_shutdown();
  }
  void do_shutdown();
  void on_shutdown_complete(std::exception_ptr shutdown_exc);

  // Outgoing.
  bool write_direct(std::string_view data);
  void do_write();
  void process_outgoing();

  // Incoming.
  void do_read();
  void do_read_buffered();
  void do_read_copied();
  void call_eof_received();
  void control_ssl_reading();

  /// Python's _fatal_error: closes the raw transport with exc (its connection_lost will
  /// carry exc) and reports exc unless it is an OSError or a cancellation.
  void fatal_error(const std::exception_ptr& exc,
                   const std::string& message = "Fatal error on transport");
  /// Python's transport._force_close(exc): an abort whose connection_lost() carries exc.
  void force_close(std::exception_ptr exc) {
    if (!m_transport) return;
    if (!m_force_close_exc) m_force_close_exc = std::move(exc);
    m_transport->abort();
  }

  EventLoop* m_loop;
  std::shared_ptr<ssl::SSLContext> m_sslcontext;
  bool m_server_side;
  std::optional<std::string> m_server_hostname;
  ExtraInfo m_extra;

  std::deque<std::string> m_write_backlog;
  std::size_t m_write_buffer_size = 0;

  Future<void> m_waiter;
  std::shared_ptr<BaseProtocol> m_app_protocol;
  Protocol* m_plain = nullptr;
  BufferedProtocol* m_buffered = nullptr;
  std::shared_ptr<SSLProtocolTransport> m_app_transport;
  bool m_app_transport_created = false;
  std::shared_ptr<Transport> m_transport;  // the raw transport
  bool m_connected = false;
  bool m_handshake_completed = false;
  double m_ssl_handshake_timeout;
  double m_ssl_shutdown_timeout;

  ssl::MemoryBIO m_incoming;
  ssl::MemoryBIO m_outgoing;
  State m_state = State::UNWRAPPED;
  int m_conn_lost = 0;
  AppState m_app_state;
  std::shared_ptr<ssl::SSLObject> m_sslobj;

  bool m_ssl_writing_paused = false;
  bool m_app_reading_paused = false;
  bool m_ssl_reading_paused = false;
  std::size_t m_incoming_high_water = 0;
  std::size_t m_incoming_low_water = 0;
  bool m_eof_received = false;
  bool m_app_writing_paused = false;
  std::size_t m_outgoing_high_water = 0;
  std::size_t m_outgoing_low_water = 0;

  TimerHandle m_handshake_timeout_handle;
  TimerHandle m_shutdown_timeout_handle;
  std::exception_ptr m_force_close_exc;
};

/// Python's sslproto._SSLProtocolTransport: what the application's protocol writes to.
class SSLProtocolTransport final : public Transport {
 public:
  explicit SSLProtocolTransport(std::shared_ptr<SSLProtocol> protocol)
      : m_ssl_protocol(std::move(protocol)) {}

  [[nodiscard]] std::any get_extra_info(std::string_view name, std::any default_) const override {
    return m_ssl_protocol->get_extra_info(name, std::move(default_));
  }
  [[nodiscard]] bool is_closing() const override { return m_closed; }
  void close() override {
    if (m_closed) return;
    m_closed = true;
    m_ssl_protocol->start_shutdown();
  }
  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    m_ssl_protocol->set_app_protocol(std::move(protocol));
  }
  [[nodiscard]] std::shared_ptr<BaseProtocol> get_protocol() const override {
    return m_ssl_protocol->app_protocol();
  }
  [[nodiscard]] std::string repr() const override {
    return fmt::format("<_SSLProtocolTransport{} transport={}>", m_closed ? " closed" : "",
                       m_ssl_protocol->raw_repr());
  }

  [[nodiscard]] bool is_reading() const override { return !m_ssl_protocol->app_reading_paused(); }
  void pause_reading() override { m_ssl_protocol->pause_reading(); }
  void resume_reading() override { m_ssl_protocol->resume_reading(); }

  /// The defaults are Python's for TLS: 512 KiB and a quarter of it.
  void set_write_buffer_limits(std::optional<std::size_t> high,
                               std::optional<std::size_t> low) override {
    m_ssl_protocol->set_write_buffer_limits(high, low);
    m_ssl_protocol->control_app_writing();
  }
  [[nodiscard]] std::size_t get_write_buffer_size() const override {
    return m_ssl_protocol->write_buffer_size();
  }
  [[nodiscard]] std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override {
    return m_ssl_protocol->write_buffer_limits();
  }
  void write(std::string_view data) override {
    if (data.empty()) return;
    m_ssl_protocol->write_appdata(std::span<const std::string_view>(&data, 1));
  }
  void writelines(std::span<const std::string_view> pieces) override {
    m_ssl_protocol->write_appdata(pieces);
  }
  /// TLS has no half-close: NotImplementedError, as in Python.
  void write_eof() override { throw NotImplementedError("write_eof"); }
  [[nodiscard]] bool can_write_eof() const override { return false; }
  void abort() override {
    m_closed = true;
    m_ssl_protocol->abort_connection();
  }

  bool m_closed = false;

 private:
  std::shared_ptr<SSLProtocol> m_ssl_protocol;
};

// ---- SSLProtocol ----------------------------------------------------------------------------

SSLProtocol::SSLProtocol(EventLoop& loop, std::shared_ptr<ssl::SSLContext> sslcontext,
                         Future<void> waiter, const Options& options)
    : m_loop(&loop),
      m_sslcontext(std::move(sslcontext)),
      m_server_side(options.server_side),
      m_waiter(std::move(waiter)),
      m_ssl_handshake_timeout(options.ssl_handshake_timeout.value_or(kSslHandshakeTimeout)),
      m_ssl_shutdown_timeout(options.ssl_shutdown_timeout.value_or(kSslShutdownTimeout)),
      m_app_state(options.call_connection_made ? AppState::INIT : AppState::CON_MADE) {
  if (options.server_hostname && !options.server_hostname->empty() && !options.server_side) {
    m_server_hostname = options.server_hostname;
  }
  m_extra.emplace_back("sslcontext", m_sslcontext);
  m_sslobj = m_sslcontext->wrap_bio(m_incoming, m_outgoing, m_server_side, m_server_hostname);
  set_read_buffer_limits(std::nullopt, std::nullopt);
  set_write_buffer_limits(std::nullopt, std::nullopt);
}

std::shared_ptr<SSLProtocol> SSLProtocol::create(EventLoop& loop,
                                                 std::shared_ptr<BaseProtocol> app_protocol,
                                                 std::shared_ptr<ssl::SSLContext> sslcontext,
                                                 Future<void> waiter, Options options) {
  if (options.ssl_handshake_timeout && !(*options.ssl_handshake_timeout > 0)) {
    throw ValueError(fmt::format("ssl_handshake_timeout should be a positive number, got {}",
                                 py_repr(*options.ssl_handshake_timeout)));
  }
  if (options.ssl_shutdown_timeout && !(*options.ssl_shutdown_timeout > 0)) {
    throw ValueError(fmt::format("ssl_shutdown_timeout should be a positive number, got {}",
                                 py_repr(*options.ssl_shutdown_timeout)));
  }
  if (!sslcontext) {
    // Python's _create_transport_context: ssl=True on a client.
    if (options.server_side) throw ValueError("Server side SSL needs a valid SSLContext");
    sslcontext = ssl::create_default_context();
    if (!options.server_hostname || options.server_hostname->empty()) {
      sslcontext->set_check_hostname(false);
    }
  }
  auto protocol =
      std::make_shared<SSLProtocol>(loop, std::move(sslcontext), std::move(waiter), options);
  protocol->set_app_protocol(std::move(app_protocol));
  protocol->get_app_transport();
  return protocol;
}

const std::shared_ptr<SSLProtocolTransport>& SSLProtocol::get_app_transport() {
  if (!m_app_transport) {
    if (m_app_transport_created) throw RuntimeError("Creating _SSLProtocolTransport twice");
    m_app_transport = std::make_shared<SSLProtocolTransport>(shared_from_this());
    m_app_transport_created = true;
  }
  return m_app_transport;
}

void SSLProtocol::connection_lost(std::exception_ptr exc) {
  const auto keep = shared_from_this();
  if (!exc) exc = std::exchange(m_force_close_exc, nullptr);
  m_write_backlog.clear();
  m_write_buffer_size = 0;
  (void)m_outgoing.read();
  ++m_conn_lost;
  if (m_app_transport) m_app_transport->m_closed = true;
  if (m_state != State::DO_HANDSHAKE &&
      (m_app_state == AppState::CON_MADE || m_app_state == AppState::EOF_RECEIVED)) {
    m_app_state = AppState::CON_LOST;
    m_loop->call_soon([protocol = m_app_protocol, exc] {
      if (protocol) protocol->connection_lost(exc);
    });
  }
  m_state = State::UNWRAPPED;
  m_transport.reset();
  m_app_transport.reset();
  m_app_protocol.reset();
  m_plain = nullptr;
  m_buffered = nullptr;
  // Python wakes the waiter with None when the connection goes without an error before the
  // handshake completed, and create_connection() then returns a dead transport; a
  // ConnectionResetError says what happened.
  if (!exc && !m_handshake_completed && m_waiter && !m_waiter.done()) {
    exc = std::make_exception_ptr(ConnectionResetError("Connection lost"));
  }
  wakeup_waiter(exc);
  m_shutdown_timeout_handle.cancel();
  m_handshake_timeout_handle.cancel();
}

void SSLProtocol::buffer_updated(std::size_t nbytes) {
  const auto keep = shared_from_this();
  m_incoming.write(std::string_view(scratch().incoming.data.get(), nbytes));
  switch (m_state) {
    case State::DO_HANDSHAKE:
      do_handshake();
      break;
    case State::WRAPPED:
      do_read();
      break;
    case State::FLUSHING:
      do_flush();
      break;
    case State::SHUTDOWN:
      do_shutdown();
      break;
    case State::UNWRAPPED:
      break;
  }
}

bool SSLProtocol::eof_received() {
  const auto keep = shared_from_this();
  m_eof_received = true;
  try {
    switch (m_state) {
      case State::DO_HANDSHAKE:
        on_handshake_complete(std::make_exception_ptr(
            ConnectionResetError("Connection reset by peer during the SSL handshake")));
        break;
      case State::WRAPPED:
        set_state(State::FLUSHING);
        if (m_app_reading_paused) return true;
        do_flush();
        break;
      case State::FLUSHING:
        do_write();
        set_state(State::SHUTDOWN);
        do_shutdown();
        break;
      case State::SHUTDOWN:
        do_shutdown();
        break;
      case State::UNWRAPPED:
        break;
    }
  } catch (...) {
    if (m_transport) m_transport->close();
    throw;
  }
  return false;
}

void SSLProtocol::set_state(State new_state) {
  // Python's table of transitions, one branch each.
  // NOLINTBEGIN(bugprone-branch-clone)
  bool allowed = false;
  if (new_state == State::UNWRAPPED) {
    allowed = true;
  } else if (m_state == State::UNWRAPPED && new_state == State::DO_HANDSHAKE) {
    allowed = true;
  } else if (m_state == State::DO_HANDSHAKE && new_state == State::WRAPPED) {
    allowed = true;
  } else if (m_state == State::WRAPPED && new_state == State::FLUSHING) {
    allowed = true;
  } else if (m_state == State::FLUSHING && new_state == State::SHUTDOWN) {
    allowed = true;
  }
  // NOLINTEND(bugprone-branch-clone)
  if (!allowed) {
    throw RuntimeError(fmt::format("cannot switch state from {} to {}", state_name(m_state),
                                   state_name(new_state)));
  }
  m_state = new_state;
}

// ---- handshake --------------------------------------------------------------------------------

void SSLProtocol::start_handshake() {
  set_state(State::DO_HANDSHAKE);
  // The timer holds no reference: a connection that is gone is not kept until it fires.
  m_handshake_timeout_handle =
      m_loop->call_later(m_ssl_handshake_timeout, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->check_handshake_timeout();
      });
  do_handshake();
}

void SSLProtocol::check_handshake_timeout() {
  if (m_state != State::DO_HANDSHAKE) return;
  fatal_error(std::make_exception_ptr(ConnectionAbortedError(
      fmt::format("SSL handshake is taking longer than {} seconds: aborting the connection",
                  py_repr(m_ssl_handshake_timeout)))));
}

void SSLProtocol::do_handshake() {
  try {
    if (m_sslobj->do_handshake_nb().status != ssl::SSLObject::Status::OK) {
      process_outgoing();
      return;
    }
  } catch (const ssl::SSLSyscallError&) {  // Python's SSLAgainErrors
    process_outgoing();
    return;
  } catch (const ssl::SSLError&) {
    on_handshake_complete(std::current_exception());
    return;
  }
  on_handshake_complete(nullptr);
}

void SSLProtocol::on_handshake_complete(const std::exception_ptr& handshake_exc) {
  m_handshake_timeout_handle.cancel();
  std::optional<ssl::PeerCertificate> peercert;
  try {
    if (handshake_exc) std::rethrow_exception(handshake_exc);
    set_state(State::WRAPPED);
    peercert = m_sslobj->getpeercert();
  } catch (...) {
    const std::exception_ptr exc = std::current_exception();
    set_state(State::UNWRAPPED);
    // The alert (if any) goes to the peer before the connection is closed.
    process_outgoing();
    fatal_error(exc, holds<ssl::SSLCertVerificationError>(exc)
                         ? "SSL handshake failed on verifying the certificate"
                         : "SSL handshake failed");
    wakeup_waiter(exc);
    return;
  }
  m_handshake_completed = true;
  m_extra.emplace_back("peercert", peercert ? std::any(std::move(*peercert)) : std::any());
  const std::optional<ssl::Cipher> cipher = m_sslobj->cipher();
  m_extra.emplace_back("cipher", cipher ? std::any(*cipher) : std::any());
  m_extra.emplace_back("compression", std::any());
  m_extra.emplace_back("ssl_object", m_sslobj.get());
  if (m_app_state == AppState::INIT) {
    m_app_state = AppState::CON_MADE;
    stream_connection_made(*m_app_protocol, get_app_transport());
  }
  wakeup_waiter();
  do_read();
}

// ---- shutdown ---------------------------------------------------------------------------------

void SSLProtocol::start_shutdown() {
  if (m_state == State::FLUSHING || m_state == State::SHUTDOWN || m_state == State::UNWRAPPED) {
    return;
  }
  if (m_app_transport) m_app_transport->m_closed = true;
  if (m_state == State::DO_HANDSHAKE) {
    abort_connection();
  } else {
    set_state(State::FLUSHING);
    m_shutdown_timeout_handle =
        m_loop->call_later(m_ssl_shutdown_timeout, [weak = weak_from_this()] {
          if (auto self = weak.lock()) self->check_shutdown_timeout();
        });
    do_flush();
  }
}

void SSLProtocol::check_shutdown_timeout() {
  if (m_state == State::FLUSHING || m_state == State::SHUTDOWN) {
    force_close(std::make_exception_ptr(TimeoutError("SSL shutdown timed out")));
  }
}

void SSLProtocol::do_shutdown() {
  try {
    if (!m_eof_received && m_sslobj->unwrap_nb().status != ssl::SSLObject::Status::OK) {
      process_outgoing();
      return;
    }
  } catch (const ssl::SSLSyscallError&) {
    process_outgoing();
    return;
  } catch (const ssl::SSLError&) {
    on_shutdown_complete(std::current_exception());
    return;
  }
  process_outgoing();
  call_eof_received();
  on_shutdown_complete(nullptr);
}

void SSLProtocol::on_shutdown_complete(std::exception_ptr shutdown_exc) {
  m_shutdown_timeout_handle.cancel();
  if (shutdown_exc) {
    fatal_error(std::move(shutdown_exc));
  } else if (m_transport) {
    m_loop->call_soon([transport = m_transport] { transport->close(); });
  }
}

// ---- outgoing -----------------------------------------------------------------------------------

void SSLProtocol::write_appdata(std::span<const std::string_view> pieces) {
  if (m_state == State::FLUSHING || m_state == State::SHUTDOWN || m_state == State::UNWRAPPED) {
    ++m_conn_lost;  // Python logs "SSL connection is closed" from the 5th on
    return;
  }
  try {
    std::size_t i = 0;
    // With nothing queued, the data goes straight into TLS records: no copy to a backlog.
    if (m_state == State::WRAPPED && m_write_backlog.empty()) {
      for (; i < pieces.size(); ++i) {
        if (!write_direct(pieces[i])) break;
      }
    }
    for (; i < pieces.size(); ++i) {
      if (pieces[i].empty()) continue;
      m_write_backlog.emplace_back(pieces[i]);
      m_write_buffer_size += pieces[i].size();
    }
    if (m_state == State::WRAPPED) do_write();
  } catch (...) {
    if (detail::is_exit_exception(std::current_exception())) throw;
    fatal_error(std::current_exception(), "Fatal error on SSL protocol");
  }
}

bool SSLProtocol::write_direct(std::string_view data) {
  if (data.empty()) return true;
  try {
    const auto r = m_sslobj->write_nb(data);
    if (r.status != ssl::SSLObject::Status::OK) return false;
    if (r.n < data.size()) {
      m_write_backlog.emplace_back(data.substr(r.n));
      m_write_buffer_size += data.size() - r.n;
      return false;
    }
  } catch (const ssl::SSLSyscallError&) {
    return false;
  }
  return true;
}

void SSLProtocol::do_write() {
  try {
    while (!m_write_backlog.empty()) {
      std::string& data = m_write_backlog.front();
      const auto r = m_sslobj->write_nb(data);
      if (r.status != ssl::SSLObject::Status::OK) break;
      if (r.n < data.size()) {
        data.erase(0, r.n);
        m_write_buffer_size -= r.n;
      } else {
        m_write_buffer_size -= data.size();
        m_write_backlog.pop_front();
      }
    }
  } catch (const ssl::SSLSyscallError&) {  // NOLINT(bugprone-empty-catch): Python's "pass"
  }
  process_outgoing();
}

void SSLProtocol::process_outgoing() {
  if (!m_ssl_writing_paused && m_transport) {
    const std::size_t pending = m_outgoing.pending();
    if (pending > 0) {
      ScratchLease buffer(scratch().outgoing);
      buffer->reserve(pending);
      const std::size_t n = m_outgoing.read(std::span<char>(buffer->data.get(), pending));
      m_transport->write(std::string_view(buffer->data.get(), n));
    }
  }
  control_app_writing();
}

// ---- incoming
// -------------------------------------------------------------------------------------

void SSLProtocol::do_read() {
  if (m_state != State::WRAPPED && m_state != State::FLUSHING) return;
  try {
    if (!m_app_reading_paused) {
      if (m_buffered != nullptr) {
        do_read_buffered();
      } else if (m_plain != nullptr) {
        do_read_copied();
      }
      if (!m_write_backlog.empty()) {
        do_write();
      } else {
        process_outgoing();
      }
    }
    control_ssl_reading();
  } catch (...) {
    if (detail::is_exit_exception(std::current_exception())) throw;
    fatal_error(std::current_exception(), "Fatal error on SSL protocol");
  }
}

void SSLProtocol::do_read_buffered() {
  BufferedProtocol* app = m_buffered;
  const auto app_keep = m_app_protocol;
  std::size_t offset = 0;
  bool zero = false;
  const std::span<char> buf = app->get_buffer(static_cast<std::ptrdiff_t>(m_incoming.pending()));
  const std::size_t wants = buf.size();
  try {
    auto r = m_sslobj->read_nb(buf);
    if (r.status == ssl::SSLObject::Status::ZERO_RETURN) {
      zero = true;
    } else if (r.status == ssl::SSLObject::Status::OK && r.n > 0) {
      offset = r.n;
      while (offset < wants) {
        r = m_sslobj->read_nb(buf.subspan(offset));
        if (r.status == ssl::SSLObject::Status::OK && r.n > 0) {
          offset += r.n;
        } else {
          zero = r.status == ssl::SSLObject::Status::ZERO_RETURN;
          break;
        }
      }
      if (offset == wants) {
        // The buffer is full: more may wait; read it at the next iteration.
        m_loop->call_soon([weak = weak_from_this()] {
          if (auto self = weak.lock()) self->do_read();
        });
      }
    }
  } catch (const ssl::SSLSyscallError&) {  // NOLINT(bugprone-empty-catch): Python's "pass"
  }
  if (offset > 0) app->buffer_updated(offset);
  if (zero) {
    call_eof_received();
    start_shutdown();
  }
}

void SSLProtocol::do_read_copied() {
  // Decrypt everything available into one buffer, then deliver it in one call (Python joins
  // the chunks it read).
  ScratchLease buffer(scratch().decrypted);
  buffer->reserve(kMaxSize);
  std::size_t used = 0;
  bool zero = false;
  try {
    for (;;) {
      if (buffer->size - used < std::size_t{16} * 1024) {
        ByteBuffer bigger;
        bigger.reserve(buffer->size * 2);
        std::copy_n(buffer->data.get(), used, bigger.data.get());
        *buffer = std::move(bigger);
      }
      const auto r =
          m_sslobj->read_nb(std::span<char>(buffer->data.get() + used, buffer->size - used));
      if (r.status == ssl::SSLObject::Status::ZERO_RETURN) {
        zero = true;
        break;
      }
      if (r.status != ssl::SSLObject::Status::OK || r.n == 0) break;
      used += r.n;
    }
  } catch (const ssl::SSLSyscallError&) {  // NOLINT(bugprone-empty-catch): Python's "pass"
  }
  if (used > 0) {
    const auto app_keep = m_app_protocol;
    m_plain->data_received(std::string_view(buffer->data.get(), used));
  }
  if (zero) {
    call_eof_received();
    start_shutdown();
  }
}

void SSLProtocol::call_eof_received() {
  try {
    if (m_app_state == AppState::CON_MADE) {
      m_app_state = AppState::EOF_RECEIVED;
      // Returning true has no effect with TLS (Python logs a warning).
      if (m_plain != nullptr) {
        (void)m_plain->eof_received();
      } else if (m_buffered != nullptr) {
        (void)m_buffered->eof_received();
      }
    }
  } catch (...) {
    if (detail::is_exit_exception(std::current_exception())) throw;
    fatal_error(std::current_exception(), "Error calling eof_received()");
  }
}

void SSLProtocol::control_app_writing() {
  const std::size_t size = write_buffer_size();
  if (!m_app_protocol) return;
  if (size >= m_outgoing_high_water && !m_app_writing_paused) {
    m_app_writing_paused = true;
    try {
      m_app_protocol->pause_writing();
    } catch (...) {
      if (detail::is_exit_exception(std::current_exception())) throw;
      m_loop->call_exception_handler({"protocol.pause_writing() failed", std::current_exception(),
                                      std::nullopt,
                                      m_app_transport ? m_app_transport->repr() : std::string()});
    }
  } else if (size <= m_outgoing_low_water && m_app_writing_paused) {
    m_app_writing_paused = false;
    try {
      m_app_protocol->resume_writing();
    } catch (...) {
      if (detail::is_exit_exception(std::current_exception())) throw;
      m_loop->call_exception_handler({"protocol.resume_writing() failed", std::current_exception(),
                                      std::nullopt,
                                      m_app_transport ? m_app_transport->repr() : std::string()});
    }
  }
}

void SSLProtocol::resume_reading() {
  if (!m_app_reading_paused) return;
  m_app_reading_paused = false;
  m_loop->call_soon([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    switch (self->m_state) {
      case State::WRAPPED:
        self->do_read();
        break;
      case State::FLUSHING:
        self->do_flush();
        break;
      case State::SHUTDOWN:
        self->do_shutdown();
        break;
      default:
        break;
    }
  });
}

void SSLProtocol::control_ssl_reading() {
  if (!m_transport) return;
  const std::size_t size = m_incoming.pending();
  if (size >= m_incoming_high_water && !m_ssl_reading_paused) {
    m_ssl_reading_paused = true;
    m_transport->pause_reading();
  } else if (size <= m_incoming_low_water && m_ssl_reading_paused) {
    m_ssl_reading_paused = false;
    m_transport->resume_reading();
  }
}

void SSLProtocol::fatal_error(const std::exception_ptr& exc, const std::string& message) {
  const std::shared_ptr<Transport> transport = m_transport;
  force_close(exc);
  if (!is_cancelled_error(exc)) report_transport_error(*m_loop, exc, message, transport.get());
}

}  // namespace

// ---- make_ssl_transport, start_tls ------------------------------------------------------------

Task<std::shared_ptr<Transport>> make_ssl_transport(EventLoop& loop, Socket sock,
                                                    std::shared_ptr<BaseProtocol> app_protocol,
                                                    TlsOptions tls, bool server_side,
                                                    ExtraInfo extra,
                                                    std::shared_ptr<ServerState> server) {
  Future<void> waiter(loop);
  const std::shared_ptr<SSLProtocol> protocol =
      SSLProtocol::create(loop, std::move(app_protocol), std::move(tls.ssl), waiter,
                          {.server_side = server_side,
                           .server_hostname = std::move(tls.server_hostname),
                           .call_connection_made = true,
                           .ssl_handshake_timeout = tls.ssl_handshake_timeout,
                           .ssl_shutdown_timeout = tls.ssl_shutdown_timeout});
  const std::shared_ptr<SSLProtocolTransport> transport = protocol->app_transport();
  try {
    make_socket_transport(loop, std::move(sock), protocol, std::move(extra), std::move(server));
  } catch (...) {
    if (!protocol->connected()) protocol->detach();
    throw;
  }
  try {
    co_await waiter;
  } catch (...) {
    transport->close();
    throw;
  }
  co_return transport;
}

}  // namespace detail

Task<std::shared_ptr<Transport>> start_tls(EventLoop& loop, std::shared_ptr<Transport> transport,
                                           std::shared_ptr<BaseProtocol> protocol,
                                           std::shared_ptr<ssl::SSLContext> sslcontext,
                                           StartTlsOptions options) {
  if (!sslcontext) {
    throw TypeError("sslcontext is expected to be an instance of ssl.SSLContext, got None");
  }
  if (!transport) throw TypeError("transport None is not supported by start_tls()");
  try {
    (void)transport->get_protocol();
  } catch (const NotImplementedError&) {
    throw TypeError(fmt::format("transport {} is not supported by start_tls()", transport->repr()));
  }
  Future<void> waiter(loop);
  const std::shared_ptr<detail::SSLProtocol> ssl_protocol =
      detail::SSLProtocol::create(loop, std::move(protocol), std::move(sslcontext), waiter,
                                  {.server_side = options.server_side,
                                   .server_hostname = std::move(options.server_hostname),
                                   .call_connection_made = false,
                                   .ssl_handshake_timeout = options.ssl_handshake_timeout,
                                   .ssl_shutdown_timeout = options.ssl_shutdown_timeout});
  // Pause early, so that the SSL protocol gets no data before its connection_made().
  transport->pause_reading();
  try {
    transport->set_protocol(ssl_protocol);
  } catch (...) {
    ssl_protocol->detach();
    throw;
  }
  Handle conmade =
      loop.call_soon([ssl_protocol, transport] { ssl_protocol->connection_made(transport); });
  Handle resume = loop.call_soon([transport] { transport->resume_reading(); });
  try {
    co_await waiter;
  } catch (...) {
    transport->close();
    conmade.cancel();
    resume.cancel();
    throw;
  }
  co_return ssl_protocol->app_transport();
}

}  // namespace batteries::asyncio
