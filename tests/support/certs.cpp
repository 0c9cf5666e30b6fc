// test_certs(): a small PKI for TLS tests, made with OpenSSL 3's API.
#include "certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fs.hpp"

namespace batteries::testing {

namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void check_ssl(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL failed: ") + what);
}

Key make_key() {
  Key key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  check_ssl(key != nullptr, "EVP_EC_gen");
  return key;
}

struct CertSpec {
  std::vector<std::pair<std::string, std::string>> subject;  // (field, value)
  long not_before = -3600;                                   // seconds from now
  long not_after = 7 * 24 * 3600;
  long serial = 1;
  bool ca = false;
  std::vector<std::pair<int, std::string>> extensions;  // (NID, OpenSSL config value)
};

// A certificate for key, issued by issuer (self-signed when issuer is null).
Cert make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new(), &X509_free);
  check_ssl(cert != nullptr, "X509_new");
  X509* x = cert.get();
  check_ssl(X509_set_version(x, 2) == 1, "X509_set_version");
  check_ssl(ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial) == 1, "serial");
  check_ssl(X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before) != nullptr, "notBefore");
  check_ssl(X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after) != nullptr, "notAfter");
  check_ssl(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  for (const auto& [field, value] : spec.subject) {
    check_ssl(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                         -1, 0) == 1,
              "X509_NAME_add_entry_by_txt");
  }
  check_ssl(X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1,
            "X509_set_issuer_name");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> extensions = spec.extensions;
  if (spec.ca) {
    extensions.emplace_back(NID_basic_constraints, "critical,CA:TRUE");
    extensions.emplace_back(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    extensions.emplace_back(NID_basic_constraints, "critical,CA:FALSE");
    extensions.emplace_back(NID_key_usage, "critical,digitalSignature");
  }
  extensions.emplace_back(NID_subject_key_identifier, "hash");
  if (issuer != nullptr) extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check_ssl(ext != nullptr, "X509V3_EXT_conf_nid");
    const int added = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    check_ssl(added == 1, "X509_add_ext");
  }
  check_ssl(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

std::string cert_pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  check_ssl(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string key_pem(EVP_PKEY* key, const char* password = nullptr) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (password != nullptr) {
    check_ssl(
        PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_128_cbc(), password,
                                      static_cast<int>(std::char_traits<char>::length(password)),
                                      nullptr, nullptr) == 1,
        "PEM_write_bio_PKCS8PrivateKey");
  } else {
    check_ssl(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
              "PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

struct Holder {
  TestCerts certs;
  Holder() {
    TestCerts& c = certs;
    c.dir = make_temp_dir("batteries-certs");
    auto put = [&](const std::string& name, const std::string& data) {
      const std::string path = c.dir + "/" + name;
      write_file(path, data, 0600);
      return path;
    };

    Key ca_key = make_key();
    Cert ca = make_cert({.subject = {{"O", "batteries"}, {"CN", "batteries test CA"}},
                         .not_after = 30 * 24 * 3600,
                         .serial = 1,
                         .ca = true,
                         .extensions = {}},
                        ca_key.get(), nullptr, nullptr);
    c.ca_cert = put("ca.pem", cert_pem(ca.get()));
    c.ca_key = put("ca.key", key_pem(ca_key.get()));

    Key server_key = make_key();
    Cert server = make_cert(
        {.subject = {{"C", "US"}, {"O", "batteries"}, {"CN", "localhost"}},
         .serial = 0x1234ABCD,
         .extensions = {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_info_access,
                         "OCSP;URI:http://ocsp.example.com/,caIssuers;URI:http://ca.example.com/"
                         "ca.der"},
                        {NID_crl_distribution_points, "URI:http://crl.example.com/ca.crl"}}},
        server_key.get(), ca.get(), ca_key.get());
    c.server_cert = put("server.pem", cert_pem(server.get()));
    c.server_key = put("server.key", key_pem(server_key.get()));
    c.server_combined =
        put("server-combined.pem", cert_pem(server.get()) + key_pem(server_key.get()));
    c.server_key_encrypted = put("server-encrypted.key", key_pem(server_key.get(), "secret"));

    Key other_key = make_key();
    Cert other = make_cert({.subject = {{"CN", "other.test"}},
                            .serial = 3,
                            .extensions = {{NID_subject_alt_name, "DNS:other.test"},
                                           {NID_ext_key_usage, "serverAuth"}}},
                           other_key.get(), ca.get(), ca_key.get());
    c.other_host_cert = put("other-host.pem", cert_pem(other.get()));
    c.other_host_key = put("other-host.key", key_pem(other_key.get()));

    Key expired_key = make_key();
    Cert expired = make_cert({.subject = {{"CN", "localhost"}},
                              .not_before = -3 * 24 * 3600,
                              .not_after = -24 * 3600,
                              .serial = 4,
                              .extensions = {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                             {NID_ext_key_usage, "serverAuth"}}},
                             expired_key.get(), ca.get(), ca_key.get());
    c.expired_cert = put("expired.pem", cert_pem(expired.get()));
    c.expired_key = put("expired.key", key_pem(expired_key.get()));

    Key other_ca_key = make_key();
    Cert other_ca =
        make_cert({.subject = {{"CN", "unknown CA"}}, .serial = 5, .ca = true, .extensions = {}},
                  other_ca_key.get(), nullptr, nullptr);
    c.other_ca_cert = put("other-ca.pem", cert_pem(other_ca.get()));
    Key untrusted_key = make_key();
    Cert untrusted = make_cert({.subject = {{"CN", "localhost"}},
                                .serial = 6,
                                .extensions = {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                               {NID_ext_key_usage, "serverAuth"}}},
                               untrusted_key.get(), other_ca.get(), other_ca_key.get());
    c.untrusted_cert = put("untrusted.pem", cert_pem(untrusted.get()));
    c.untrusted_key = put("untrusted.key", key_pem(untrusted_key.get()));

    Key client_key = make_key();
    Cert client = make_cert({.subject = {{"CN", "batteries client"}},
                             .serial = 7,
                             .extensions = {{NID_ext_key_usage, "clientAuth"}}},
                            client_key.get(), ca.get(), ca_key.get());
    c.client_cert = put("client.pem", cert_pem(client.get()));
    c.client_key = put("client.key", key_pem(client_key.get()));
  }
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  ~Holder() {
    try {
      remove_tree(certs.dir);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a leftover temporary directory
    }
  }
};

}  // namespace

const TestCerts& test_certs() {
  static const Holder holder;
  return holder.certs;
}

}  // namespace batteries::testing
