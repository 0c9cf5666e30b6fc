// batteries::ssl: Python's ssl module, the parts asyncio's TLS needs, over OpenSSL 3.
//
//   ssl.create_default_context()          ssl::create_default_context()
//   ssl.SSLContext(PROTOCOL_TLS_SERVER)   ssl::SSLContext::create(ssl::PROTOCOL_TLS_SERVER)
//   ctx.load_cert_chain(cert, key)        ctx->load_cert_chain(cert, key)
//   ctx.load_verify_locations(cafile=ca)  ctx->load_verify_locations(ca)
//   ctx.check_hostname = False            ctx->set_check_hostname(false)
//   ctx.verify_mode = ssl.CERT_NONE       ctx->set_verify_mode(ssl::CERT_NONE)
//   ctx.set_alpn_protocols(['h2'])        ctx->set_alpn_protocols({"h2"})
//   ctx.sni_callback = cb                 ctx->set_sni_callback(cb)
//   obj = ctx.wrap_bio(inc, out, ...)     auto obj = ctx->wrap_bio(inc, out, ...)
//   obj.getpeercert(), getpeercert(True)  obj->getpeercert(), obj->getpeercert(true)
//   except ssl.SSLCertVerificationError   catch (const ssl::SSLCertVerificationError&)
//
// A settable property p.x reads as p.x() and is set with p.set_x(v). Data (certificates in
// DER, application data) is raw bytes in std::string.
//
// SSLContext is held by std::shared_ptr (SSLContext::create), as Python's objects are by
// reference: the connections made from it, and SSLObject::context(), share it. An SSLObject
// is made by wrap_bio() and keeps its context and its two MemoryBIOs alive.
//
// Differences from Python:
//   - SSLCertVerificationError derives from SSLError only (in Python it is also a
//     ValueError: C++ exceptions have one std::exception base). CertificateError is an alias.
//   - SSLError's errno_() is Python's errno (an SSL_ERROR_* number, or OpenSSL's packed error
//     code for some context errors, as Python has it); code() carries that number in
//     std::generic_category, which means nothing there. what() is Python's str(), without
//     the "(_ssl.c:NNNN)" suffix.
//   - A missing file names itself: "[Errno 2] No such file or directory: 'cert.pem'" (Python
//     leaves the file name out).
//   - load_cert_chain() with an encrypted key and no password fails with SSLError rather than
//     prompting on the terminal, as OpenSSL would for Python.
//   - load_verify_locations(cadata=...) tells PEM text from DER bytes by content: DER starts
//     with an ASN.1 SEQUENCE byte (0x30); anything else is read as PEM.
//   - Host names are taken as they are (no IDNA encoding): pass an A-label for a non-ASCII name.
//   - Not provided: wrap_socket and SSLSocket (asyncio does TLS over memory BIOs), sessions,
//     post-handshake authentication, keylog_filename, get_ca_certs, cert_store_stats,
//     load_dh_params, set_ecdh_curve, get_ciphers, and the RAND functions.
//
// Thread-safety: configure an SSLContext in one thread, then share it: wrap_bio() may then be
// called from any number of threads (OpenSSL locks what it shares). Its setters and loaders
// need external synchronization against everything else. An SSLObject and a MemoryBIO
// belong to one thread at a time. Exceptions are immutable.
#pragma once

#include <fmt/format.h>

#include <batteries/errors.hpp>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batteries::ssl {

// ---- exceptions -------------------------------------------------------------------------------

/// Python's ssl.SSLErrorNumber: what errno_() of an SSLError holds. OpenSSL's <openssl/ssl.h>
/// defines most of these names as macros, with the same values: where it is included, the
/// macros are what the names mean (compare errno_() with them), and the enum is declared
/// here all the same.
#pragma push_macro("SSL_ERROR_SSL")
#undef SSL_ERROR_SSL
#pragma push_macro("SSL_ERROR_WANT_READ")
#undef SSL_ERROR_WANT_READ
#pragma push_macro("SSL_ERROR_WANT_WRITE")
#undef SSL_ERROR_WANT_WRITE
#pragma push_macro("SSL_ERROR_WANT_X509_LOOKUP")
#undef SSL_ERROR_WANT_X509_LOOKUP
#pragma push_macro("SSL_ERROR_SYSCALL")
#undef SSL_ERROR_SYSCALL
#pragma push_macro("SSL_ERROR_ZERO_RETURN")
#undef SSL_ERROR_ZERO_RETURN
#pragma push_macro("SSL_ERROR_WANT_CONNECT")
#undef SSL_ERROR_WANT_CONNECT
enum class SSLErrorNumber : int {
  SSL_ERROR_SSL = 1,
  SSL_ERROR_WANT_READ = 2,
  SSL_ERROR_WANT_WRITE = 3,
  SSL_ERROR_WANT_X509_LOOKUP = 4,
  SSL_ERROR_SYSCALL = 5,
  SSL_ERROR_ZERO_RETURN = 6,
  SSL_ERROR_WANT_CONNECT = 7,
  SSL_ERROR_EOF = 8,
  SSL_ERROR_INVALID_ERROR_CODE = 10,
};
inline constexpr int SSL_ERROR_SSL = 1;
inline constexpr int SSL_ERROR_WANT_READ = 2;
inline constexpr int SSL_ERROR_WANT_WRITE = 3;
inline constexpr int SSL_ERROR_WANT_X509_LOOKUP = 4;
inline constexpr int SSL_ERROR_SYSCALL = 5;
inline constexpr int SSL_ERROR_ZERO_RETURN = 6;
inline constexpr int SSL_ERROR_WANT_CONNECT = 7;
#pragma pop_macro("SSL_ERROR_SSL")
#pragma pop_macro("SSL_ERROR_WANT_READ")
#pragma pop_macro("SSL_ERROR_WANT_WRITE")
#pragma pop_macro("SSL_ERROR_WANT_X509_LOOKUP")
#pragma pop_macro("SSL_ERROR_SYSCALL")
#pragma pop_macro("SSL_ERROR_ZERO_RETURN")
#pragma pop_macro("SSL_ERROR_WANT_CONNECT")
inline constexpr int SSL_ERROR_EOF = 8;
inline constexpr int SSL_ERROR_INVALID_ERROR_CODE = 10;

/// Python's ssl.SSLError, an OSError: "[SSL: WRONG_VERSION_NUMBER] wrong version number".
/// library() and reason() are OpenSSL's mnemonics ("SSL", "WRONG_VERSION_NUMBER"), nullopt
/// when OpenSSL gave none.
class SSLError : public OSError {
 public:
  /// SSLError(message): no errno, as Python's SSLError('No cipher can be selected.').
  explicit SSLError(std::string message) : OSError(std::move(message)) {}
  /// SSLError(errno, message) with the library and reason mnemonics.
  SSLError(int errnum, std::string message, std::optional<std::string> library = std::nullopt,
           std::optional<std::string> reason = std::nullopt)
      : OSError(errnum, std::move(message)),
        m_library(std::move(library)),
        m_reason(std::move(reason)) {}
  SSLError(SSLErrorNumber errnum, std::string message,
           std::optional<std::string> library = std::nullopt,
           std::optional<std::string> reason = std::nullopt)
      : SSLError(static_cast<int>(errnum), std::move(message), std::move(library),
                 std::move(reason)) {}

  /// Python's str(): the message alone.
  [[nodiscard]] const char* what() const noexcept override {
    return strerror() ? strerror()->c_str() : OSError::what();
  }
  [[nodiscard]] std::string_view type_name() const noexcept override { return "SSLError"; }
  [[nodiscard]] const std::optional<std::string>& library() const noexcept { return m_library; }
  [[nodiscard]] const std::optional<std::string>& reason() const noexcept { return m_reason; }

 private:
  std::optional<std::string> m_library;
  std::optional<std::string> m_reason;
};

/// The TLS connection was closed cleanly by the peer (close_notify).
BATTERIES_EXCEPTION(SSLZeroReturnError, SSLError);
/// More TLS data must be received before the operation can complete.
BATTERIES_EXCEPTION(SSLWantReadError, SSLError);
/// More TLS data must be sent before the operation can complete.
BATTERIES_EXCEPTION(SSLWantWriteError, SSLError);
/// A system error happened below TLS.
BATTERIES_EXCEPTION(SSLSyscallError, SSLError);
/// The connection ended without close_notify, in violation of the protocol.
BATTERIES_EXCEPTION(SSLEOFError, SSLError);

/// Python's ssl.SSLCertVerificationError: the peer's certificate failed verification.
/// verify_code() is OpenSSL's X509_V_ERR_* code; verify_message() its text ("certificate has
/// expired", "Hostname mismatch, certificate is not valid for 'example.com'.").
/// (In Python it is also a ValueError; here it is an SSLError only.)
class SSLCertVerificationError : public SSLError {
 public:
  SSLCertVerificationError(int errnum, std::string message, std::optional<std::string> library,
                           std::optional<std::string> reason, long verify_code,
                           std::optional<std::string> verify_message)
      : SSLError(errnum, std::move(message), std::move(library), std::move(reason)),
        m_verify_code(verify_code),
        m_verify_message(std::move(verify_message)) {}
  [[nodiscard]] std::string_view type_name() const noexcept override {
    return "SSLCertVerificationError";
  }
  [[nodiscard]] long verify_code() const noexcept { return m_verify_code; }
  [[nodiscard]] const std::optional<std::string>& verify_message() const noexcept {
    return m_verify_message;
  }

 private:
  long m_verify_code;
  std::optional<std::string> m_verify_message;
};

/// Python's ssl.CertificateError, an alias since 3.7.
using CertificateError = SSLCertVerificationError;

// ---- enumerations and flags -------------------------------------------------------------------

/// Python's ssl._SSLMethod (the protocols that are not deprecated, and PROTOCOL_TLS).
enum class Protocol : int { PROTOCOL_TLS = 2, PROTOCOL_TLS_CLIENT = 16, PROTOCOL_TLS_SERVER = 17 };
inline constexpr Protocol PROTOCOL_TLS = Protocol::PROTOCOL_TLS;
inline constexpr Protocol PROTOCOL_TLS_CLIENT = Protocol::PROTOCOL_TLS_CLIENT;
inline constexpr Protocol PROTOCOL_TLS_SERVER = Protocol::PROTOCOL_TLS_SERVER;

/// Python's ssl.Purpose: what the certificates a context trusts are for.
enum class Purpose { SERVER_AUTH, CLIENT_AUTH };

/// Python's ssl.VerifyMode.
enum class VerifyMode : int { CERT_NONE = 0, CERT_OPTIONAL = 1, CERT_REQUIRED = 2 };
inline constexpr VerifyMode CERT_NONE = VerifyMode::CERT_NONE;
inline constexpr VerifyMode CERT_OPTIONAL = VerifyMode::CERT_OPTIONAL;
inline constexpr VerifyMode CERT_REQUIRED = VerifyMode::CERT_REQUIRED;

/// Python's ssl.TLSVersion.
enum class TLSVersion : int {
  MINIMUM_SUPPORTED = -2,
  MAXIMUM_SUPPORTED = -1,
  SSLv3 = 0x300,
  TLSv1 = 0x301,
  TLSv1_1 = 0x302,
  TLSv1_2 = 0x303,
  TLSv1_3 = 0x304,
};

/// Python's ssl.AlertDescription: what an SNI callback may answer to refuse a handshake.
enum class AlertDescription : int {
  ALERT_DESCRIPTION_CLOSE_NOTIFY = 0,
  ALERT_DESCRIPTION_UNEXPECTED_MESSAGE = 10,
  ALERT_DESCRIPTION_BAD_RECORD_MAC = 20,
  ALERT_DESCRIPTION_RECORD_OVERFLOW = 22,
  ALERT_DESCRIPTION_DECOMPRESSION_FAILURE = 30,
  ALERT_DESCRIPTION_HANDSHAKE_FAILURE = 40,
  ALERT_DESCRIPTION_BAD_CERTIFICATE = 42,
  ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE = 43,
  ALERT_DESCRIPTION_CERTIFICATE_REVOKED = 44,
  ALERT_DESCRIPTION_CERTIFICATE_EXPIRED = 45,
  ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN = 46,
  ALERT_DESCRIPTION_ILLEGAL_PARAMETER = 47,
  ALERT_DESCRIPTION_UNKNOWN_CA = 48,
  ALERT_DESCRIPTION_ACCESS_DENIED = 49,
  ALERT_DESCRIPTION_DECODE_ERROR = 50,
  ALERT_DESCRIPTION_DECRYPT_ERROR = 51,
  ALERT_DESCRIPTION_PROTOCOL_VERSION = 70,
  ALERT_DESCRIPTION_INSUFFICIENT_SECURITY = 71,
  ALERT_DESCRIPTION_INTERNAL_ERROR = 80,
  ALERT_DESCRIPTION_USER_CANCELLED = 90,
  ALERT_DESCRIPTION_NO_RENEGOTIATION = 100,
  ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION = 110,
  ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE = 111,
  ALERT_DESCRIPTION_UNRECOGNIZED_NAME = 112,
  ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE = 113,
  ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE = 114,
  ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY = 115,
};

/// Python's ssl.Options: OpenSSL's SSL_OP_* bits (OpenSSL 3.0's values), for options().
using Options = std::uint64_t;
inline constexpr Options OP_ALL = 0x80000050;
inline constexpr Options OP_NO_SSLv2 = 0;
inline constexpr Options OP_NO_SSLv3 = 0x02000000;
inline constexpr Options OP_NO_TLSv1 = 0x04000000;
inline constexpr Options OP_NO_TLSv1_1 = 0x10000000;
inline constexpr Options OP_NO_TLSv1_2 = 0x08000000;
inline constexpr Options OP_NO_TLSv1_3 = 0x20000000;
inline constexpr Options OP_NO_COMPRESSION = 0x00020000;
inline constexpr Options OP_NO_TICKET = 0x00004000;
inline constexpr Options OP_NO_RENEGOTIATION = 0x40000000;
inline constexpr Options OP_CIPHER_SERVER_PREFERENCE = 0x00400000;
inline constexpr Options OP_SINGLE_DH_USE = 0;
inline constexpr Options OP_SINGLE_ECDH_USE = 0;
inline constexpr Options OP_ENABLE_MIDDLEBOX_COMPAT = 0x00100000;
inline constexpr Options OP_IGNORE_UNEXPECTED_EOF = 0x00000080;

/// Python's ssl.VerifyFlags: X509_V_FLAG_* bits, for verify_flags().
using VerifyFlags = std::uint64_t;
inline constexpr VerifyFlags VERIFY_DEFAULT = 0;
inline constexpr VerifyFlags VERIFY_CRL_CHECK_LEAF = 0x4;
inline constexpr VerifyFlags VERIFY_CRL_CHECK_CHAIN = 0x4 | 0x8;
inline constexpr VerifyFlags VERIFY_X509_STRICT = 0x20;
inline constexpr VerifyFlags VERIFY_ALLOW_PROXY_CERTS = 0x40;
inline constexpr VerifyFlags VERIFY_X509_TRUSTED_FIRST = 0x8000;
inline constexpr VerifyFlags VERIFY_X509_PARTIAL_CHAIN = 0x80000;

/// Python's ssl.HAS_SNI, HAS_ALPN, HAS_TLSv1_3 (OpenSSL 3 has them all).
inline constexpr bool HAS_SNI = true;
inline constexpr bool HAS_ALPN = true;
inline constexpr bool HAS_TLSv1_3 = true;

/// Python's ssl.OPENSSL_VERSION: "OpenSSL 3.0.11 19 Sep 2023", of the library in use.
[[nodiscard]] std::string openssl_version();

/// Python's ssl.DER_cert_to_PEM_cert(der_cert_bytes): the PEM text of a DER certificate.
[[nodiscard]] std::string DER_cert_to_PEM_cert(std::string_view der_cert_bytes);  // NOLINT
/// Python's ssl.PEM_cert_to_DER_cert(pem_cert_string): the DER bytes of one PEM certificate.
/// ValueError("Invalid PEM encoding; must start with -----BEGIN CERTIFICATE-----") (or end).
[[nodiscard]] std::string PEM_cert_to_DER_cert(std::string_view pem_cert_string);  // NOLINT

// ---- records ----------------------------------------------------------------------------------

/// One relative distinguished name of a subject or issuer: (attribute, value) pairs, as
/// Python's inner tuples: {{"commonName", "localhost"}}.
using RelativeDistinguishedName = std::vector<std::pair<std::string, std::string>>;
/// A subject or issuer: Python's tuple of RDN tuples.
using DistinguishedName = std::vector<RelativeDistinguishedName>;

/// Python's getpeercert() dict. A certificate that was received but not verified (CERT_NONE)
/// gives an empty one (Python's {}): empty() tells.
struct PeerCertificate {
  DistinguishedName subject;
  DistinguishedName issuer;
  int version = 0;           ///< 1 + X509_get_version: 3 for an X.509v3 certificate
  std::string serialNumber;  // NOLINT(readability-identifier-naming): Python's key
  std::string notBefore;     // NOLINT(readability-identifier-naming): "May  9 00:00:00 2023 GMT"
  std::string notAfter;      // NOLINT(readability-identifier-naming)
  /// ("DNS", "localhost"), ("IP Address", "127.0.0.1"), ("email", ...), ("URI", ...), ...
  std::vector<std::pair<std::string, std::string>> subjectAltName;  // NOLINT
  std::vector<std::string> OCSP;                                    // NOLINT
  std::vector<std::string> caIssuers;                               // NOLINT
  std::vector<std::string> crlDistributionPoints;                   // NOLINT

  [[nodiscard]] bool empty() const noexcept { return version == 0; }
  /// Python's repr() of the dict: {'subject': ((('commonName', 'localhost'),),), ...}, with
  /// the keys Python gives for this certificate, in its order.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
  friend bool operator==(const PeerCertificate&, const PeerCertificate&) = default;
  friend std::ostream& operator<<(std::ostream& out, const PeerCertificate& c) {
    return out << c.repr();
  }
};

/// Python's cipher() tuple: (name, protocol, secret bits).
struct Cipher {
  std::string name;      ///< "TLS_AES_256_GCM_SHA384"
  std::string protocol;  ///< "TLSv1.3"
  int bits = 0;

  /// ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256)
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
  friend bool operator==(const Cipher&, const Cipher&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Cipher& c) { return out << c.repr(); }
};

// ---- MemoryBIO ---------------------------------------------------------------------------------

/// Python's ssl.MemoryBIO: a buffer that an SSLObject reads TLS records from, or writes them
/// to. Move-only.
class MemoryBIO {
 public:
  MemoryBIO();
  MemoryBIO(MemoryBIO&& other) noexcept;
  MemoryBIO& operator=(MemoryBIO&& other) noexcept;
  MemoryBIO(const MemoryBIO&) = delete;
  MemoryBIO& operator=(const MemoryBIO&) = delete;
  ~MemoryBIO();

  /// How many bytes it holds.
  [[nodiscard]] std::size_t pending() const noexcept;
  /// Whether it is empty and write_eof() was called.
  [[nodiscard]] bool eof() const noexcept;
  /// Takes up to n bytes (all of them when n < 0).
  std::string read(std::ptrdiff_t n = -1);
  /// Takes up to buffer.size() bytes into buffer; returns how many (not in Python: a read
  /// without allocation).
  std::size_t read(std::span<char> buffer);
  /// Appends data; returns its size. SSLError after write_eof().
  std::size_t write(std::string_view data);
  /// Marks the end: once what it holds is read, readers see EOF instead of "want read".
  void write_eof();

  /// OpenSSL's BIO* (for batteries' own use).
  [[nodiscard]] void* native_handle() const noexcept { return m_bio; }

 private:
  void* m_bio;  // BIO*
  bool m_eof_written = false;
};

// ---- SSLContext -------------------------------------------------------------------------------

class SSLContext;
class SSLObject;

/// Python's SSLContext.sni_callback(ssl_object, server_name, ssl_context): called on a
/// server during the handshake with the name the client asked for (nullopt when it sent
/// none) and the context the callback was set on. It may switch the connection to another
/// context (ssl_object.set_context(other)). nullopt goes on; an alert refuses the handshake.
/// An exception refuses it with ALERT_DESCRIPTION_HANDSHAKE_FAILURE.
using SNICallback = std::function<std::optional<AlertDescription>(
    SSLObject& ssl_object, std::optional<std::string_view> server_name, SSLContext& ssl_context)>;

/// Python's ssl.SSLContext: the settings, certificates and trust of TLS connections.
class SSLContext : public std::enable_shared_from_this<SSLContext> {
  struct Key {};

 public:
  /// Python's SSLContext(protocol). PROTOCOL_TLS_CLIENT: check_hostname and CERT_REQUIRED;
  /// PROTOCOL_TLS_SERVER (and the deprecated PROTOCOL_TLS): neither. Every context starts
  /// with Python's defaults: TLS 1.2 at least, Python's cipher string and options.
  [[nodiscard]] static std::shared_ptr<SSLContext> create(Protocol protocol);

  SSLContext(Key key, Protocol protocol);
  SSLContext(const SSLContext&) = delete;
  SSLContext& operator=(const SSLContext&) = delete;
  ~SSLContext();

  [[nodiscard]] Protocol protocol() const noexcept { return m_protocol; }

  /// Python's load_cert_chain(certfile, keyfile=None, password=None): the certificate chain
  /// (PEM) and its private key (in certfile when keyfile is nullopt). FileNotFoundError for a
  /// missing file; SSLError "[SSL] PEM lib" for a file that is not PEM, or an encrypted key
  /// with a wrong or no password; SSLError "[X509: KEY_VALUES_MISMATCH] key values mismatch"
  /// when the key is not the certificate's.
  void load_cert_chain(const std::string& certfile,
                       const std::optional<std::string>& keyfile = std::nullopt,
                       const std::optional<std::string>& password = std::nullopt);
  /// The same with Python's callable password: called once, when the key is encrypted.
  void load_cert_chain(const std::string& certfile, const std::optional<std::string>& keyfile,
                       const std::function<std::string()>& password);
  /// Python's load_verify_locations(cafile=None, capath=None, cadata=None): trusted CA
  /// certificates from a PEM file, a hashed directory, or in memory (PEM text or DER
  /// bytes). TypeError("cafile, capath and cadata cannot be all omitted").
  void load_verify_locations(const std::optional<std::string>& cafile = std::nullopt,
                             const std::optional<std::string>& capath = std::nullopt,
                             const std::optional<std::string>& cadata = std::nullopt);
  /// Python's load_default_certs(purpose): the system's CAs (set_default_verify_paths()).
  void load_default_certs(Purpose purpose = Purpose::SERVER_AUTH);
  /// OpenSSL's default CA file and directory ($SSL_CERT_FILE, $SSL_CERT_DIR override them).
  void set_default_verify_paths();
  /// Python's set_ciphers(ciphers): OpenSSL's cipher list format (TLS 1.2 and below).
  /// SSLError("No cipher can be selected.").
  void set_ciphers(const std::string& ciphers);
  /// Python's set_alpn_protocols(protocols), most preferred first. SSLError("ALPN protocols
  /// must be 1 to 255 in length").
  void set_alpn_protocols(const std::vector<std::string>& protocols);
  template <std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>
  void set_alpn_protocols(R&& protocols) {
    std::vector<std::string> list;
    for (auto&& p : protocols) list.emplace_back(std::string_view(p));
    set_alpn_protocols(std::as_const(list));
  }
  void set_alpn_protocols(std::initializer_list<std::string_view> protocols) {
    set_alpn_protocols(std::vector<std::string>(protocols.begin(), protocols.end()));
  }

  /// Whether a client checks that the server's certificate matches server_hostname. Setting
  /// it turns CERT_NONE into CERT_REQUIRED, as Python does.
  [[nodiscard]] bool check_hostname() const noexcept { return m_check_hostname; }
  void set_check_hostname(bool value);
  /// ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.").
  [[nodiscard]] VerifyMode verify_mode() const;
  void set_verify_mode(VerifyMode mode);
  [[nodiscard]] VerifyFlags verify_flags() const;
  void set_verify_flags(VerifyFlags flags);
  /// MINIMUM_SUPPORTED / MAXIMUM_SUPPORTED when unbounded.
  [[nodiscard]] TLSVersion minimum_version() const;
  void set_minimum_version(TLSVersion version);
  [[nodiscard]] TLSVersion maximum_version() const;
  void set_maximum_version(TLSVersion version);
  /// OpenSSL's SSL_OP_* bits; setting clears the bits not given (as Python's setter does).
  [[nodiscard]] Options options() const;
  void set_options(Options options);
  /// OpenSSL's security level (2 by default on Debian).
  [[nodiscard]] int security_level() const;
  /// ValueError("sni_callback cannot be set on TLS_CLIENT context"). An empty function
  /// removes it. The callback must not own this context (a reference cycle): capture a
  /// weak_ptr or a raw pointer.
  void set_sni_callback(SNICallback callback);
  [[nodiscard]] const SNICallback& sni_callback() const noexcept { return m_sni_callback; }

  /// Python's wrap_bio(incoming, outgoing, server_side=False, server_hostname=None): a TLS
  /// connection reading records from incoming and writing them to outgoing. The SSLObject
  /// keeps both BIOs and this context alive. SSLError "Cannot create a server socket with a
  /// PROTOCOL_TLS_CLIENT context" (and the reverse); ValueError("server_hostname cannot be
  /// an empty string or start with a leading dot."). A client without server_hostname
  /// checks no name (Python's way to skip the check while still verifying the chain).
  [[nodiscard]] std::shared_ptr<SSLObject> wrap_bio(
      MemoryBIO& incoming, MemoryBIO& outgoing, bool server_side = false,
      const std::optional<std::string>& server_hostname = std::nullopt);

  /// OpenSSL's SSL_CTX* (for batteries' own use).
  [[nodiscard]] void* native_handle() const noexcept { return m_ctx; }

 private:
  void* m_ctx;  // SSL_CTX*
  Protocol m_protocol;
  bool m_check_hostname = false;
  SNICallback m_sni_callback;
  std::string m_alpn;  // the wire-format list that a server selects from
};

/// Python's ssl.create_default_context() keyword arguments.
struct DefaultContextOptions {
  std::optional<std::string> cafile = std::nullopt;
  std::optional<std::string> capath = std::nullopt;
  std::optional<std::string> cadata = std::nullopt;
};

/// Python's ssl.create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile, capath,
/// cadata): SERVER_AUTH makes a client context (PROTOCOL_TLS_CLIENT: verified, hostname
/// checked), CLIENT_AUTH a server one. The CAs are the given ones, else the system's.
[[nodiscard]] std::shared_ptr<SSLContext> create_default_context(
    Purpose purpose = Purpose::SERVER_AUTH, const DefaultContextOptions& options = {});

// ---- SSLObject --------------------------------------------------------------------------------

/// getpeercert(true): the argument must be the constant true (the dict form is
/// getpeercert()); anything else does not compile.
struct BinaryForm {
  consteval BinaryForm(bool binary_form) {  // NOLINT(google-explicit-constructor)
    if (!binary_form) throw "getpeercert(false) is getpeercert()";
  }
};

/// Python's ssl.SSLObject: one TLS connection over two MemoryBIOs (made by wrap_bio()). The
/// methods that exchange records raise SSLWantReadError when more must be read from the
/// peer first, after what is in the outgoing BIO has been sent.
class SSLObject {
 public:
  struct Impl;
  explicit SSLObject(std::unique_ptr<Impl> impl) noexcept;
  SSLObject(const SSLObject&) = delete;
  SSLObject& operator=(const SSLObject&) = delete;
  ~SSLObject();

  /// Python's do_handshake().
  void do_handshake();
  /// Python's read(len=1024): up to len bytes of application data; "" once the peer closed
  /// the connection (close_notify). SSLWantReadError when there is none yet.
  std::string read(std::size_t len = 1024);
  /// Python's read(len, buffer): into buffer; returns the count (0 at close_notify).
  std::size_t read(std::span<char> buffer);
  /// Python's write(data): encrypts all of data into the outgoing BIO; returns its size.
  std::size_t write(std::string_view data);
  /// Python's unwrap(): the TLS shutdown (sends close_notify, waits for the peer's).
  void unwrap();
  /// Python's pending(): decrypted bytes ready to read.
  [[nodiscard]] std::size_t pending() const;

  /// Python's getpeercert(): nullopt when the peer sent no certificate; an empty one when it
  /// was not verified. ValueError("handshake not done yet").
  [[nodiscard]] std::optional<PeerCertificate> getpeercert() const;
  /// Python's getpeercert(True): the certificate in DER, verified or not.
  [[nodiscard]] std::optional<std::string> getpeercert(BinaryForm binary_form) const;
  /// (name, protocol, bits); nullopt before the handshake.
  [[nodiscard]] std::optional<Cipher> cipher() const;
  /// The ciphers the client offered (server side only; nullopt otherwise).
  [[nodiscard]] std::optional<std::vector<Cipher>> shared_ciphers() const;
  /// Always nullopt: OpenSSL 3 does not compress.
  [[nodiscard]] std::optional<std::string> compression() const { return std::nullopt; }
  /// "TLSv1.3"; nullopt before the handshake.
  [[nodiscard]] std::optional<std::string> version() const;
  /// The protocol ALPN chose; nullopt when none was.
  [[nodiscard]] std::optional<std::string> selected_alpn_protocol() const;
  /// Python's get_channel_binding("tls-unique"); ValueError for another type.
  [[nodiscard]] std::optional<std::string> get_channel_binding(
      std::string_view cb_type = "tls-unique") const;
  [[nodiscard]] bool session_reused() const;
  [[nodiscard]] bool server_side() const noexcept;
  [[nodiscard]] const std::optional<std::string>& server_hostname() const noexcept;
  /// The context; an SNI callback may replace it (set_context) during the handshake.
  [[nodiscard]] std::shared_ptr<SSLContext> context() const;
  void set_context(std::shared_ptr<SSLContext> context);

  /// For batteries::asyncio: the operations without exceptions for "want read".
  enum class Status { OK, WANT_READ, WANT_WRITE, ZERO_RETURN };
  struct IoResult {
    std::size_t n;
    Status status;
  };
  /// do_handshake(), read(), write() and unwrap() that answer WANT_READ (and WANT_WRITE,
  /// and ZERO_RETURN for read_nb at close_notify) instead of raising; they raise the rest.
  IoResult do_handshake_nb();
  IoResult read_nb(std::span<char> buffer);
  IoResult write_nb(std::string_view data);
  IoResult unwrap_nb();
  [[nodiscard]] Impl& impl() const noexcept { return *m_impl; }

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace batteries::ssl

template <>
struct fmt::formatter<batteries::ssl::PeerCertificate> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const batteries::ssl::PeerCertificate& c, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(c.str(), ctx);
  }
};

template <>
struct fmt::formatter<batteries::ssl::Cipher> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const batteries::ssl::Cipher& c, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(c.str(), ctx);
  }
};
