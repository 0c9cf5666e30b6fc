// batteries::ssl over OpenSSL 3: SSLContext, SSLObject, MemoryBIO and Python's SSLError
// messages, following CPython 3.11's Modules/_ssl.c.
#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <batteries/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace batteries::ssl {

static_assert((SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS) == OP_ALL);
static_assert(SSL_OP_NO_SSLv3 == OP_NO_SSLv3 && SSL_OP_NO_TLSv1 == OP_NO_TLSv1);
static_assert(SSL_OP_NO_TLSv1_1 == OP_NO_TLSv1_1 && SSL_OP_NO_TLSv1_2 == OP_NO_TLSv1_2);
static_assert(SSL_OP_NO_TLSv1_3 == OP_NO_TLSv1_3 && SSL_OP_NO_COMPRESSION == OP_NO_COMPRESSION);
static_assert(SSL_OP_NO_TICKET == OP_NO_TICKET && SSL_OP_NO_RENEGOTIATION == OP_NO_RENEGOTIATION);
static_assert(SSL_OP_CIPHER_SERVER_PREFERENCE == OP_CIPHER_SERVER_PREFERENCE);
static_assert(SSL_OP_ENABLE_MIDDLEBOX_COMPAT == OP_ENABLE_MIDDLEBOX_COMPAT);
static_assert(SSL_OP_IGNORE_UNEXPECTED_EOF == OP_IGNORE_UNEXPECTED_EOF);
static_assert(X509_V_FLAG_CRL_CHECK == VERIFY_CRL_CHECK_LEAF);
static_assert((X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) == VERIFY_CRL_CHECK_CHAIN);
static_assert(X509_V_FLAG_X509_STRICT == VERIFY_X509_STRICT);
static_assert(X509_V_FLAG_ALLOW_PROXY_CERTS == VERIFY_ALLOW_PROXY_CERTS);
static_assert(X509_V_FLAG_TRUSTED_FIRST == VERIFY_X509_TRUSTED_FIRST);
static_assert(X509_V_FLAG_PARTIAL_CHAIN == VERIFY_X509_PARTIAL_CHAIN);

namespace {

// Python 3.10+'s PY_SSL_DEFAULT_CIPHER_STRING.
constexpr const char* kDefaultCiphers =
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM";

SSL_CTX* ctx_of(const SSLContext& c) { return static_cast<SSL_CTX*>(c.native_handle()); }
BIO* bio_of(const MemoryBIO& b) { return static_cast<BIO*>(b.native_handle()); }

// ---- errors ---------------------------------------------------------------------------------

// Python's table of library mnemonics (its _ssl_data_300.h), by OpenSSL library code.
std::optional<std::string> lib_name(int lib) {
  switch (lib) {
    case ERR_LIB_BN:
      return "BN";
    case ERR_LIB_RSA:
      return "RSA";
    case ERR_LIB_DH:
      return "DH";
    case ERR_LIB_EVP:
      return "EVP";
    case ERR_LIB_BUF:
      return "BUF";
    case ERR_LIB_OBJ:
      return "OBJ";
    case ERR_LIB_PEM:
      return "PEM";
    case ERR_LIB_DSA:
      return "DSA";
    case ERR_LIB_X509:
      return "X509";
    case ERR_LIB_ASN1:
      return "ASN1";
    case ERR_LIB_CONF:
      return "CONF";
    case ERR_LIB_CRYPTO:
      return "CRYPTO";
    case ERR_LIB_EC:
      return "EC";
    case ERR_LIB_SSL:
      return "SSL";
    case ERR_LIB_BIO:
      return "BIO";
    case ERR_LIB_PKCS7:
      return "PKCS7";
    case ERR_LIB_X509V3:
      return "X509V3";
    case ERR_LIB_PKCS12:
      return "PKCS12";
    case ERR_LIB_RAND:
      return "RAND";
    case ERR_LIB_DSO:
      return "DSO";
    case ERR_LIB_ENGINE:
      return "ENGINE";
    case ERR_LIB_OCSP:
      return "OCSP";
    case ERR_LIB_UI:
      return "UI";
    case ERR_LIB_COMP:
      return "COMP";
    case ERR_LIB_ECDSA:
      return "ECDSA";
    case ERR_LIB_ECDH:
      return "ECDH";
    case ERR_LIB_OSSL_STORE:
      return "OSSL_STORE";
    case ERR_LIB_FIPS:
      return "FIPS";
    case ERR_LIB_CMS:
      return "CMS";
    case ERR_LIB_TS:
      return "TS";
    case ERR_LIB_HMAC:
      return "HMAC";
    case ERR_LIB_CT:
      return "CT";
    case ERR_LIB_ASYNC:
      return "ASYNC";
    case ERR_LIB_KDF:
      return "KDF";
    case ERR_LIB_SM2:
      return "SM2";
    case ERR_LIB_ESS:
      return "ESS";
    case ERR_LIB_PROP:
      return "PROP";
    case ERR_LIB_CRMF:
      return "CRMF";
    case ERR_LIB_PROV:
      return "PROV";
    case ERR_LIB_CMP:
      return "CMP";
    case ERR_LIB_OSSL_ENCODER:
      return "OSSL_ENCODER";
    case ERR_LIB_OSSL_DECODER:
      return "OSSL_DECODER";
    case ERR_LIB_HTTP:
      return "HTTP";
    default:
      return std::nullopt;
  }
}

// The reason's mnemonic as Python's table has it: the library-specific reasons are OpenSSL's
// SSL_R_CERTIFICATE_VERIFY_FAILED etc., whose texts are their names in lower case with
// spaces. The common ERR_R_* reasons are not in the table ("[SSL] PEM lib").
std::optional<std::string> reason_name(unsigned long e) {
  if (e == 0 || ERR_SYSTEM_ERROR(e) || ERR_COMMON_ERROR(e)) return std::nullopt;
  const char* text = ERR_reason_error_string(e);
  if (text == nullptr) return std::nullopt;
  std::string name(text);
  for (char& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c)) != 0
            ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
            : '_';
  }
  return name;
}

std::string error_text(unsigned long e, const char* errstr) {
  if (errstr != nullptr) return errstr;
  const char* text = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return text != nullptr ? text : "unknown error";
}

// Python's fill_and_set_sslerror: "[LIB: REASON] text: verify message".
std::string format_message(const std::optional<std::string>& lib,
                           const std::optional<std::string>& reason, const std::string& text,
                           const std::optional<std::string>& verify) {
  if (verify && reason && lib) return fmt::format("[{}: {}] {}: {}", *lib, *reason, text, *verify);
  if (reason && lib) return fmt::format("[{}: {}] {}", *lib, *reason, text);
  if (lib) return fmt::format("[{}] {}", *lib, text);
  return text;
}

// Python's _setSSLError: the error at the end of OpenSSL's queue, or errstr.
[[noreturn]] void raise_queue_error(const char* errstr = nullptr) {
  const unsigned long e = ERR_peek_last_error();
  std::optional<std::string> lib = e != 0 ? lib_name(ERR_GET_LIB(e)) : std::nullopt;
  std::optional<std::string> reason = reason_name(e);
  if (errstr != nullptr) lib = reason = std::nullopt;
  const std::string text = error_text(e, errstr);
  ERR_clear_error();
  throw SSLError(ERR_GET_REASON(e), format_message(lib, reason, text, std::nullopt), lib, reason);
}

// A file could not be loaded: the OSError of errno when it was set (Python's check: the
// file could not be opened or read), or of a system error OpenSSL recorded; else the SSL
// error.
[[noreturn]] void raise_file_error(const std::string& filename, int saved_errno) {
  const unsigned long first = ERR_peek_error();
  if (saved_errno == 0 && first != 0 && ERR_SYSTEM_ERROR(first)) {
    saved_errno = ERR_GET_REASON(first);
  }
  if (saved_errno != 0) {
    ERR_clear_error();
    raise_os_error(saved_errno, filename);
  }
  raise_queue_error();
}

std::string verify_message(long code, const std::optional<std::string>& hostname) {
  switch (code) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return fmt::format("Hostname mismatch, certificate is not valid for '{}'.",
                         hostname.value_or(""));
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return fmt::format("IP address mismatch, certificate is not valid for '{}'.",
                         hostname.value_or(""));
    default: {
      const char* s = X509_verify_cert_error_string(code);
      return s != nullptr ? s : "";
    }
  }
}

}  // namespace

// ---- module functions and records --------------------------------------------------------------

std::string openssl_version() { return OpenSSL_version(OPENSSL_VERSION); }

namespace {
constexpr std::string_view kPemHeader = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemFooter = "-----END CERTIFICATE-----";
}  // namespace

std::string DER_cert_to_PEM_cert(std::string_view der_cert_bytes) {  // NOLINT
  std::string b64(4 * ((der_cert_bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(der_cert_bytes.data()),
                                static_cast<int>(der_cert_bytes.size()));
  b64.resize(static_cast<std::size_t>(n));
  std::string out(kPemHeader);
  out += '\n';
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out += '\n';
  }
  out += kPemFooter;
  out += '\n';
  return out;
}

std::string PEM_cert_to_DER_cert(std::string_view pem_cert_string) {  // NOLINT
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!pem_cert_string.empty() && is_space(pem_cert_string.front())) {
    pem_cert_string.remove_prefix(1);
  }
  while (!pem_cert_string.empty() && is_space(pem_cert_string.back())) {
    pem_cert_string.remove_suffix(1);
  }
  if (!pem_cert_string.starts_with(kPemHeader)) {
    throw ValueError(fmt::format("Invalid PEM encoding; must start with {}", kPemHeader));
  }
  if (!pem_cert_string.ends_with(kPemFooter)) {
    throw ValueError(fmt::format("Invalid PEM encoding; must end with {}", kPemFooter));
  }
  std::string b64;
  for (const char c : pem_cert_string.substr(
           kPemHeader.size(), pem_cert_string.size() - kPemHeader.size() - kPemFooter.size())) {
    if (!is_space(c)) b64 += c;
  }
  if (b64.size() % 4 != 0) throw ValueError("Incorrect padding");
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) throw ValueError("Invalid base64-encoded string");
  // EVP_DecodeBlock counts the padding as data.
  std::size_t size = static_cast<std::size_t>(n);
  if (b64.ends_with("==")) {
    size -= 2;
  } else if (b64.ends_with("=")) {
    size -= 1;
  }
  out.resize(size);
  return out;
}

namespace {

// Python's repr() of a tuple of reprs.
std::string tuple_repr(const std::vector<std::string>& items) {
  if (items.size() == 1) return fmt::format("({},)", items[0]);
  std::string out = "(";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out + ")";
}

std::string pair_repr(const std::pair<std::string, std::string>& p) {
  return fmt::format("({}, {})", py_repr(p.first), py_repr(p.second));
}

std::string dn_repr(const DistinguishedName& dn) {
  std::vector<std::string> rdns;
  for (const auto& rdn : dn) {
    std::vector<std::string> attrs;
    for (const auto& a : rdn) attrs.push_back(pair_repr(a));
    rdns.push_back(tuple_repr(attrs));
  }
  return tuple_repr(rdns);
}

std::string strings_repr(const std::vector<std::string>& v) {
  std::vector<std::string> items;
  for (const auto& s : v) items.push_back(py_repr(s));
  return tuple_repr(items);
}

}  // namespace

std::string PeerCertificate::repr() const {
  if (empty()) return "{}";
  std::string out = fmt::format(
      "{{'subject': {}, 'issuer': {}, 'version': {}, 'serialNumber': {}, 'notBefore': {}, "
      "'notAfter': {}",
      dn_repr(subject), dn_repr(issuer), version, py_repr(serialNumber), py_repr(notBefore),
      py_repr(notAfter));
  if (!subjectAltName.empty()) {
    std::vector<std::string> items;
    for (const auto& p : subjectAltName) items.push_back(pair_repr(p));
    out += ", 'subjectAltName': " + tuple_repr(items);
  }
  if (!OCSP.empty()) out += ", 'OCSP': " + strings_repr(OCSP);
  if (!caIssuers.empty()) out += ", 'caIssuers': " + strings_repr(caIssuers);
  if (!crlDistributionPoints.empty()) {
    out += ", 'crlDistributionPoints': " + strings_repr(crlDistributionPoints);
  }
  return out + "}";
}

std::string Cipher::repr() const {
  return fmt::format("({}, {}, {})", py_repr(name), py_repr(protocol), bits);
}

// ---- MemoryBIO ----------------------------------------------------------------------------------

MemoryBIO::MemoryBIO() : m_bio(BIO_new(BIO_s_mem())) {
  if (m_bio == nullptr) raise_queue_error();
  // An empty BIO means "retry later" until write_eof(), as Python's MemoryBIO.
  BIO_set_retry_read(static_cast<BIO*>(m_bio));
  BIO_set_mem_eof_return(static_cast<BIO*>(m_bio), -1);
}

MemoryBIO::MemoryBIO(MemoryBIO&& other) noexcept
    : m_bio(std::exchange(other.m_bio, nullptr)), m_eof_written(other.m_eof_written) {}

MemoryBIO& MemoryBIO::operator=(MemoryBIO&& other) noexcept {
  if (this != &other) {
    if (m_bio != nullptr) BIO_free(static_cast<BIO*>(m_bio));
    m_bio = std::exchange(other.m_bio, nullptr);
    m_eof_written = other.m_eof_written;
  }
  return *this;
}

MemoryBIO::~MemoryBIO() {
  if (m_bio != nullptr) BIO_free(static_cast<BIO*>(m_bio));
}

std::size_t MemoryBIO::pending() const noexcept {
  return m_bio != nullptr ? BIO_ctrl_pending(static_cast<BIO*>(m_bio)) : 0;
}

bool MemoryBIO::eof() const noexcept { return m_eof_written && pending() == 0; }

std::string MemoryBIO::read(std::ptrdiff_t n) {
  const std::size_t avail = pending();
  const std::size_t want =
      n < 0 || static_cast<std::size_t>(n) > avail ? avail : static_cast<std::size_t>(n);
  std::string out(want, '\0');
  if (want == 0) return out;
  std::size_t got = 0;
  if (BIO_read_ex(static_cast<BIO*>(m_bio), out.data(), want, &got) != 1) {
    // A memory BIO fails only when empty, which pending() ruled out.
    raise_queue_error();
  }
  out.resize(got);
  return out;
}

std::size_t MemoryBIO::read(std::span<char> buffer) {
  const std::size_t want = std::min(buffer.size(), pending());
  if (want == 0) return 0;
  std::size_t got = 0;
  if (BIO_read_ex(static_cast<BIO*>(m_bio), buffer.data(), want, &got) != 1) raise_queue_error();
  return got;
}

std::size_t MemoryBIO::write(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) {
    throw OverflowError(fmt::format("string longer than {} bytes", INT_MAX));
  }
  if (m_eof_written) throw SSLError("cannot write() after write_eof()");
  if (data.empty()) return 0;
  std::size_t written = 0;
  if (BIO_write_ex(static_cast<BIO*>(m_bio), data.data(), data.size(), &written) != 1) {
    raise_queue_error();
  }
  return written;
}

void MemoryBIO::write_eof() {
  m_eof_written = true;
  // Now an empty BIO is the end, not "retry".
  BIO_clear_retry_flags(static_cast<BIO*>(m_bio));
  BIO_set_mem_eof_return(static_cast<BIO*>(m_bio), 0);
}

// ---- SSLObject::Impl ---------------------------------------------------------------------------

struct SSLObject::Impl {
  SSL* ssl = nullptr;
  // The context the connection was made with holds the callbacks OpenSSL calls (SNI looks at
  // it even after a switch); the current one is what context() answers.
  std::shared_ptr<SSLContext> original_context;
  std::shared_ptr<SSLContext> context;
  std::optional<std::string> server_hostname;
  bool server_side = false;

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  // Python's PySSL_SetError: the exception for a failed call that returned ret.
  [[noreturn]] void raise_error(int ret) const {
    const int err = SSL_get_error(ssl, ret);
    const unsigned long e = ERR_peek_last_error();
    int p = SSL_ERROR_SSL;
    const char* errstr = nullptr;
    enum class Kind { other, cert, zero, want_read, want_write, syscall, eof } kind = Kind::other;
    switch (err) {
      case SSL_ERROR_ZERO_RETURN:
        errstr = "TLS/SSL connection has been closed (EOF)";
        kind = Kind::zero;
        p = SSL_ERROR_ZERO_RETURN;
        break;
      case SSL_ERROR_WANT_READ:
        errstr = "The operation did not complete (read)";
        kind = Kind::want_read;
        p = SSL_ERROR_WANT_READ;
        break;
      case SSL_ERROR_WANT_WRITE:
        errstr = "The operation did not complete (write)";
        kind = Kind::want_write;
        p = SSL_ERROR_WANT_WRITE;
        break;
      case SSL_ERROR_WANT_X509_LOOKUP:
        errstr = "The operation did not complete (X509 lookup)";
        p = SSL_ERROR_WANT_X509_LOOKUP;
        break;
      case SSL_ERROR_WANT_CONNECT:
        errstr = "The operation did not complete (connect)";
        p = SSL_ERROR_WANT_CONNECT;
        break;
      case SSL_ERROR_SYSCALL:
        if (e == 0) {
          if (ret == 0) {
            kind = Kind::eof;
            p = ssl::SSL_ERROR_EOF;
            errstr = "EOF occurred in violation of protocol";
          } else {
            kind = Kind::syscall;
            p = SSL_ERROR_SYSCALL;
            errstr = "Some I/O error occurred";
          }
        } else {
          kind = Kind::syscall;
          p = SSL_ERROR_SYSCALL;
        }
        break;
      case SSL_ERROR_SSL:
        p = SSL_ERROR_SSL;
        if (e == 0) errstr = "A failure in the SSL library occurred";
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
          kind = Kind::cert;
        }
        if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
            ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
          kind = Kind::eof;
          p = ssl::SSL_ERROR_EOF;
          errstr = "EOF occurred in violation of protocol";
        }
        break;
      default:
        p = ssl::SSL_ERROR_INVALID_ERROR_CODE;
        errstr = "Invalid error code";
        break;
    }
    const std::optional<std::string> lib = e != 0 ? lib_name(ERR_GET_LIB(e)) : std::nullopt;
    const std::optional<std::string> reason = reason_name(e);
    const std::string text = error_text(e, errstr);
    ERR_clear_error();
    const int errnum = p;
    switch (kind) {
      case Kind::cert: {
        const long code = SSL_get_verify_result(ssl);
        std::optional<std::string> verify = verify_message(code, server_hostname);
        throw SSLCertVerificationError(errnum, format_message(lib, reason, text, verify), lib,
                                       reason, code, verify);
      }
      case Kind::zero:
        throw SSLZeroReturnError(errnum, format_message(lib, reason, text, {}), lib, reason);
      case Kind::want_read:
        throw SSLWantReadError(errnum, format_message(lib, reason, text, {}), lib, reason);
      case Kind::want_write:
        throw SSLWantWriteError(errnum, format_message(lib, reason, text, {}), lib, reason);
      case Kind::syscall:
        throw SSLSyscallError(errnum, format_message(lib, reason, text, {}), lib, reason);
      case Kind::eof:
        throw SSLEOFError(errnum, format_message(lib, reason, text, {}), lib, reason);
      case Kind::other:
        break;
    }
    throw SSLError(errnum, format_message(lib, reason, text, {}), lib, reason);
  }

  // The status of a failed call for the non-raising forms, or raise.
  Status status_or_raise(int ret) const {
    switch (SSL_get_error(ssl, ret)) {
      case SSL_ERROR_WANT_READ:
        ERR_clear_error();
        return Status::WANT_READ;
      case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return Status::WANT_WRITE;
      default:
        raise_error(ret);
    }
  }
};

// ---- SSLContext
// ----------------------------------------------------------------------------------

namespace {

int servername_callback(SSL* s, int* al, void* arg) {
  auto* context = static_cast<SSLContext*>(arg);
  auto* object = static_cast<SSLObject*>(SSL_get_app_data(s));
  const SNICallback& cb = context->sni_callback();
  if (!cb || object == nullptr) return SSL_TLSEXT_ERR_OK;
  const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
  std::optional<std::string_view> server_name;
  if (name != nullptr) server_name = name;
  try {
    const std::optional<AlertDescription> alert = cb(*object, server_name, *context);
    if (!alert) return SSL_TLSEXT_ERR_OK;
    *al = static_cast<int>(*alert);
  } catch (...) {  // Python writes it as unraisable and refuses the handshake
    *al = SSL_AD_HANDSHAKE_FAILURE;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int alpn_select_callback(SSL* /*s*/, const unsigned char** out, unsigned char* outlen,
                         const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  const int ret =
      SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned int>(wire->size()), in, inlen);
  if (ret != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Python's _password_callback, without a terminal prompt when there is no password.
struct PasswordInfo {
  const std::optional<std::string>* password = nullptr;
  const std::function<std::string()>* callable = nullptr;
  std::exception_ptr error;
};

int password_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* info = static_cast<PasswordInfo*>(userdata);
  std::string pw;
  try {
    if (info->callable != nullptr && *info->callable) {
      pw = (*info->callable)();
    } else if (info->password != nullptr && info->password->has_value()) {
      pw = **info->password;
    } else {
      return -1;
    }
    if (pw.size() > static_cast<std::size_t>(size)) {
      throw ValueError(fmt::format("password cannot be longer than {} bytes", size));
    }
  } catch (...) {
    info->error = std::current_exception();
    return -1;
  }
  // OpenSSL takes the length, not a terminator.
  std::memcpy(buf, pw.data(), pw.size());  // NOLINT(bugprone-not-null-terminated-result)
  return static_cast<int>(pw.size());
}

int to_openssl_version(TLSVersion v, bool minimum) {
  switch (v) {
    case TLSVersion::MINIMUM_SUPPORTED:
      return minimum ? 0 : SSL3_VERSION;
    case TLSVersion::MAXIMUM_SUPPORTED:
      return minimum ? TLS1_3_VERSION : 0;
    case TLSVersion::SSLv3:
    case TLSVersion::TLSv1:
    case TLSVersion::TLSv1_1:
    case TLSVersion::TLSv1_2:
    case TLSVersion::TLSv1_3:
      return static_cast<int>(v);
  }
  throw ValueError(fmt::format("Unsupported TLS/SSL version 0x{:x}", static_cast<int>(v)));
}

}  // namespace

std::shared_ptr<SSLContext> SSLContext::create(Protocol protocol) {
  return std::make_shared<SSLContext>(Key{}, protocol);
}

SSLContext::SSLContext(Key /*key*/, Protocol protocol) : m_ctx(nullptr), m_protocol(protocol) {
  const SSL_METHOD* method = nullptr;
  switch (protocol) {
    case Protocol::PROTOCOL_TLS:
      method = TLS_method();
      break;
    case Protocol::PROTOCOL_TLS_CLIENT:
      method = TLS_client_method();
      break;
    case Protocol::PROTOCOL_TLS_SERVER:
      method = TLS_server_method();
      break;
    default:
      throw ValueError("invalid or unsupported protocol version " +
                       std::to_string(static_cast<int>(protocol)));
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) raise_queue_error("failed to allocate SSL context");
  m_ctx = ctx;
  // A constructor that throws runs no destructor: the guard frees ctx if a step fails.
  struct Guard {
    SSLContext* self = nullptr;
    bool done = false;
    ~Guard() {
      if (!done) {
        SSL_CTX_free(static_cast<SSL_CTX*>(self->m_ctx));
        self->m_ctx = nullptr;
      }
    }
  } guard{this};

  if (protocol == Protocol::PROTOCOL_TLS_CLIENT) {
    m_check_hostname = true;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  SSL_CTX_set_options(
      ctx, OP_ALL | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, kDefaultCiphers) != 1) {
    ERR_clear_error();
    throw SSLError("No cipher can be selected.");
  }
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) raise_queue_error();
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  static constexpr unsigned char kSidCtx[] = "Python";
  SSL_CTX_set_session_id_context(ctx, kSidCtx, sizeof(kSidCtx));
  X509_VERIFY_PARAM* params = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(params, X509_V_FLAG_TRUSTED_FIRST);
  X509_VERIFY_PARAM_set_hostflags(params, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  guard.done = true;
}

SSLContext::~SSLContext() {
  if (m_ctx != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(m_ctx));
}

namespace {

// Python's load_cert_chain, with the password (or its callable) in info.
void load_chain(SSL_CTX* ctx, const std::string& certfile,
                const std::optional<std::string>& keyfile, PasswordInfo& info) {
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx, password_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &info);
  struct Restore {
    SSL_CTX* ctx;
    explicit Restore(SSL_CTX* c) : ctx(c) {}
    Restore(const Restore&) = delete;
    Restore& operator=(const Restore&) = delete;
    ~Restore() {
      SSL_CTX_set_default_passwd_cb(ctx, nullptr);
      SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    }
  } restore{ctx};
  auto fail = [&info](const std::string& file) {
    const int saved = errno;
    if (info.error) {
      ERR_clear_error();
      std::rethrow_exception(info.error);
    }
    raise_file_error(file, saved);
  };
  errno = 0;
  if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) fail(certfile);
  const std::string& key = keyfile ? *keyfile : certfile;
  errno = 0;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) fail(key);
  if (SSL_CTX_check_private_key(ctx) != 1) raise_queue_error();
}

}  // namespace

void SSLContext::load_cert_chain(const std::string& certfile,
                                 const std::optional<std::string>& keyfile,
                                 const std::optional<std::string>& password) {
  PasswordInfo info;
  info.password = &password;
  load_chain(ctx_of(*this), certfile, keyfile, info);
}

void SSLContext::load_cert_chain(const std::string& certfile,
                                 const std::optional<std::string>& keyfile,
                                 const std::function<std::string()>& password) {
  PasswordInfo info;
  info.callable = &password;
  load_chain(ctx_of(*this), certfile, keyfile, info);
}

namespace {

// Python's _add_ca_certs: every certificate in data, PEM or DER.
void add_ca_certs(SSL_CTX* ctx, const std::string& data, bool pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
  if (!bio) raise_queue_error();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int loaded = 0;
  ERR_clear_error();
  for (;;) {
    X509* cert = pem ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                     : d2i_X509_bio(bio.get(), nullptr);
    if (cert == nullptr) break;
    const int r = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (r == 0) {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
          ERR_GET_REASON(e) == X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        ERR_clear_error();  // a duplicate is not an error
      } else {
        raise_queue_error();
      }
    }
    ++loaded;
  }
  const unsigned long e = ERR_peek_last_error();
  if (loaded == 0) {
    ERR_clear_error();
    throw SSLError(0, pem ? "no start line: cadata does not contain a certificate"
                          : "not enough data: cadata does not contain a certificate");
  }
  const bool end_of_data =
      pem ? (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
          : (ERR_GET_LIB(e) == ERR_LIB_ASN1 && ERR_GET_REASON(e) == ASN1_R_HEADER_TOO_LONG);
  if (e != 0 && !end_of_data) raise_queue_error();
  ERR_clear_error();
}

}  // namespace

void SSLContext::load_verify_locations(const std::optional<std::string>& cafile,
                                       const std::optional<std::string>& capath,
                                       const std::optional<std::string>& cadata) {
  if (!cafile && !capath && !cadata) {
    throw TypeError("cafile, capath and cadata cannot be all omitted");
  }
  SSL_CTX* ctx = ctx_of(*this);
  if (cadata) {
    const bool der = !cadata->empty() && static_cast<unsigned char>((*cadata)[0]) == 0x30;
    add_ca_certs(ctx, *cadata, !der);
  }
  if (cafile || capath) {
    ERR_clear_error();
    errno = 0;
    if (SSL_CTX_load_verify_locations(ctx, cafile ? cafile->c_str() : nullptr,
                                      capath ? capath->c_str() : nullptr) != 1) {
      raise_file_error(cafile ? *cafile : *capath, errno);
    }
  }
}

void SSLContext::load_default_certs(Purpose /*purpose*/) { set_default_verify_paths(); }

void SSLContext::set_default_verify_paths() {
  ERR_clear_error();
  if (SSL_CTX_set_default_verify_paths(ctx_of(*this)) != 1) raise_queue_error();
}

void SSLContext::set_ciphers(const std::string& ciphers) {
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(ctx_of(*this), ciphers.c_str()) != 1) {
    ERR_clear_error();
    throw SSLError("No cipher can be selected.");
  }
}

void SSLContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) throw SSLError("ALPN protocols must be 1 to 255 in length");
    wire += static_cast<char>(p.size());
    wire += p;
  }
  m_alpn = std::move(wire);
  SSL_CTX* ctx = ctx_of(*this);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select_callback, &m_alpn);
  // Unlike most of OpenSSL, 0 is success here.
  if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(m_alpn.data()),
                              static_cast<unsigned int>(m_alpn.size())) != 0) {
    raise_queue_error();
  }
}

void SSLContext::set_check_hostname(bool value) {
  if (value && SSL_CTX_get_verify_mode(ctx_of(*this)) == SSL_VERIFY_NONE) {
    set_verify_mode(CERT_REQUIRED);
  }
  m_check_hostname = value;
}

VerifyMode SSLContext::verify_mode() const {
  const int mode = SSL_CTX_get_verify_mode(ctx_of(*this));
  switch (mode & (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)) {
    case SSL_VERIFY_NONE:
      return CERT_NONE;
    case SSL_VERIFY_PEER:
      return CERT_OPTIONAL;
    case SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT:
      return CERT_REQUIRED;
    default:
      throw SSLError("invalid return value from SSL_CTX_get_verify_mode");
  }
}

void SSLContext::set_verify_mode(VerifyMode mode) {
  int flags = SSL_VERIFY_NONE;
  switch (mode) {
    case VerifyMode::CERT_NONE:
      if (m_check_hostname) {
        throw ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
      }
      break;
    case VerifyMode::CERT_OPTIONAL:
      flags = SSL_VERIFY_PEER;
      break;
    case VerifyMode::CERT_REQUIRED:
      flags = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
    default:
      throw ValueError("invalid value for verify_mode");
  }
  SSL_CTX* ctx = ctx_of(*this);
  SSL_CTX_set_verify(ctx, flags, SSL_CTX_get_verify_callback(ctx));
}

VerifyFlags SSLContext::verify_flags() const {
  return X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(ctx_of(*this)));
}

void SSLContext::set_verify_flags(VerifyFlags flags) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx_of(*this));
  const unsigned long current = X509_VERIFY_PARAM_get_flags(param);
  const unsigned long clear = current & ~flags;
  const unsigned long set = ~current & flags;
  ERR_clear_error();
  if (clear != 0 && X509_VERIFY_PARAM_clear_flags(param, clear) != 1) raise_queue_error();
  if (set != 0 && X509_VERIFY_PARAM_set_flags(param, set) != 1) raise_queue_error();
}

namespace {
void check_version_protocol(Protocol p) {
  if (p != Protocol::PROTOCOL_TLS && p != Protocol::PROTOCOL_TLS_CLIENT &&
      p != Protocol::PROTOCOL_TLS_SERVER) {
    throw ValueError(
        "The context's protocol doesn't support modification of highest and lowest version.");
  }
}
}  // namespace

TLSVersion SSLContext::minimum_version() const {
  const long v = SSL_CTX_get_min_proto_version(ctx_of(*this));
  return v == 0 ? TLSVersion::MINIMUM_SUPPORTED : static_cast<TLSVersion>(v);
}

void SSLContext::set_minimum_version(TLSVersion version) {
  check_version_protocol(m_protocol);
  const int v = to_openssl_version(version, true);
  if (SSL_CTX_set_min_proto_version(ctx_of(*this), v) != 1) {
    ERR_clear_error();
    throw ValueError(fmt::format("Unsupported protocol version 0x{:x}", v));
  }
}

TLSVersion SSLContext::maximum_version() const {
  const long v = SSL_CTX_get_max_proto_version(ctx_of(*this));
  return v == 0 ? TLSVersion::MAXIMUM_SUPPORTED : static_cast<TLSVersion>(v);
}

void SSLContext::set_maximum_version(TLSVersion version) {
  check_version_protocol(m_protocol);
  const int v = to_openssl_version(version, false);
  if (SSL_CTX_set_max_proto_version(ctx_of(*this), v) != 1) {
    ERR_clear_error();
    throw ValueError(fmt::format("Unsupported protocol version 0x{:x}", v));
  }
}

Options SSLContext::options() const { return SSL_CTX_get_options(ctx_of(*this)); }

void SSLContext::set_options(Options options) {
  SSL_CTX* ctx = ctx_of(*this);
  const std::uint64_t current = SSL_CTX_get_options(ctx);
  const std::uint64_t clear = current & ~options;
  const std::uint64_t set = ~current & options;
  if (clear != 0) SSL_CTX_clear_options(ctx, clear);
  if (set != 0) SSL_CTX_set_options(ctx, set);
}

int SSLContext::security_level() const { return SSL_CTX_get_security_level(ctx_of(*this)); }

void SSLContext::set_sni_callback(SNICallback callback) {
  if (m_protocol == Protocol::PROTOCOL_TLS_CLIENT) {
    throw ValueError("sni_callback cannot be set on TLS_CLIENT context");
  }
  m_sni_callback = std::move(callback);
  SSL_CTX* ctx = ctx_of(*this);
  if (m_sni_callback) {
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_callback);
    SSL_CTX_set_tlsext_servername_arg(ctx, this);
  } else {
    SSL_CTX_set_tlsext_servername_callback(ctx, nullptr);
  }
}

std::shared_ptr<SSLObject> SSLContext::wrap_bio(MemoryBIO& incoming, MemoryBIO& outgoing,
                                                bool server_side,
                                                const std::optional<std::string>& server_hostname) {
  if (server_side && m_protocol == Protocol::PROTOCOL_TLS_CLIENT) {
    throw SSLError(0, "Cannot create a server socket with a PROTOCOL_TLS_CLIENT context");
  }
  if (!server_side && m_protocol == Protocol::PROTOCOL_TLS_SERVER) {
    throw SSLError(0, "Cannot create a client socket with a PROTOCOL_TLS_SERVER context");
  }
  if (server_hostname && (server_hostname->empty() || server_hostname->front() == '.')) {
    throw ValueError("server_hostname cannot be an empty string or start with a leading dot.");
  }
  if (server_hostname && server_hostname->find('\0') != std::string::npos) {
    throw ValueError("server_hostname must not contain null characters");
  }
  auto impl = std::make_unique<SSLObject::Impl>();
  impl->context = impl->original_context = shared_from_this();
  impl->server_side = server_side;
  if (!server_side) impl->server_hostname = server_hostname;
  ERR_clear_error();
  impl->ssl = SSL_new(ctx_of(*this));
  if (impl->ssl == nullptr) raise_queue_error();
  SSL* ssl = impl->ssl;
  // SSL_set_bio takes one reference of each BIO; the MemoryBIOs keep theirs.
  BIO_up_ref(bio_of(incoming));
  BIO_up_ref(bio_of(outgoing));
  SSL_set_bio(ssl, bio_of(incoming), bio_of(outgoing));
  SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
  if (server_hostname && !server_side) {
    // Python's _ssl_configure_hostname: SNI for a name, the identity check for either.
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(server_hostname->c_str());
    if (ip == nullptr) ERR_clear_error();
    std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> ip_guard(
        ip, &ASN1_OCTET_STRING_free);
    if (ip == nullptr && SSL_set_tlsext_host_name(ssl, server_hostname->c_str()) != 1) {
      raise_queue_error();
    }
    if (m_check_hostname) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const int ok = ip == nullptr ? X509_VERIFY_PARAM_set1_host(param, server_hostname->c_str(),
                                                                 server_hostname->size())
                                   : X509_VERIFY_PARAM_set1_ip(
                                         param, ASN1_STRING_get0_data(ip),
                                         static_cast<std::size_t>(ASN1_STRING_length(ip)));
      if (ok != 1) raise_queue_error();
    }
  }
  if (server_side) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  auto object = std::make_shared<SSLObject>(std::move(impl));
  SSL_set_app_data(ssl, object.get());
  return object;
}

std::shared_ptr<SSLContext> create_default_context(Purpose purpose,
                                                   const DefaultContextOptions& options) {
  std::shared_ptr<SSLContext> context;
  if (purpose == Purpose::SERVER_AUTH) {
    context = SSLContext::create(PROTOCOL_TLS_CLIENT);
    context->set_verify_mode(CERT_REQUIRED);
    context->set_check_hostname(true);
  } else {
    context = SSLContext::create(PROTOCOL_TLS_SERVER);
  }
  if (options.cafile || options.capath || options.cadata) {
    context->load_verify_locations(options.cafile, options.capath, options.cadata);
  } else if (context->verify_mode() != CERT_NONE) {
    context->load_default_certs(purpose);
  }
  return context;
}

// ---- SSLObject
// ------------------------------------------------------------------------------------

SSLObject::SSLObject(std::unique_ptr<Impl> impl) noexcept : m_impl(std::move(impl)) {}

SSLObject::~SSLObject() = default;

SSLObject::IoResult SSLObject::do_handshake_nb() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(m_impl->ssl);
  if (ret == 1) return {0, Status::OK};
  return {0, m_impl->status_or_raise(ret)};
}

void SSLObject::do_handshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(m_impl->ssl);
  if (ret != 1) m_impl->raise_error(ret);
}

SSLObject::IoResult SSLObject::read_nb(std::span<char> buffer) {
  if (buffer.empty()) return {0, Status::OK};
  ERR_clear_error();
  std::size_t count = 0;
  const int ret = SSL_read_ex(m_impl->ssl, buffer.data(), buffer.size(), &count);
  if (ret == 1) return {count, Status::OK};
  if (SSL_get_error(m_impl->ssl, ret) == SSL_ERROR_ZERO_RETURN &&
      SSL_get_shutdown(m_impl->ssl) == SSL_RECEIVED_SHUTDOWN) {
    ERR_clear_error();
    return {0, Status::ZERO_RETURN};
  }
  return {0, m_impl->status_or_raise(ret)};
}

std::size_t SSLObject::read(std::span<char> buffer) {
  if (buffer.empty()) return 0;
  ERR_clear_error();
  std::size_t count = 0;
  const int ret = SSL_read_ex(m_impl->ssl, buffer.data(), buffer.size(), &count);
  if (ret == 1) return count;
  if (SSL_get_error(m_impl->ssl, ret) == SSL_ERROR_ZERO_RETURN &&
      SSL_get_shutdown(m_impl->ssl) == SSL_RECEIVED_SHUTDOWN) {
    ERR_clear_error();
    return 0;
  }
  m_impl->raise_error(ret);
}

std::string SSLObject::read(std::size_t len) {
  std::string out(len, '\0');
  out.resize(read(std::span<char>(out)));
  return out;
}

SSLObject::IoResult SSLObject::write_nb(std::string_view data) {
  if (data.empty()) return {0, Status::OK};
  ERR_clear_error();
  std::size_t count = 0;
  const int ret = SSL_write_ex(m_impl->ssl, data.data(), data.size(), &count);
  if (ret == 1) return {count, Status::OK};
  return {0, m_impl->status_or_raise(ret)};
}

std::size_t SSLObject::write(std::string_view data) {
  if (data.empty()) return 0;
  ERR_clear_error();
  std::size_t count = 0;
  const int ret = SSL_write_ex(m_impl->ssl, data.data(), data.size(), &count);
  if (ret != 1) m_impl->raise_error(ret);
  return count;
}

SSLObject::IoResult SSLObject::unwrap_nb() {
  // Python's shutdown: SSL_shutdown at most twice while it answers 0 ("sent, not yet
  // received"); then "want read" until the peer's close_notify comes.
  SSL* ssl = m_impl->ssl;
  int zeros = 0;
  for (;;) {
    ERR_clear_error();
    const int ret = SSL_shutdown(ssl);
    if (ret > 0) return {0, Status::OK};
    if (ret == 0) {
      if (++zeros > 1) return {0, Status::OK};
      continue;
    }
    return {0, m_impl->status_or_raise(ret)};
  }
}

void SSLObject::unwrap() {
  SSL* ssl = m_impl->ssl;
  int zeros = 0;
  for (;;) {
    ERR_clear_error();
    const int ret = SSL_shutdown(ssl);
    if (ret > 0) return;
    if (ret == 0) {
      if (++zeros > 1) return;
      continue;
    }
    m_impl->raise_error(ret);
  }
}

std::size_t SSLObject::pending() const {
  const int n = SSL_pending(m_impl->ssl);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len > 0 ? len : 0));
  (void)BIO_reset(bio);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string asn1_text(const ASN1_STRING* value) {
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) raise_queue_error();
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string attribute_name(const ASN1_OBJECT* name) {
  char buf[256];
  const int len = OBJ_obj2txt(buf, sizeof(buf), name, 0);
  if (len < 0) raise_queue_error();
  return std::string(buf,
                     static_cast<std::size_t>(std::min(len, static_cast<int>(sizeof(buf)) - 1)));
}

// Python's _create_tuple_for_X509_NAME.
DistinguishedName decode_name(const X509_NAME* xname) {
  DistinguishedName dn;
  RelativeDistinguishedName rdn;
  int level = -1;
  const int count = X509_NAME_entry_count(xname);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(xname, i);
    const int set = X509_NAME_ENTRY_set(entry);
    if (level >= 0 && level != set) {
      dn.push_back(std::move(rdn));
      rdn.clear();
    }
    level = set;
    rdn.emplace_back(attribute_name(X509_NAME_ENTRY_get_object(entry)),
                     asn1_text(X509_NAME_ENTRY_get_data(entry)));
  }
  if (!rdn.empty()) dn.push_back(std::move(rdn));
  return dn;
}

std::string dn_text(const DistinguishedName& dn);

// Python's _get_peer_alt_names.
std::vector<std::pair<std::string, std::string>> decode_alt_names(X509* cert, BIO* bio) {
  std::vector<std::pair<std::string, std::string>> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> guard(
      names, [](GENERAL_NAMES* n) { sk_GENERAL_NAME_pop_free(n, GENERAL_NAME_free); });
  for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, j);
    auto ia5 = [](const ASN1_STRING* as) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(as)),
                         static_cast<std::size_t>(ASN1_STRING_length(as)));
    };
    switch (name->type) {
      case GEN_DIRNAME:
        out.emplace_back("DirName", dn_text(decode_name(name->d.dirn)));
        break;
      case GEN_EMAIL:
        out.emplace_back("email", ia5(name->d.rfc822Name));
        break;
      case GEN_DNS:
        out.emplace_back("DNS", ia5(name->d.dNSName));
        break;
      case GEN_URI:
        out.emplace_back("URI", ia5(name->d.uniformResourceIdentifier));
        break;
      case GEN_RID: {
        char buf[2048];
        const int len = i2t_ASN1_OBJECT(buf, sizeof(buf) - 1, name->d.rid);
        if (len < 0) raise_queue_error();
        out.emplace_back("Registered ID", len >= static_cast<int>(sizeof(buf))
                                              ? std::string("<INVALID>")
                                              : std::string(buf, static_cast<std::size_t>(len)));
        break;
      }
      case GEN_IPADD: {
        const unsigned char* p = name->d.ip->data;
        if (name->d.ip->length == 4) {
          out.emplace_back("IP Address", fmt::format("{}.{}.{}.{}", p[0], p[1], p[2], p[3]));
        } else if (name->d.ip->length == 16) {
          std::string v;
          for (int k = 0; k < 8; ++k) {
            if (k > 0) v += ':';
            const std::size_t at = 2 * static_cast<std::size_t>(k);
            v += fmt::format("{:X}", (p[at] << 8) | p[at + 1]);
          }
          out.emplace_back("IP Address", v);
        } else {
          out.emplace_back("IP Address", "<invalid>");
        }
        break;
      }
      default: {
        (void)BIO_reset(bio);
        GENERAL_NAME_print(bio, const_cast<GENERAL_NAME*>(name));
        const std::string text = bio_text(bio);
        const auto colon = text.find(':');
        if (colon == std::string::npos) throw ValueError("Invalid value " + text.substr(0, 200));
        out.emplace_back(text.substr(0, colon), text.substr(colon + 1));
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> decode_aia(X509* cert, int nid) {
  std::vector<std::string> out;
  auto* info = static_cast<AUTHORITY_INFO_ACCESS*>(
      X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr));
  if (info == nullptr) return out;
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(info); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(info, i);
    if (OBJ_obj2nid(ad->method) != nid || ad->location->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = ad->location->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(uri->data),
                     static_cast<std::size_t>(uri->length));
  }
  AUTHORITY_INFO_ACCESS_free(info);
  return out;
}

std::vector<std::string> decode_crl_dp(X509* cert) {
  std::vector<std::string> out;
  auto* dps = static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr));
  if (dps == nullptr) return out;
  for (int i = 0; i < sk_DIST_POINT_num(dps); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps, i);
    if (dp->distpoint == nullptr) continue;  // CVE-2019-5010
    const GENERAL_NAMES* gns = dp->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(gns); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(gns, j);
      if (gn->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(uri->data),
                       static_cast<std::size_t>(uri->length));
    }
  }
  CRL_DIST_POINTS_free(dps);
  return out;
}

std::string dn_text(const DistinguishedName& dn) { return dn_repr(dn); }

// Python's _decode_certificate.
PeerCertificate decode_certificate(X509* cert) {
  PeerCertificate out;
  out.subject = decode_name(X509_get_subject_name(cert));
  out.issuer = decode_name(X509_get_issuer_name(cert));
  out.version = static_cast<int>(X509_get_version(cert)) + 1;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio) raise_queue_error();
  i2a_ASN1_INTEGER(bio.get(), X509_get0_serialNumber(cert));
  out.serialNumber = bio_text(bio.get());
  ASN1_TIME_print(bio.get(), X509_get0_notBefore(cert));
  out.notBefore = bio_text(bio.get());
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert));
  out.notAfter = bio_text(bio.get());
  out.subjectAltName = decode_alt_names(cert, bio.get());
  out.OCSP = decode_aia(cert, NID_ad_OCSP);
  out.caIssuers = decode_aia(cert, NID_ad_ca_issuers);
  out.crlDistributionPoints = decode_crl_dp(cert);
  ERR_clear_error();
  return out;
}

}  // namespace

std::optional<PeerCertificate> SSLObject::getpeercert() const {
  SSL* ssl = m_impl->ssl;
  if (SSL_is_init_finished(ssl) == 0) throw ValueError("handshake not done yet");
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> guard(cert, &X509_free);
  if ((SSL_CTX_get_verify_mode(SSL_get_SSL_CTX(ssl)) & SSL_VERIFY_PEER) == 0) {
    return PeerCertificate{};
  }
  return decode_certificate(cert);
}

std::optional<std::string> SSLObject::getpeercert(BinaryForm /*binary_form*/) const {
  SSL* ssl = m_impl->ssl;
  if (SSL_is_init_finished(ssl) == 0) throw ValueError("handshake not done yet");
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> guard(cert, &X509_free);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len < 0) raise_queue_error();
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

namespace {
Cipher cipher_of(const SSL_CIPHER* c) {
  const char* name = SSL_CIPHER_get_name(c);
  const char* version = SSL_CIPHER_get_version(c);
  return Cipher{name != nullptr ? name : "", version != nullptr ? version : "",
                SSL_CIPHER_get_bits(c, nullptr)};
}
}  // namespace

std::optional<Cipher> SSLObject::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(m_impl->ssl);
  if (c == nullptr) return std::nullopt;
  return cipher_of(c);
}

std::optional<std::vector<Cipher>> SSLObject::shared_ciphers() const {
  SSL* ssl = m_impl->ssl;
  STACK_OF(SSL_CIPHER)* server = SSL_get_ciphers(ssl);
  STACK_OF(SSL_CIPHER)* client = SSL_get_client_ciphers(ssl);
  if (server == nullptr || client == nullptr) return std::nullopt;
  std::vector<Cipher> out;
  for (int i = 0; i < sk_SSL_CIPHER_num(client); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(client, i);
    if (sk_SSL_CIPHER_find(server, c) < 0) continue;
    out.push_back(cipher_of(c));
  }
  return out;
}

std::optional<std::string> SSLObject::version() const {
  SSL* ssl = m_impl->ssl;
  if (SSL_is_init_finished(ssl) == 0) return std::nullopt;
  const char* v = SSL_get_version(ssl);
  if (v == nullptr || std::strcmp(v, "unknown") == 0) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> SSLObject::selected_alpn_protocol() const {
  const unsigned char* out = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(m_impl->ssl, &out, &len);
  if (out == nullptr) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::optional<std::string> SSLObject::get_channel_binding(std::string_view cb_type) const {
  if (cb_type != "tls-unique") {
    throw ValueError(fmt::format("'{}' channel binding type not implemented", cb_type));
  }
  SSL* ssl = m_impl->ssl;
  char buf[EVP_MAX_MD_SIZE * 2];
  std::size_t len = 0;
  if ((SSL_session_reused(ssl) != 0) ^ !m_impl->server_side) {
    len = SSL_get_finished(ssl, buf, sizeof(buf));
  } else {
    len = SSL_get_peer_finished(ssl, buf, sizeof(buf));
  }
  if (len == 0) return std::nullopt;
  return std::string(buf, len);
}

bool SSLObject::session_reused() const { return SSL_session_reused(m_impl->ssl) != 0; }

bool SSLObject::server_side() const noexcept { return m_impl->server_side; }

const std::optional<std::string>& SSLObject::server_hostname() const noexcept {
  return m_impl->server_hostname;
}

std::shared_ptr<SSLContext> SSLObject::context() const { return m_impl->context; }

void SSLObject::set_context(std::shared_ptr<SSLContext> context) {
  if (!context) throw TypeError("The value must be a SSLContext");
  if (SSL_set_SSL_CTX(m_impl->ssl, ctx_of(*context)) == nullptr) raise_queue_error();
  m_impl->context = std::move(context);
}

}  // namespace batteries::ssl
