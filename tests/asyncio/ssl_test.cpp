// Tests of TLS: batteries::ssl (contexts, objects, errors, against CPython's messages) and
// asyncio's TLS transports (create_connection / create_server with ssl, start_tls, streams),
// over loopback only, with certificates made at run time. Every test checks that it leaves
// no descriptor open.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <batteries/asyncio.hpp>
#include <batteries/asyncio/streams.hpp>
#include <batteries/asyncio/transports.hpp>
#include <batteries/ssl.hpp>
#include <cerrno>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "certs.hpp"
#include "fd_leaks.hpp"
#include "fs.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
namespace ssl = batteries::ssl;
using aio::Task;
using batteries::testing::test_certs;

// ASSERT_* returns, which a coroutine cannot: this one co_returns.
#define CO_ASSERT_TRUE(cond)                       \
  do {                                             \
    if (!(cond)) {                                 \
      ADD_FAILURE() << "assertion failed: " #cond; \
      co_return;                                   \
    }                                              \
  } while (false)

namespace {

// The certificates are made first: their files are closed, but OpenSSL's first use may keep
// something open.
struct CertsMade {
  CertsMade() { test_certs(); }
};

// Checks, at the end of a test, that it left no descriptor open (after making the
// certificates: the bases are made in order).
class NoFdLeak : private CertsMade, public batteries::testing::NoFdLeak {};

std::shared_ptr<ssl::SSLContext> server_context(const std::string& cert, const std::string& key) {
  auto ctx = ssl::SSLContext::create(ssl::PROTOCOL_TLS_SERVER);
  ctx->load_cert_chain(cert, key);
  return ctx;
}
std::shared_ptr<ssl::SSLContext> server_context() {
  return server_context(test_certs().server_cert, test_certs().server_key);
}
std::shared_ptr<ssl::SSLContext> client_context() {
  return ssl::create_default_context(ssl::Purpose::SERVER_AUTH, {.cafile = test_certs().ca_cert});
}

std::string py_str(const std::string& s) { return batteries::py_repr(s); }

// ---- a client and a server SSLObject joined in memory ------------------------------------------

struct MemoryPair {
  ssl::MemoryBIO c_in, c_out, s_in, s_out;
  std::shared_ptr<ssl::SSLObject> client;
  std::shared_ptr<ssl::SSLObject> server;

  MemoryPair(const std::shared_ptr<ssl::SSLContext>& cctx,
             const std::shared_ptr<ssl::SSLContext>& sctx,
             const std::optional<std::string>& hostname = "localhost")
      : client(cctx->wrap_bio(c_in, c_out, false, hostname)),
        server(sctx->wrap_bio(s_in, s_out, true)) {}

  // Moves the records each side wrote to the other.
  void pump() {
    for (int i = 0; i < 100 && (c_out.pending() > 0 || s_out.pending() > 0); ++i) {
      if (c_out.pending() > 0) s_in.write(c_out.read());
      if (s_out.pending() > 0) c_in.write(s_out.read());
    }
  }
  // Runs both handshakes to the end; the first failure is raised.
  void handshake() {
    bool client_done = false;
    bool server_done = false;
    for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
      if (!client_done) {
        try {
          client->do_handshake();
          client_done = true;
        } catch (const ssl::SSLWantReadError&) {  // NOLINT(bugprone-empty-catch)
        }
      }
      pump();
      if (!server_done) {
        try {
          server->do_handshake();
          server_done = true;
        } catch (const ssl::SSLWantReadError&) {  // NOLINT(bugprone-empty-catch)
        }
      }
      pump();
    }
    ASSERT_TRUE(client_done && server_done);
  }
};

// ---- asyncio helpers ----------------------------------------------------------------------------

// Waits (polling) until pred holds; TimeoutError after a generous bound, so that a broken
// test fails instead of hanging. (A template: GCC 12 mishandles arguments with destructors,
// such as a std::function, inside a co_await expression; a [&] lambda has none. For the same
// reason the tests name every task before awaiting it.)
template <class F>
Task<void> until(F pred, double bound = 30.0) {
  auto& loop = aio::get_running_loop();
  const double end = loop.time() + bound;
  while (!pred()) {
    if (loop.time() > end) throw batteries::TimeoutError("condition not met in time");
    co_await aio::sleep(0.001);
  }
}

std::uint16_t port_of(const aio::Server& server) {
  return std::get<aio::InetAddress>(server.sockets().at(0).getsockname()).port;
}

// A protocol that records what happens to it.
class Recorder : public aio::Protocol {
 public:
  void connection_made(std::shared_ptr<aio::Transport> t) override {
    transport = std::move(t);
    made = true;
    if (on_made) on_made(*this);
  }
  void data_received(std::string_view d) override {
    data.append(d);
    if (on_data) on_data(*this, d);
  }
  bool eof_received() override {
    eof = true;
    return false;
  }
  void connection_lost(std::exception_ptr e) override {
    exc = std::move(e);
    lost = true;
  }
  void pause_writing() override {
    paused = true;
    ++pauses;
  }
  void resume_writing() override { paused = false; }

  std::shared_ptr<aio::Transport> transport;
  std::string data;
  std::exception_ptr exc;
  bool made = false;
  bool eof = false;
  bool lost = false;
  bool paused = false;
  int pauses = 0;
  std::function<void(Recorder&)> on_made;
  std::function<void(Recorder&, std::string_view)> on_data;
};

// Makes the kernel's buffers of a transport's socket small, so that flow control shows soon.
void shrink_socket_buffers(const aio::Transport& transport) {
  auto* sock = std::any_cast<aio::Socket*>(transport.get_extra_info("socket"));
  sock->setsockopt(SOL_SOCKET, SO_SNDBUF, 64 * 1024);
  sock->setsockopt(SOL_SOCKET, SO_RCVBUF, 64 * 1024);
}

// Echoes what it receives, pausing its reading while its own writes are paused.
class Echo : public aio::Protocol {
 public:
  void connection_made(std::shared_ptr<aio::Transport> t) override {
    transport = std::move(t);
    if (small_buffers) shrink_socket_buffers(*transport);
  }
  void data_received(std::string_view d) override {
    received += d.size();
    transport->write(d);
    max_buffered = std::max(max_buffered, transport->get_write_buffer_size());
  }
  void pause_writing() override {
    ++pauses;
    transport->pause_reading();
  }
  void resume_writing() override { transport->resume_reading(); }
  void connection_lost(std::exception_ptr e) override {
    exc = std::move(e);
    lost = true;
  }
  std::shared_ptr<aio::Transport> transport;
  std::size_t received = 0;
  std::size_t max_buffered = 0;
  int pauses = 0;
  bool lost = false;
  bool small_buffers = false;
  std::exception_ptr exc;
};

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

std::string what(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "?";
  }
}

// Records what reaches the loop's exception handler.
struct HandlerLog {
  std::vector<std::string> messages;
  void install(aio::EventLoop& loop) {
    loop.set_exception_handler([this](aio::EventLoop&, const aio::ExceptionContext& c) {
      messages.push_back(c.message + ": " + (c.exception ? what(c.exception) : ""));
    });
  }
};

// Starts a TLS (or plain) server on 127.0.0.1 with the given factory.
template <class F>
Task<aio::Server> serve(F factory, aio::CreateServerOptions options = {}) {
  auto& loop = aio::get_running_loop();
  std::optional<std::string> host = "127.0.0.1";
  auto starting = aio::create_server(loop, std::move(factory), host, 0, std::move(options));
  co_return co_await std::move(starting);
}

template <class P>
Task<std::pair<std::shared_ptr<aio::Transport>, std::shared_ptr<P>>> connect(
    std::shared_ptr<P> protocol, std::uint16_t port, aio::CreateConnectionOptions options = {}) {
  auto& loop = aio::get_running_loop();
  std::optional<std::string> host = "127.0.0.1";
  auto connecting = aio::create_connection(
      loop, [protocol] { return protocol; }, host, static_cast<int>(port), std::move(options));
  co_return co_await std::move(connecting);
}

Task<void> close_server(aio::Server server) {
  server.close();
  co_await server.wait_closed();
}

// =================================================================================================
// The ssl module
// =================================================================================================

TEST(SslContext, DefaultsAreCPythons) {
  NoFdLeak check;
  auto client = ssl::create_default_context();
  auto server = ssl::SSLContext::create(ssl::PROTOCOL_TLS_SERVER);
  EXPECT_EQ(client->protocol(), ssl::PROTOCOL_TLS_CLIENT);
  EXPECT_TRUE(client->check_hostname());
  EXPECT_EQ(client->verify_mode(), ssl::CERT_REQUIRED);
  EXPECT_FALSE(server->check_hostname());
  EXPECT_EQ(server->verify_mode(), ssl::CERT_NONE);
  EXPECT_EQ(client->minimum_version(), ssl::TLSVersion::TLSv1_2);
  EXPECT_EQ(client->maximum_version(), ssl::TLSVersion::MAXIMUM_SUPPORTED);
  EXPECT_EQ(client->verify_flags(), ssl::VERIFY_X509_TRUSTED_FIRST);
  EXPECT_NE(client->options() & ssl::OP_NO_COMPRESSION, 0U);
  EXPECT_FALSE(ssl::openssl_version().empty());

  const auto out = batteries::testing::run_python(
      "import ssl\n"
      "c = ssl.create_default_context()\n"
      "s = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
      "print(int(c.options), int(s.options), int(c.verify_mode), int(s.verify_mode),\n"
      "      int(c.minimum_version), int(c.maximum_version), int(c.verify_flags),\n"
      "      c.check_hostname, s.check_hostname, c.security_level)\n");
  if (!out) GTEST_SKIP() << "no python3";
  const std::string ours = fmt::format(
      "{} {} {} {} {} {} {} {} {} {}\n", client->options(), server->options(),
      static_cast<int>(client->verify_mode()), static_cast<int>(server->verify_mode()),
      static_cast<int>(client->minimum_version()), static_cast<int>(client->maximum_version()),
      client->verify_flags(), client->check_hostname() ? "True" : "False",
      server->check_hostname() ? "True" : "False", client->security_level());
  EXPECT_EQ(ours, *out);
}

TEST(SslContext, VerifyModeAndCheckHostname) {
  NoFdLeak check;
  auto client = ssl::create_default_context();
  EXPECT_RAISES_MSG(client->set_verify_mode(ssl::CERT_NONE), batteries::ValueError,
                    "Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
  client->set_check_hostname(false);
  client->set_verify_mode(ssl::CERT_NONE);
  EXPECT_EQ(client->verify_mode(), ssl::CERT_NONE);
  client->set_verify_mode(ssl::CERT_OPTIONAL);
  EXPECT_EQ(client->verify_mode(), ssl::CERT_OPTIONAL);

  auto server = ssl::SSLContext::create(ssl::PROTOCOL_TLS_SERVER);
  server->set_check_hostname(true);  // turns CERT_NONE into CERT_REQUIRED, as Python does
  EXPECT_EQ(server->verify_mode(), ssl::CERT_REQUIRED);

  EXPECT_RAISES_MSG(client->set_sni_callback([](auto&, auto, auto&) { return std::nullopt; }),
                    batteries::ValueError, "sni_callback cannot be set on TLS_CLIENT context");

  server->set_minimum_version(ssl::TLSVersion::TLSv1_3);
  EXPECT_EQ(server->minimum_version(), ssl::TLSVersion::TLSv1_3);
  server->set_maximum_version(ssl::TLSVersion::TLSv1_3);
  EXPECT_EQ(server->maximum_version(), ssl::TLSVersion::TLSv1_3);
  server->set_maximum_version(ssl::TLSVersion::MAXIMUM_SUPPORTED);
  EXPECT_EQ(server->maximum_version(), ssl::TLSVersion::MAXIMUM_SUPPORTED);

  const ssl::Options before = server->options();
  server->set_options(before | ssl::OP_NO_TICKET);
  EXPECT_EQ(server->options(), before | ssl::OP_NO_TICKET);
  server->set_options(before);
  EXPECT_EQ(server->options(), before);

  server->set_verify_flags(ssl::VERIFY_X509_STRICT);
  EXPECT_EQ(server->verify_flags(), ssl::VERIFY_X509_STRICT);

  EXPECT_RAISES_MSG(client->set_ciphers("nonsense"), ssl::SSLError, "No cipher can be selected.");
  client->set_ciphers("ECDHE+AESGCM");
  EXPECT_RAISES_MSG(client->set_alpn_protocols({""}), ssl::SSLError,
                    "ALPN protocols must be 1 to 255 in length");
  EXPECT_RAISES_MSG(client->set_alpn_protocols({std::string(256, 'x')}), ssl::SSLError,
                    "ALPN protocols must be 1 to 255 in length");
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  client->set_alpn_protocols(alpn);
}

TEST(SslContext, LoadCertChainErrors) {
  NoFdLeak check;
  const auto& certs = test_certs();
  const std::string dir = batteries::testing::make_temp_dir("batteries-ssl");
  const std::string garbage = dir + "/garbage.pem";
  batteries::testing::write_file(garbage, "this is not PEM\n");
  auto ctx = ssl::SSLContext::create(ssl::PROTOCOL_TLS_SERVER);

  try {
    ctx->load_cert_chain(dir + "/missing.pem");
    ADD_FAILURE() << "no exception";
  } catch (const batteries::FileNotFoundError& e) {
    EXPECT_EQ(e.errno_(), ENOENT);
    EXPECT_EQ(e.filename(), dir + "/missing.pem");
  }
  std::string pem_lib;
  try {
    ctx->load_cert_chain(garbage);
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLError& e) {
    pem_lib = e.what();
    EXPECT_EQ(pem_lib, "[SSL] PEM lib");
    EXPECT_EQ(e.library(), "SSL");
    EXPECT_EQ(e.reason(), std::nullopt);
  }
  std::string mismatch;
  try {
    ctx->load_cert_chain(certs.server_cert, certs.client_key);
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLError& e) {
    mismatch = e.what();
    EXPECT_EQ(mismatch, "[X509: KEY_VALUES_MISMATCH] key values mismatch");
    EXPECT_EQ(e.library(), "X509");
    EXPECT_EQ(e.reason(), "KEY_VALUES_MISMATCH");
    EXPECT_EQ(e.repr().rfind("SSLError(", 0), 0U) << e.repr();
  }
  std::string wrong_password;
  try {
    ctx->load_cert_chain(certs.server_cert, certs.server_key_encrypted, std::string("nope"));
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLError& e) {
    wrong_password = e.what();
  }
  // No password: an error, not a prompt on the terminal.
  EXPECT_RAISES(ctx->load_cert_chain(certs.server_cert, certs.server_key_encrypted), ssl::SSLError);
  ctx->load_cert_chain(certs.server_cert, certs.server_key_encrypted, std::string("secret"));
  int calls = 0;
  ctx->load_cert_chain(certs.server_cert, certs.server_key_encrypted,
                       std::function<std::string()>([&] {
                         ++calls;
                         return std::string("secret");
                       }));
  EXPECT_EQ(calls, 1);
  EXPECT_RAISES_MSG(ctx->load_cert_chain(certs.server_cert, certs.server_key_encrypted,
                                         std::function<std::string()>([]() -> std::string {
                                           throw batteries::KeyError("from the callback");
                                         })),
                    batteries::KeyError, "from the callback");
  ctx->load_cert_chain(certs.server_combined);

  std::string no_cert;
  try {
    ctx->load_verify_locations(garbage);
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLError& e) {
    no_cert = e.what();
    EXPECT_EQ(no_cert, "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found");
  }
  std::string bad_cadata;
  try {
    ctx->load_verify_locations(std::nullopt, std::nullopt, std::string("garbage"));
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLError& e) {
    bad_cadata = e.what();
  }
  EXPECT_RAISES_MSG(ctx->load_verify_locations(), batteries::TypeError,
                    "cafile, capath and cadata cannot be all omitted");
  EXPECT_RAISES(ctx->load_verify_locations(dir + "/missing.pem"), batteries::FileNotFoundError);
  // cadata as PEM text and as DER bytes.
  const std::string ca_pem = batteries::testing::read_file(certs.ca_cert);
  ctx->load_verify_locations(std::nullopt, std::nullopt, ca_pem);
  ctx->load_verify_locations(std::nullopt, std::nullopt, ssl::PEM_cert_to_DER_cert(ca_pem));
  EXPECT_EQ(ssl::DER_cert_to_PEM_cert(ssl::PEM_cert_to_DER_cert(ca_pem)), ca_pem);
  EXPECT_RAISES_MSG((void)ssl::PEM_cert_to_DER_cert("x"), batteries::ValueError,
                    "Invalid PEM encoding; must start with -----BEGIN CERTIFICATE-----");

  // The same mistakes in CPython give the same messages.
  const auto out = batteries::testing::run_python(
      "import ssl\n"
      "def err(f):\n"
      "    try:\n"
      "        f()\n"
      "    except Exception as e:\n"
      "        print(str(e).rsplit(' (_ssl.c:', 1)[0])\n"
      "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
      "err(lambda: ctx.load_cert_chain(" +
      py_str(garbage) +
      "))\n"
      "err(lambda: ctx.load_cert_chain(" +
      py_str(certs.server_cert) + ", " + py_str(certs.client_key) +
      "))\n"
      "err(lambda: ctx.load_cert_chain(" +
      py_str(certs.server_cert) + ", " + py_str(certs.server_key_encrypted) +
      ", password='nope'))\n"
      "err(lambda: ctx.load_verify_locations(" +
      py_str(garbage) +
      "))\n"
      "err(lambda: ctx.load_verify_locations(cadata='garbage'))\n");
  batteries::testing::remove_tree(dir);
  if (!out) GTEST_SKIP() << "no python3";
  EXPECT_EQ(
      pem_lib + "\n" + mismatch + "\n" + wrong_password + "\n" + no_cert + "\n" + bad_cadata + "\n",
      *out);
}

TEST(SslContext, MemoryBio) {
  ssl::MemoryBIO bio;
  EXPECT_EQ(bio.pending(), 0U);
  EXPECT_FALSE(bio.eof());
  EXPECT_EQ(bio.write("hello world"), 11U);
  EXPECT_EQ(bio.pending(), 11U);
  EXPECT_EQ(bio.read(5), "hello");
  EXPECT_EQ(bio.read(), " world");
  EXPECT_EQ(bio.read(), "");
  bio.write("x");
  bio.write_eof();
  EXPECT_FALSE(bio.eof());  // not while it holds data
  EXPECT_EQ(bio.read(), "x");
  EXPECT_TRUE(bio.eof());
  EXPECT_RAISES_MSG(bio.write("y"), ssl::SSLError, "cannot write() after write_eof()");
}

// ---- SSLObject over memory BIOs
// ------------------------------------------------------------------

TEST(SslObject, HandshakeAndDataInMemory) {
  NoFdLeak check;
  auto cctx = client_context();
  auto sctx = server_context();
  cctx->set_alpn_protocols({"h2", "http/1.1"});
  sctx->set_alpn_protocols({"http/1.1"});
  MemoryPair pair(cctx, sctx);

  EXPECT_RAISES_MSG((void)pair.client->getpeercert(), batteries::ValueError,
                    "handshake not done yet");
  EXPECT_EQ(pair.client->version(), std::nullopt);
  EXPECT_EQ(pair.client->cipher(), std::nullopt);
  try {
    (void)pair.client->read();
    ADD_FAILURE() << "no exception";
  } catch (const ssl::SSLWantReadError& e) {
    EXPECT_STREQ(e.what(), "The operation did not complete (read)");
    EXPECT_EQ(e.errno_(), 2);
  }

  pair.handshake();
  EXPECT_EQ(pair.client->version(), "TLSv1.3");
  EXPECT_EQ(pair.server->version(), "TLSv1.3");
  const auto cipher = pair.client->cipher();
  ASSERT_TRUE(cipher);
  EXPECT_EQ(cipher->protocol, "TLSv1.3");
  EXPECT_GT(cipher->bits, 0);
  EXPECT_EQ(pair.client->cipher(), pair.server->cipher());
  EXPECT_EQ(pair.client->selected_alpn_protocol(), "http/1.1");
  EXPECT_EQ(pair.server->selected_alpn_protocol(), "http/1.1");
  EXPECT_FALSE(pair.client->server_side());
  EXPECT_TRUE(pair.server->server_side());
  EXPECT_EQ(pair.client->server_hostname(), "localhost");
  EXPECT_EQ(pair.server->server_hostname(), std::nullopt);
  EXPECT_EQ(pair.client->context(), cctx);
  EXPECT_EQ(pair.client->compression(), std::nullopt);
  EXPECT_TRUE(pair.server->shared_ciphers().has_value());
  EXPECT_EQ(pair.client->shared_ciphers(), std::nullopt);

  const auto peer = pair.client->getpeercert();
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->subject.back(), (ssl::RelativeDistinguishedName{{"commonName", "localhost"}}));
  EXPECT_EQ(peer->issuer.back(),
            (ssl::RelativeDistinguishedName{{"commonName", "batteries test CA"}}));
  EXPECT_EQ(peer->version, 3);
  EXPECT_EQ(peer->serialNumber, "1234ABCD");
  EXPECT_EQ(pair.client->getpeercert(true),
            ssl::PEM_cert_to_DER_cert(batteries::testing::read_file(test_certs().server_cert)));
  EXPECT_EQ(pair.server->getpeercert(), std::nullopt);  // no client certificate

  // Application data both ways.
  EXPECT_EQ(pair.client->write("ping"), 4U);
  pair.pump();
  EXPECT_EQ(pair.server->read(), "ping");
  pair.server->write(std::string(100000, 'z'));
  pair.pump();
  std::string got;
  while (got.size() < 100000) got += pair.client->read(1U << 20U);
  EXPECT_EQ(got, std::string(100000, 'z'));
  EXPECT_EQ(pair.client->pending(), 0U);

  // The shutdown: close_notify one way, then the other.
  EXPECT_RAISES(pair.client->unwrap(), ssl::SSLWantReadError);
  pair.pump();
  EXPECT_EQ(pair.server->read(), "");  // close_notify
  pair.server->unwrap();
  pair.pump();
  pair.client->unwrap();
}

TEST(SslObject, WrapBioErrors) {
  ssl::MemoryBIO a;
  ssl::MemoryBIO b;
  auto client = client_context();
  auto server = server_context();
  EXPECT_RAISES_MSG((void)client->wrap_bio(a, b, true), ssl::SSLError,
                    "Cannot create a server socket with a PROTOCOL_TLS_CLIENT context");
  EXPECT_RAISES_MSG((void)server->wrap_bio(a, b, false), ssl::SSLError,
                    "Cannot create a client socket with a PROTOCOL_TLS_SERVER context");
  EXPECT_RAISES_MSG((void)client->wrap_bio(a, b, false, ""), batteries::ValueError,
                    "server_hostname cannot be an empty string or start with a leading dot.");
  EXPECT_RAISES(client->wrap_bio(a, b, false, ".example.com"), batteries::ValueError);
  auto object = client->wrap_bio(a, b, false, "localhost");
  EXPECT_RAISES_MSG(object->set_context(nullptr), batteries::TypeError,
                    "The value must be a SSLContext");
  EXPECT_RAISES_MSG((void)object->get_channel_binding("tls-server-end-point"),
                    batteries::ValueError, "channel binding type not implemented");
}

TEST(SslObject, GarbageAndUnexpectedEof) {
  NoFdLeak check;
  auto cctx = client_context();
  std::string garbage_message;
  std::string eof_message;
  {
    ssl::MemoryBIO in;
    ssl::MemoryBIO out;
    auto client = cctx->wrap_bio(in, out, false, "localhost");
    EXPECT_RAISES(client->do_handshake(), ssl::SSLWantReadError);
    in.write(std::string("HTTP/1.1 400 Bad Request\r\n\r\n"));
    try {
      client->do_handshake();
      ADD_FAILURE() << "no exception";
    } catch (const ssl::SSLError& e) {
      garbage_message = e.what();
      EXPECT_EQ(e.type_name(), "SSLError");
      EXPECT_EQ(e.errno_(), 1);
      EXPECT_EQ(e.library(), "SSL");
      EXPECT_EQ(e.reason(), "WRONG_VERSION_NUMBER");
    }
  }
  {
    ssl::MemoryBIO in;
    ssl::MemoryBIO out;
    auto client = cctx->wrap_bio(in, out, false, "localhost");
    EXPECT_RAISES(client->do_handshake(), ssl::SSLWantReadError);
    in.write_eof();
    try {
      client->do_handshake();
      ADD_FAILURE() << "no exception";
    } catch (const ssl::SSLEOFError& e) {
      eof_message = e.what();
      EXPECT_EQ(e.errno_(), ssl::SSL_ERROR_EOF);
    }
  }
  EXPECT_EQ(garbage_message, "[SSL: WRONG_VERSION_NUMBER] wrong version number");
  EXPECT_EQ(eof_message,
            "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol");
}

// A verified client against each bad certificate, in memory: the exception, its message and
// its verify_code, compared with CPython's.
TEST(SslObject, CertificateVerificationFailures) {
  NoFdLeak check;
  const auto& certs = test_certs();
  struct Case {
    std::string cert;
    std::string key;
    std::string hostname;
    std::string message;
    long code;
  };
  const std::vector<Case> cases = {
      {certs.untrusted_cert, certs.untrusted_key, "localhost",
       "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer "
       "certificate",
       20},
      {certs.server_cert, certs.server_key, "example.com",
       "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, "
       "certificate is not valid for 'example.com'.",
       62},
      {certs.server_cert, certs.server_key, "127.0.0.2",
       "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, "
       "certificate is not valid for '127.0.0.2'.",
       64},
      {certs.expired_cert, certs.expired_key, "localhost",
       "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired", 10},
  };
  std::string python = "import ssl\n";
  for (const Case& c : cases) {
    MemoryPair pair(client_context(), server_context(c.cert, c.key), c.hostname);
    try {
      pair.handshake();
      ADD_FAILURE() << "no exception for " << c.hostname;
    } catch (const ssl::CertificateError& e) {
      EXPECT_EQ(std::string(e.what()), c.message);
      EXPECT_EQ(e.verify_code(), c.code);
      EXPECT_EQ(e.type_name(), "SSLCertVerificationError");
      EXPECT_EQ(e.errno_(), 1);
      EXPECT_EQ(e.reason(), "CERTIFICATE_VERIFY_FAILED");
      EXPECT_NE(dynamic_cast<const batteries::OSError*>(&e), nullptr);
    }
    python +=
        "c = ssl.create_default_context(cafile=" + py_str(certs.ca_cert) + ")\n" +
        "s = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n" + "s.load_cert_chain(" + py_str(c.cert) +
        ", " + py_str(c.key) + ")\n" +
        "ci, co, si, so = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()\n"
        "a = c.wrap_bio(ci, co, server_hostname=" +
        py_str(c.hostname) + ")\n" +
        "b = s.wrap_bio(si, so, server_side=True)\n"
        "try:\n"
        "    for i in range(10):\n"
        "        for o in (a, b):\n"
        "            try:\n"
        "                o.do_handshake()\n"
        "            except ssl.SSLWantReadError:\n"
        "                pass\n"
        "            si.write(co.read()); ci.write(so.read())\n"
        "except ssl.SSLCertVerificationError as e:\n"
        "    print(str(e).rsplit(' (_ssl.c:', 1)[0], e.verify_code)\n";
  }
  const auto out = batteries::testing::run_python(python);
  if (!out) GTEST_SKIP() << "no python3";
  std::string expected;
  for (const Case& c : cases) expected += c.message + " " + std::to_string(c.code) + "\n";
  EXPECT_EQ(*out, expected);
}

TEST(SslObject, PeerCertificateIsCPythons) {
  NoFdLeak check;
  MemoryPair pair(client_context(), server_context());
  pair.handshake();
  const auto peer = pair.client->getpeercert();
  ASSERT_TRUE(peer);
  EXPECT_EQ(
      peer->subjectAltName,
      (std::vector<std::pair<std::string, std::string>>{
          {"DNS", "localhost"}, {"IP Address", "127.0.0.1"}, {"IP Address", "0:0:0:0:0:0:0:1"}}));
  EXPECT_EQ(peer->OCSP, std::vector<std::string>{"http://ocsp.example.com/"});
  EXPECT_EQ(peer->caIssuers, std::vector<std::string>{"http://ca.example.com/ca.der"});
  EXPECT_EQ(peer->crlDistributionPoints, std::vector<std::string>{"http://crl.example.com/ca.crl"});
  EXPECT_EQ(fmt::format("{}", *peer), peer->repr());

  // An unverified peer certificate is an empty dict, as in Python.
  auto lax = ssl::SSLContext::create(ssl::PROTOCOL_TLS_CLIENT);
  lax->set_check_hostname(false);
  lax->set_verify_mode(ssl::CERT_NONE);
  MemoryPair unverified(lax, server_context(), std::nullopt);
  unverified.handshake();
  const auto empty = unverified.client->getpeercert();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->repr(), "{}");
  EXPECT_TRUE(unverified.client->getpeercert(true).has_value());

  const auto out =
      batteries::testing::run_python("import ssl\nprint(repr(ssl._ssl._test_decode_cert(" +
                                     py_str(test_certs().server_cert) + ")))\n");
  if (!out) GTEST_SKIP() << "no python3";
  EXPECT_EQ(peer->repr() + "\n", *out);
}

TEST(SslObject, ClientWithoutHostnameChecksNoName) {
  // Python's escape hatch (server_hostname=''): the chain is verified, no name is checked.
  MemoryPair pair(client_context(),
                  server_context(test_certs().other_host_cert, test_certs().other_host_key),
                  std::nullopt);
  pair.handshake();
  EXPECT_TRUE(pair.client->getpeercert().has_value());
  // But an unknown CA still fails.
  MemoryPair untrusted(client_context(),
                       server_context(test_certs().untrusted_cert, test_certs().untrusted_key),
                       std::nullopt);
  EXPECT_RAISES(untrusted.handshake(), ssl::SSLCertVerificationError);
}

// =================================================================================================
// asyncio over TLS
// =================================================================================================

TEST(Tls, EchoRoundTripAndExtraInfo) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    HandlerLog log;
    log.install(aio::get_running_loop());
    auto server_protocol = std::make_shared<Echo>();
    auto sctx = server_context();
    auto awaiting1 = serve([server_protocol] { return server_protocol; }, {.ssl = sctx});
    aio::Server server = co_await std::move(awaiting1);
    auto client = std::make_shared<Recorder>();
    auto cctx = client_context();
    auto awaiting2 =
        connect(client, port_of(server), {.ssl = cctx, .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting2);
    EXPECT_EQ(protocol, client);
    EXPECT_TRUE(client->made);
    EXPECT_EQ(client->transport, transport);

    auto* object = std::any_cast<ssl::SSLObject*>(transport->get_extra_info("ssl_object"));
    CO_ASSERT_TRUE(object != nullptr);
    EXPECT_EQ(object->version(), "TLSv1.3");
    EXPECT_EQ(object->server_hostname(), "localhost");
    const auto peercert =
        std::any_cast<ssl::PeerCertificate>(transport->get_extra_info("peercert"));
    EXPECT_EQ(peercert.subject.back(),
              (ssl::RelativeDistinguishedName{{"commonName", "localhost"}}));
    EXPECT_EQ(std::any_cast<ssl::Cipher>(transport->get_extra_info("cipher")), object->cipher());
    EXPECT_FALSE(transport->get_extra_info("compression").has_value());
    EXPECT_EQ(
        std::any_cast<std::shared_ptr<ssl::SSLContext>>(transport->get_extra_info("sslcontext")),
        cctx);
    const auto peer = std::any_cast<aio::Address>(transport->get_extra_info("peername"));
    EXPECT_EQ(std::get<aio::InetAddress>(peer).port, port_of(server));
    EXPECT_NE(std::any_cast<aio::Socket*>(transport->get_extra_info("socket")), nullptr);
    EXPECT_EQ(std::any_cast<int>(transport->get_extra_info("nothing", 7)), 7);
    EXPECT_FALSE(transport->can_write_eof());
    EXPECT_RAISES(transport->write_eof(), batteries::NotImplementedError);
    EXPECT_TRUE(transport->is_reading());
    EXPECT_EQ(transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>{128 * 1024, 512 * 1024}));

    transport->write("hello ");
    transport->writelines({"TLS", " world"});
    co_await until([&] { return client->data.size() >= 15; });
    EXPECT_EQ(client->data, "hello TLS world");

    // The server's side sees the TLS connection too.
    auto* server_object =
        std::any_cast<ssl::SSLObject*>(server_protocol->transport->get_extra_info("ssl_object"));
    EXPECT_TRUE(server_object->server_side());
    EXPECT_EQ(std::any_cast<std::shared_ptr<ssl::SSLContext>>(
                  server_protocol->transport->get_extra_info("sslcontext")),
              sctx);

    // close(): the TLS shutdown, then both sides see the end without an error.
    transport->close();
    EXPECT_TRUE(transport->is_closing());
    co_await until([&] { return client->lost && server_protocol->lost; });
    EXPECT_EQ(client->exc, nullptr);
    EXPECT_EQ(server_protocol->exc, nullptr);
    transport->write("ignored after close");  // does nothing, as in Python
    // Still answers after the connection is gone.
    EXPECT_EQ(std::any_cast<ssl::SSLObject*>(transport->get_extra_info("ssl_object")), object);
    auto awaiting3 = close_server(server);
    co_await std::move(awaiting3);
    EXPECT_TRUE(log.messages.empty()) << log.messages.front();
  }());
}

TEST(Tls, StreamsRoundTrip) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto sctx = server_context();
    std::optional<std::string> host = "127.0.0.1";
    auto starting = aio::start_server(
        [](aio::StreamReader reader, aio::StreamWriter writer) -> Task<void> {
          auto* object = std::any_cast<ssl::SSLObject*>(writer.get_extra_info("ssl_object"));
          const std::string line = co_await reader.readline();
          writer.write(line + (object != nullptr ? object->version().value_or("?") : "none") +
                       "\n");
          co_await writer.drain();
          writer.close();
          co_await writer.wait_closed();
        },
        host, 0, {.ssl = sctx});
    aio::Server server = co_await std::move(starting);
    auto opening = aio::open_connection(host, port_of(server),
                                        {.ssl = client_context(), .server_hostname = "localhost"});
    auto [reader, writer] = co_await std::move(opening);
    auto* object = std::any_cast<ssl::SSLObject*>(writer.get_extra_info("ssl_object"));
    CO_ASSERT_TRUE(object != nullptr);
    EXPECT_EQ(object->getpeercert()->subject.back(),
              (ssl::RelativeDistinguishedName{{"commonName", "localhost"}}));
    writer.write("over streams\n");
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "over streams\n");
    EXPECT_EQ(co_await reader.readline(), "TLSv1.3\n");
    EXPECT_EQ(co_await reader.read(), "");  // the server closed
    writer.close();
    co_await writer.wait_closed();
    auto awaiting4 = close_server(server);
    co_await std::move(awaiting4);
  }());
}

TEST(Tls, VerifiedClientRefusesBadCertificates) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    HandlerLog log;
    log.install(aio::get_running_loop());
    const auto& certs = test_certs();
    struct Case {
      std::string cert, key, hostname, message;
    };
    const std::vector<Case> cases = {
        {certs.untrusted_cert, certs.untrusted_key, "localhost",
         "certificate verify failed: unable to get local issuer certificate"},
        {certs.server_cert, certs.server_key, "wrong.example",
         "Hostname mismatch, certificate is not valid for 'wrong.example'."},
        {certs.expired_cert, certs.expired_key, "localhost", "certificate has expired"},
    };
    for (const Case& c : cases) {
      auto server_protocol = std::make_shared<Echo>();
      bool made = false;
      auto awaiting5 = serve(
          [&made] {
            made = true;
            return std::make_shared<Echo>();
          },
          {.ssl = server_context(c.cert, c.key)});
      aio::Server server = co_await std::move(awaiting5);
      auto client = std::make_shared<Recorder>();
      std::exception_ptr error;
      try {
        auto awaiting6 = connect(client, port_of(server),
                                 {.ssl = client_context(), .server_hostname = c.hostname});
        co_await std::move(awaiting6);
      } catch (...) {
        error = std::current_exception();
      }
      EXPECT_TRUE(holds<ssl::SSLCertVerificationError>(error)) << what(error);
      EXPECT_NE(what(error).find(c.message), std::string::npos) << what(error);
      EXPECT_FALSE(client->made);  // connection_made() only after a good handshake
      co_await until([&] { return made; });
      auto awaiting7 = close_server(server);
      co_await std::move(awaiting7);
    }
    // Handshake failures are OSErrors: nothing reaches the exception handler.
    EXPECT_TRUE(log.messages.empty()) << log.messages.front();
  }());
}

TEST(Tls, SniCallbackSeesTheNameAndSwitchesContext) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    const auto& certs = test_certs();
    auto sctx = server_context();
    auto other = server_context(certs.other_host_cert, certs.other_host_key);
    std::vector<std::string> seen;
    sctx->set_sni_callback([&seen, other = std::weak_ptr<ssl::SSLContext>(other)](
                               ssl::SSLObject& object, std::optional<std::string_view> name,
                               ssl::SSLContext& context) -> std::optional<ssl::AlertDescription> {
      EXPECT_TRUE(object.server_side());
      EXPECT_EQ(context.protocol(), ssl::PROTOCOL_TLS_SERVER);
      seen.emplace_back(name ? std::string(*name) : std::string("<none>"));
      if (name == "other.test") object.set_context(other.lock());
      if (name == "refused.test") return ssl::AlertDescription::ALERT_DESCRIPTION_UNRECOGNIZED_NAME;
      if (name == "throws.test") throw batteries::RuntimeError("from the SNI callback");
      return std::nullopt;
    });
    auto awaiting8 = serve([] { return std::make_shared<Echo>(); }, {.ssl = sctx});
    aio::Server server = co_await std::move(awaiting8);
    const auto port = port_of(server);

    {
      auto client = std::make_shared<Recorder>();
      auto awaiting9 =
          connect(client, port, {.ssl = client_context(), .server_hostname = "localhost"});
      auto [transport, protocol] = co_await std::move(awaiting9);
      transport->close();
      co_await until([&] { return client->lost; });
    }
    {
      auto client = std::make_shared<Recorder>();
      auto awaiting10 =
          connect(client, port, {.ssl = client_context(), .server_hostname = "other.test"});
      auto [transport, protocol] = co_await std::move(awaiting10);
      const auto cert = std::any_cast<ssl::PeerCertificate>(transport->get_extra_info("peercert"));
      EXPECT_EQ(cert.subject.back(),
                (ssl::RelativeDistinguishedName{{"commonName", "other.test"}}));
      transport->close();
      co_await until([&] { return client->lost; });
    }
    {
      // An IP address is not sent as SNI.
      auto lax = client_context();
      lax->set_check_hostname(false);
      auto client = std::make_shared<Recorder>();
      auto awaiting11 = connect(client, port, {.ssl = lax, .server_hostname = "127.0.0.1"});
      auto [transport, protocol] = co_await std::move(awaiting11);
      transport->close();
      co_await until([&] { return client->lost; });
    }
    for (const char* name : {"refused.test", "throws.test"}) {
      auto client = std::make_shared<Recorder>();
      std::exception_ptr error;
      try {
        auto awaiting12 = connect(client, port, {.ssl = client_context(), .server_hostname = name});
        co_await std::move(awaiting12);
      } catch (...) {
        error = std::current_exception();
      }
      EXPECT_TRUE(holds<ssl::SSLError>(error)) << what(error);
      EXPECT_NE(what(error).find(std::string_view(name) == "refused.test"
                                     ? "TLSV1_UNRECOGNIZED_NAME"
                                     : "SSLV3_ALERT_HANDSHAKE_FAILURE"),
                std::string::npos)
          << what(error);
    }
    auto awaiting13 = close_server(server);
    co_await std::move(awaiting13);
    EXPECT_EQ(seen, (std::vector<std::string>{"localhost", "other.test", "<none>", "refused.test",
                                              "throws.test"}));
  }());
}

TEST(Tls, AlpnNegotiation) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto sctx = server_context();
    sctx->set_alpn_protocols({"h2", "http/1.1"});
    auto awaiting14 = serve([] { return std::make_shared<Echo>(); }, {.ssl = sctx});
    aio::Server server = co_await std::move(awaiting14);
    struct Case {
      std::vector<std::string> offered;
      std::optional<std::string> chosen;
    };
    for (const Case& c : std::vector<Case>{{{"http/1.1"}, "http/1.1"},
                                           {{"spdy/1", "h2"}, "h2"},
                                           {{"spdy/1"}, std::nullopt},
                                           {{}, std::nullopt}}) {
      auto cctx = client_context();
      if (!c.offered.empty()) cctx->set_alpn_protocols(c.offered);
      auto client = std::make_shared<Recorder>();
      auto awaiting15 =
          connect(client, port_of(server), {.ssl = cctx, .server_hostname = "localhost"});
      auto [transport, protocol] = co_await std::move(awaiting15);
      auto* object = std::any_cast<ssl::SSLObject*>(transport->get_extra_info("ssl_object"));
      EXPECT_EQ(object->selected_alpn_protocol(), c.chosen);
      transport->close();
      co_await until([&] { return client->lost; });
    }
    auto awaiting16 = close_server(server);
    co_await std::move(awaiting16);
  }());
}

TEST(Tls, MutualTls) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    const auto& certs = test_certs();
    auto sctx = server_context();
    sctx->set_verify_mode(ssl::CERT_REQUIRED);
    sctx->load_verify_locations(certs.ca_cert);
    std::vector<std::shared_ptr<Recorder>> accepted;
    auto awaiting17 = serve(
        [&accepted] {
          accepted.push_back(std::make_shared<Recorder>());
          return accepted.back();
        },
        {.ssl = sctx});
    aio::Server server = co_await std::move(awaiting17);

    auto cctx = client_context();
    cctx->load_cert_chain(certs.client_cert, certs.client_key);
    auto client = std::make_shared<Recorder>();
    auto awaiting18 =
        connect(client, port_of(server), {.ssl = cctx, .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting18);
    co_await until([&] { return !accepted.empty() && accepted.back()->made; });
    const auto cert =
        std::any_cast<ssl::PeerCertificate>(accepted.back()->transport->get_extra_info("peercert"));
    EXPECT_EQ(cert.subject.back(),
              (ssl::RelativeDistinguishedName{{"commonName", "batteries client"}}));
    transport->close();
    co_await until([&] { return client->lost; });

    // Without a client certificate: TLS 1.3 finishes the client's handshake first, then the
    // server's alert ends the connection with an SSLError.
    auto anonymous = std::make_shared<Recorder>();
    std::exception_ptr error;
    try {
      auto awaiting19 = connect(anonymous, port_of(server),
                                {.ssl = client_context(), .server_hostname = "localhost"});
      auto [t2, p2] = co_await std::move(awaiting19);
      co_await until([&] { return anonymous->lost; });
      error = anonymous->exc;
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(holds<ssl::SSLError>(error)) << what(error);
    EXPECT_NE(what(error).find("CERTIFICATE_REQUIRED"), std::string::npos) << what(error);
    auto awaiting20 = close_server(server);
    co_await std::move(awaiting20);
  }());
}

TEST(Tls, HandshakeTimeoutAgainstASilentServer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto silent = std::make_shared<Recorder>();
    auto awaiting21 = serve([silent] { return silent; });
    aio::Server server = co_await std::move(awaiting21);  // plain TCP, never speaks
    auto client = std::make_shared<Recorder>();
    std::exception_ptr error;
    try {
      auto awaiting22 = connect(
          client, port_of(server),
          {.ssl = client_context(), .server_hostname = "localhost", .ssl_handshake_timeout = 0.2});
      co_await std::move(awaiting22);
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(holds<batteries::ConnectionAbortedError>(error)) << what(error);
    EXPECT_EQ(what(error),
              "SSL handshake is taking longer than 0.2 seconds: aborting the connection");
    EXPECT_FALSE(client->made);
    co_await until([&] { return silent->lost; });
    auto awaiting23 = close_server(server);
    // the client closed the socket
    co_await std::move(awaiting23);
  }());
}

TEST(Tls, HandshakeTimeoutOnTheServer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    HandlerLog log;
    log.install(aio::get_running_loop());
    int made = 0;
    auto awaiting24 = serve(
        [&made] {
          ++made;
          return std::make_shared<Echo>();
        },
        {.ssl = server_context(), .ssl_handshake_timeout = 0.2});
    aio::Server server = co_await std::move(awaiting24);
    auto client = std::make_shared<Recorder>();
    auto awaiting25 = connect(client, port_of(server));
    // plain TCP, says nothing
    auto [transport, protocol] = co_await std::move(awaiting25);
    co_await until([&] { return client->lost; });  // the server gave up
    EXPECT_EQ(made, 1);
    auto awaiting26 = close_server(server);
    co_await std::move(awaiting26);
    EXPECT_TRUE(log.messages.empty()) << log.messages.front();
  }());
}

TEST(Tls, ShutdownTimeout) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    // A server whose application never reads: it never sees the client's close_notify, so it
    // never answers it.
    std::vector<std::shared_ptr<Recorder>> accepted;
    auto awaiting27 = serve(
        [&accepted] {
          auto r = std::make_shared<Recorder>();
          r->on_made = [](Recorder& self) { self.transport->pause_reading(); };
          accepted.push_back(r);
          return r;
        },
        {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting27);
    auto client = std::make_shared<Recorder>();
    auto awaiting28 = connect(
        client, port_of(server),
        {.ssl = client_context(), .server_hostname = "localhost", .ssl_shutdown_timeout = 0.2});
    auto [transport, protocol] = co_await std::move(awaiting28);
    co_await until([&] { return !accepted.empty() && accepted.back()->made; });
    EXPECT_FALSE(accepted.back()->transport->is_reading());
    transport->close();
    co_await until([&] { return client->lost; });
    EXPECT_TRUE(holds<batteries::TimeoutError>(client->exc)) << what(client->exc);
    EXPECT_EQ(what(client->exc), "SSL shutdown timed out");
    accepted.back()->transport->abort();
    co_await until([&] { return accepted.back()->lost; });
    auto awaiting29 = close_server(server);
    co_await std::move(awaiting29);
  }());
}

TEST(Tls, LargeTransfersWithFlowControl) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    std::vector<std::shared_ptr<Echo>> accepted;
    auto awaiting30 = serve(
        [&accepted] {
          accepted.push_back(std::make_shared<Echo>());
          accepted.back()->small_buffers = true;
          return accepted.back();
        },
        {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting30);
    auto client = std::make_shared<Recorder>();
    auto awaiting31 =
        connect(client, port_of(server), {.ssl = client_context(), .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting31);

    constexpr std::size_t kTotal = 4U << 20U;
    constexpr std::size_t kChunk = 64 * 1024;
    std::string payload(kTotal, '\0');
    for (std::size_t i = 0; i < kTotal; ++i) {
      payload[i] = static_cast<char>((i * 131 + i / 7919) & 0xff);
    }
    // Small socket buffers, and a client that does not read until its writes are paused: the
    // echo backs up through the server to the writer.
    shrink_socket_buffers(*transport);
    transport->pause_reading();
    std::size_t sent = 0;
    std::size_t max_buffered = 0;
    while (sent < kTotal) {
      if (client->paused) {
        transport->resume_reading();
        co_await aio::sleep(0.001);
        continue;
      }
      transport->write(std::string_view(payload).substr(sent, kChunk));
      sent += kChunk;
      max_buffered = std::max(max_buffered, transport->get_write_buffer_size());
      co_await aio::sleep(0);  // let the server run
    }
    transport->resume_reading();
    co_await until([&] { return client->data.size() >= kTotal || client->lost; }, 60);
    EXPECT_TRUE(client->data == payload) << "the echo differs";
    EXPECT_GT(client->pauses, 0) << "the writer was never paused";
    // The writer respected pause_writing(): its buffer stayed near the high-water mark.
    EXPECT_LE(max_buffered, 512 * 1024 + kChunk + 64 * 1024);
    CO_ASSERT_TRUE(accepted.size() == 1U);
    EXPECT_EQ(accepted[0]->received, kTotal);
    EXPECT_GT(accepted[0]->pauses, 0);
    EXPECT_LE(accepted[0]->max_buffered, 2 * 512 * 1024);
    transport->close();
    co_await until([&] { return client->lost && accepted[0]->lost; });
    EXPECT_EQ(client->exc, nullptr);
    auto awaiting32 = close_server(server);
    co_await std::move(awaiting32);
  }());
}

// start_tls() on both sides of a plain connection, after a plain "STARTTLS" exchange.
TEST(Tls, StartTlsUpgradesBothSides) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto sctx = server_context();
    std::vector<std::shared_ptr<Recorder>> accepted;
    std::shared_ptr<aio::Transport> server_tls;
    std::optional<aio::Task<void>> upgrade;
    auto awaiting33 = serve([&] {
      auto r = std::make_shared<Recorder>();
      r->on_data = [&](Recorder& self, std::string_view) {
        if (self.data != "STARTTLS\n") return;
        self.transport->write("GO\n");
        auto starting = [](aio::EventLoop& l, std::shared_ptr<Recorder> p,
                           std::shared_ptr<ssl::SSLContext> ctx,
                           std::shared_ptr<aio::Transport>* out) -> Task<void> {
          auto s = aio::start_tls(l, p->transport, p, std::move(ctx), {.server_side = true});
          *out = co_await std::move(s);
        };
        upgrade = aio::create_task(
            starting(loop, std::static_pointer_cast<Recorder>(self.transport->get_protocol()), sctx,
                     &server_tls));
      };
      accepted.push_back(r);
      return r;
    });
    aio::Server server = co_await std::move(awaiting33);
    auto client = std::make_shared<Recorder>();
    auto awaiting34 = connect(client, port_of(server));
    auto [plain, protocol] = co_await std::move(awaiting34);
    EXPECT_FALSE(plain->get_extra_info("ssl_object").has_value());
    plain->write("STARTTLS\n");
    co_await until([&] { return client->data == "GO\n"; });
    client->data.clear();

    auto cctx = client_context();
    auto upgrading = aio::start_tls(loop, plain, client, cctx, {.server_hostname = "localhost"});
    std::shared_ptr<aio::Transport> tls = co_await std::move(upgrading);
    co_await std::move(*upgrade);
    CO_ASSERT_TRUE(server_tls);
    auto* object = std::any_cast<ssl::SSLObject*>(tls->get_extra_info("ssl_object"));
    CO_ASSERT_TRUE(object != nullptr);
    EXPECT_EQ(object->version(), "TLSv1.3");
    EXPECT_EQ(tls->get_protocol(), client);

    tls->write("secret");
    co_await until([&] { return accepted.at(0)->data == "STARTTLS\nsecret"; });
    server_tls->write("reply");
    co_await until([&] { return client->data == "reply"; });
    tls->close();
    co_await until([&] { return client->lost && accepted[0]->lost; });
    EXPECT_EQ(client->exc, nullptr);
    auto awaiting35 = close_server(server);
    co_await std::move(awaiting35);

    // Python's argument checks.
    std::exception_ptr error;
    try {
      auto bad = aio::start_tls(loop, tls, client, nullptr);
      co_await std::move(bad);
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(holds<batteries::TypeError>(error));
    EXPECT_EQ(what(error), "sslcontext is expected to be an instance of ssl.SSLContext, got None");
  }());
}

// StreamWriter.start_tls() on both sides (Python 3.11's streams API).
TEST(Tls, StreamWriterStartTls) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto sctx = server_context();
    std::optional<std::string> host = "127.0.0.1";
    auto starting = aio::start_server(
        [sctx](aio::StreamReader reader, aio::StreamWriter writer) -> Task<void> {
          const std::string line = co_await reader.readline();
          if (line != "STARTTLS\n") co_return;
          writer.write("GO\n");
          co_await writer.drain();
          auto awaiting36 = writer.start_tls(sctx);
          co_await std::move(awaiting36);
          auto* object = std::any_cast<ssl::SSLObject*>(writer.get_extra_info("ssl_object"));
          const std::string secret = co_await reader.readline();
          writer.write("got " + secret + (object != nullptr ? "over TLS\n" : "in the clear\n"));
          co_await writer.drain();
          writer.close();
          co_await writer.wait_closed();
        },
        host, 0);
    aio::Server server = co_await std::move(starting);
    auto opening = aio::open_connection(host, port_of(server));
    auto [reader, writer] = co_await std::move(opening);
    writer.write("STARTTLS\n");
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "GO\n");
    auto awaiting37 = writer.start_tls(client_context(), "localhost");
    co_await std::move(awaiting37);
    EXPECT_NE(std::any_cast<ssl::SSLObject*>(writer.get_extra_info("ssl_object")), nullptr);
    writer.write("hunter2\n");
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "got hunter2\n");
    EXPECT_EQ(co_await reader.readline(), "over TLS\n");
    EXPECT_EQ(co_await reader.read(), "");
    writer.close();
    co_await writer.wait_closed();
    auto awaiting38 = close_server(server);
    co_await std::move(awaiting38);
  }());
}

// The peer goes away without close_notify: with a FIN the application sees EOF; with a reset,
// ConnectionResetError. Neither crashes.
TEST(Tls, AbruptPeerClose) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    for (const bool reset : {false, true}) {
      std::vector<std::shared_ptr<Recorder>> accepted;
      auto awaiting39 = serve(
          [&accepted] {
            accepted.push_back(std::make_shared<Recorder>());
            return accepted.back();
          },
          {.ssl = server_context()});
      aio::Server server = co_await std::move(awaiting39);
      auto client = std::make_shared<Recorder>();
      auto awaiting40 = connect(client, port_of(server),
                                {.ssl = client_context(), .server_hostname = "localhost"});
      auto [transport, protocol] = co_await std::move(awaiting40);
      co_await until([&] { return !accepted.empty() && accepted.back()->made; });
      const auto& peer = accepted.back()->transport;
      peer->write("partial data");
      co_await until([&] { return client->data == "partial data"; });
      auto* sock = std::any_cast<aio::Socket*>(peer->get_extra_info("socket"));
      if (reset) {
        linger lin{1, 0};  // close() sends RST
        ::setsockopt(sock->fileno(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        peer->abort();
      } else {
        sock->shutdown(SHUT_RDWR);  // FIN, no close_notify
      }
      co_await until([&] { return client->lost; });
      if (reset) {
        EXPECT_TRUE(client->exc == nullptr || holds<batteries::ConnectionResetError>(client->exc) ||
                    holds<ssl::SSLError>(client->exc))
            << what(client->exc);
      } else {
        EXPECT_TRUE(client->eof);
        EXPECT_TRUE(client->exc == nullptr || holds<ssl::SSLError>(client->exc))
            << what(client->exc);
      }
      peer->abort();
      co_await until([&] { return accepted.back()->lost; });
      auto awaiting41 = close_server(server);
      co_await std::move(awaiting41);
    }
  }());
}

// Bytes that are not TLS, each way.
TEST(Tls, GarbageFromThePeer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    HandlerLog log;
    log.install(aio::get_running_loop());
    auto awaiting42 = serve([] {
      auto r = std::make_shared<Recorder>();
      r->on_data = [](Recorder& self, std::string_view) {
        self.transport->write("HTTP/1.1 400 Bad Request\r\n\r\n");
        self.transport->close();
      };
      return r;
    });
    // A plain server answering the ClientHello with HTTP.
    aio::Server http = co_await std::move(awaiting42);
    auto client = std::make_shared<Recorder>();
    std::exception_ptr error;
    try {
      auto awaiting43 =
          connect(client, port_of(http), {.ssl = client_context(), .server_hostname = "localhost"});
      co_await std::move(awaiting43);
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(holds<ssl::SSLError>(error)) << what(error);
    EXPECT_EQ(what(error), "[SSL: WRONG_VERSION_NUMBER] wrong version number");
    auto awaiting44 = close_server(http);
    co_await std::move(awaiting44);

    auto awaiting45 = serve([] { return std::make_shared<Echo>(); }, {.ssl = server_context()});
    // A TLS server sent garbage by a plain client: its handshake fails, it hangs up.
    aio::Server tls = co_await std::move(awaiting45);
    auto plain = std::make_shared<Recorder>();
    auto awaiting46 = connect(plain, port_of(tls));
    auto [transport, protocol] = co_await std::move(awaiting46);
    transport->write(std::string(300, '\x17'));
    co_await until([&] { return plain->lost; });
    auto awaiting47 = close_server(tls);
    co_await std::move(awaiting47);
    EXPECT_TRUE(log.messages.empty()) << log.messages.front();
  }());
}

// Cancelling a connection during its handshake closes everything.
TEST(Tls, CancelledHandshakeLeavesNothingOpen) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto silent = std::make_shared<Recorder>();
    auto awaiting48 = serve([silent] { return silent; });
    aio::Server server = co_await std::move(awaiting48);
    auto client = std::make_shared<Recorder>();
    auto connecting = aio::create_task(connect(
        client, port_of(server), {.ssl = client_context(), .server_hostname = "localhost"}));
    co_await until([&] { return silent->made; });
    co_await aio::sleep(0.01);
    connecting.cancel();
    std::exception_ptr error;
    try {
      co_await connecting;
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(holds<aio::CancelledError>(error));
    co_await until([&] { return silent->lost; });
    auto awaiting49 = close_server(server);
    co_await std::move(awaiting49);
  }());
}

// Without server_hostname, create_connection() checks the host it was given (here an IP
// address, against the certificate's IP SAN); an empty one skips the name check.
TEST(Tls, HostIsTheDefaultServerHostname) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto awaiting_server =
        serve([] { return std::make_shared<Echo>(); }, {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting_server);
    for (const char* name : {"", "127.0.0.1"}) {
      auto client = std::make_shared<Recorder>();
      aio::CreateConnectionOptions options{.ssl = client_context()};
      if (*name == '\0') options.server_hostname = "";
      auto connecting = connect(client, port_of(server), std::move(options));
      auto [transport, protocol] = co_await std::move(connecting);
      auto* object = std::any_cast<ssl::SSLObject*>(transport->get_extra_info("ssl_object"));
      EXPECT_EQ(object->server_hostname(),
                *name == '\0' ? std::nullopt : std::optional<std::string>("127.0.0.1"));
      transport->close();
      co_await until([&] { return client->lost; });
    }
    auto awaiting_close = close_server(server);
    co_await std::move(awaiting_close);
  }());
}

// A BufferedProtocol over TLS: decrypted data goes straight into the protocol's buffer.
class BufferedSink : public aio::BufferedProtocol {
 public:
  void connection_made(std::shared_ptr<aio::Transport> t) override { transport = std::move(t); }
  std::span<char> get_buffer(std::ptrdiff_t sizehint) override {
    (void)sizehint;
    ++calls;
    return {chunk, sizeof chunk};
  }
  void buffer_updated(std::size_t nbytes) override { data.append(chunk, nbytes); }
  bool eof_received() override {
    eof = true;
    return false;
  }
  void connection_lost(std::exception_ptr e) override {
    exc = std::move(e);
    lost = true;
  }
  std::shared_ptr<aio::Transport> transport;
  char chunk[1000];  // small, so that a read fills it and comes back for more
  std::string data;
  int calls = 0;
  bool eof = false;
  bool lost = false;
  std::exception_ptr exc;
};

TEST(Tls, BufferedProtocolClient) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto awaiting_server =
        serve([] { return std::make_shared<Echo>(); }, {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting_server);
    auto client = std::make_shared<BufferedSink>();
    auto awaiting_connect =
        connect(client, port_of(server), {.ssl = client_context(), .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting_connect);
    std::string payload(300000, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i % 251);
    transport->write(payload);
    co_await until([&] { return client->data.size() >= payload.size() || client->lost; });
    EXPECT_TRUE(client->data == payload);
    EXPECT_GE(client->calls, 300);
    transport->close();
    co_await until([&] { return client->lost; });
    EXPECT_EQ(client->exc, nullptr);
    auto awaiting_close = close_server(server);
    co_await std::move(awaiting_close);
  }());
}

// An exception from the application's protocol goes to the exception handler ("Fatal error on
// SSL protocol") and closes the connection with it, as in Python.
TEST(Tls, ProtocolExceptionIsReportedAndCloses) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    HandlerLog log;
    log.install(aio::get_running_loop());
    auto awaiting_server =
        serve([] { return std::make_shared<Echo>(); }, {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting_server);
    auto client = std::make_shared<Recorder>();
    client->on_data = [](Recorder&, std::string_view) { throw batteries::ValueError("bad data"); };
    auto awaiting_connect =
        connect(client, port_of(server), {.ssl = client_context(), .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting_connect);
    transport->write("boom");
    co_await until([&] { return client->lost; });
    EXPECT_TRUE(holds<batteries::ValueError>(client->exc)) << what(client->exc);
    CO_ASSERT_TRUE(log.messages.size() == 1U);
    EXPECT_EQ(log.messages[0], "Fatal error on SSL protocol: bad data");
    auto awaiting_close = close_server(server);
    co_await std::move(awaiting_close);
  }());
}

TEST(Tls, TransportSettingsAndArgumentChecks) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto awaiting_server =
        serve([] { return std::make_shared<Echo>(); }, {.ssl = server_context()});
    aio::Server server = co_await std::move(awaiting_server);
    auto client = std::make_shared<Recorder>();
    auto awaiting_connect =
        connect(client, port_of(server), {.ssl = client_context(), .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(awaiting_connect);
    transport->set_write_buffer_limits(1000);
    EXPECT_EQ(transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>{250, 1000}));
    transport->set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>{100, 400}));
    EXPECT_RAISES_MSG(transport->set_write_buffer_limits(10, 20), batteries::ValueError,
                      "high (10) must be >= low (20) must be >= 0");
    transport->write(std::string(100000, 'x'));
    EXPECT_NE(transport->repr().find("_SSLProtocolTransport"), std::string::npos);
    transport->pause_reading();
    EXPECT_FALSE(transport->is_reading());
    transport->resume_reading();
    EXPECT_TRUE(transport->is_reading());
    co_await until([&] { return client->data.size() == 100000; });

    // start_tls()'s checks, Python's messages.
    std::vector<std::exception_ptr> errors;
    struct Unsupported : aio::Transport {};
    auto unsupported = std::make_shared<Unsupported>();
    auto ctx = client_context();
    for (int i = 0; i < 2; ++i) {
      try {
        std::shared_ptr<aio::Transport> t =
            i == 0 ? std::shared_ptr<aio::Transport>(unsupported) : transport;
        std::optional<double> timeout;
        if (i == 1) timeout = -1.0;
        auto starting =
            aio::start_tls(loop, t, client, ctx,
                           {.server_hostname = "localhost", .ssl_handshake_timeout = timeout});
        co_await std::move(starting);
        errors.push_back(nullptr);
      } catch (...) {
        errors.push_back(std::current_exception());
      }
    }
    EXPECT_TRUE(holds<batteries::TypeError>(errors.at(0)));
    EXPECT_EQ(what(errors.at(0)), "transport <BaseTransport> is not supported by start_tls()");
    EXPECT_TRUE(holds<batteries::ValueError>(errors.at(1)));
    EXPECT_EQ(what(errors.at(1)), "ssl_handshake_timeout should be a positive number, got -1.0");
    transport->close();
    co_await until([&] { return client->lost; });
    auto awaiting_close = close_server(server);
    co_await std::move(awaiting_close);
  }());
}

TEST(Tls, UnixSocketRoundTrip) {
  NoFdLeak check;
  const std::string dir = batteries::testing::make_temp_dir("batteries-ssl-unix");
  aio::run([&dir]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    std::optional<std::string> path = dir + "/tls.sock";
    auto starting = aio::create_unix_server(loop, [] { return std::make_shared<Echo>(); }, path,
                                            {.ssl = server_context()});
    aio::Server server = co_await std::move(starting);
    auto client = std::make_shared<Recorder>();
    auto connecting =
        aio::create_unix_connection(loop, [client] { return client; }, path,
                                    {.ssl = client_context(), .server_hostname = "localhost"});
    auto [transport, protocol] = co_await std::move(connecting);
    EXPECT_EQ(std::any_cast<aio::Address>(transport->get_extra_info("peername")),
              aio::Address(*path));
    transport->write("over a unix socket");
    co_await until([&] { return client->data == "over a unix socket"; });
    transport->close();
    co_await until([&] { return client->lost; });
    auto awaiting_close = close_server(server);
    co_await std::move(awaiting_close);
  }());
  batteries::testing::remove_tree(dir);
}

// ---- CPython as the peer -----------------------------------------------------------------------

TEST(Tls, CPythonClientAgainstOurServer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    const auto& certs = test_certs();
    auto sctx = server_context();
    sctx->set_alpn_protocols({"h2", "http/1.1"});
    auto awaiting50 = serve([] { return std::make_shared<Echo>(); }, {.ssl = sctx});
    aio::Server server = co_await std::move(awaiting50);
    const std::string script =
        "import socket, ssl\n"
        "ctx = ssl.create_default_context(cafile=" +
        py_str(certs.ca_cert) +
        ")\n"
        "ctx.set_alpn_protocols(['http/1.1'])\n"
        "with socket.create_connection(('127.0.0.1', " +
        std::to_string(port_of(server)) +
        ")) as raw:\n"
        "    with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n"
        "        data = b'x' * 300000\n"
        "        s.sendall(data)\n"
        "        got = b''\n"
        "        while len(got) < len(data):\n"
        "            got += s.recv(65536)\n"
        "        print(got == data, s.version(), s.selected_alpn_protocol(),\n"
        "              dict(x[0] for x in s.getpeercert()['subject'])['commonName'])\n"
        "        s.unwrap()\n";
    // A task, so that CPython starts now (a coroutine starts only when awaited).
    auto running = aio::create_task(
        aio::to_thread([script] { return batteries::testing::run_python(script); }));
    const std::optional<std::string> out = co_await std::move(running);
    auto awaiting51 = close_server(server);
    co_await std::move(awaiting51);
    if (!out) co_return;
    EXPECT_EQ(*out, "True TLSv1.3 http/1.1 localhost\n");
  }());
}

TEST(Tls, OurClientAgainstCPythonServer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    const auto& certs = test_certs();
    // The listening socket is ours; CPython inherits a duplicate (dup() clears close-on-exec).
    aio::Socket listener(AF_INET, SOCK_STREAM);
    listener.bind(aio::InetAddress{"127.0.0.1", 0});
    listener.listen(1);
    const auto port = std::get<aio::InetAddress>(listener.getsockname()).port;
    const int inherited = ::dup(listener.fileno());
    const std::string script =
        "import socket, ssl\n"
        "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
        "ctx.load_cert_chain(" +
        py_str(certs.server_cert) + ", " + py_str(certs.server_key) +
        ")\n"
        "ctx.load_verify_locations(" +
        py_str(certs.ca_cert) +
        ")\n"
        "ctx.verify_mode = ssl.CERT_REQUIRED\n"
        "ctx.set_alpn_protocols(['h2'])\n"
        "seen = []\n"
        "ctx.sni_callback = lambda obj, name, c: seen.append(name)\n"
        "lsock = socket.socket(fileno=" +
        std::to_string(inherited) +
        ")\n"
        "conn, _ = lsock.accept()\n"
        "lsock.close()\n"
        "with ctx.wrap_socket(conn, server_side=True) as s:\n"
        "    line = b''\n"
        "    while not line.endswith(b'\\n'):\n"
        "        line += s.recv(100)\n"
        "    s.sendall(line.upper())\n"
        "    peer = dict(x[0] for x in s.getpeercert()['subject'])['commonName']\n"
        "    print(seen, s.version(), s.selected_alpn_protocol(), peer)\n"
        "    s.recv(100)\n"  // our close_notify
        "    s.unwrap()\n";
    // A task, so that CPython starts now (a coroutine starts only when awaited).
    auto running = aio::create_task(
        aio::to_thread([script] { return batteries::testing::run_python(script); }));

    auto cctx = client_context();
    cctx->set_alpn_protocols({"h2"});
    cctx->load_cert_chain(certs.client_cert, certs.client_key);
    auto client = std::make_shared<Recorder>();
    std::exception_ptr error;
    try {
      auto awaiting52 = connect(
          client, port, {.ssl = cctx, .server_hostname = "localhost", .ssl_handshake_timeout = 30});
      auto [transport, protocol] = co_await std::move(awaiting52);
      auto* object = std::any_cast<ssl::SSLObject*>(transport->get_extra_info("ssl_object"));
      EXPECT_EQ(object->selected_alpn_protocol(), "h2");
      transport->write("hello from c++\n");
      co_await until([&] { return client->data == "HELLO FROM C++\n"; });
      transport->close();
      co_await until([&] { return client->lost; });
      EXPECT_EQ(client->exc, nullptr) << what(client->exc);
    } catch (...) {
      error = std::current_exception();
    }
    const std::optional<std::string> out = co_await std::move(running);
    ::close(inherited);
    listener.close();
    if (!out) co_return;
    EXPECT_EQ(error, nullptr) << what(error);
    EXPECT_EQ(*out, "['localhost'] TLSv1.3 h2 batteries client\n");
  }());
}

}  // namespace
