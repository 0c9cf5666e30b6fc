// Certificates for TLS tests, made with OpenSSL at run time: a CA, server certificates
// (good, expired, for another host, from an unknown CA), a client certificate and an
// encrypted key, as PEM files in a temporary directory.
#pragma once

#include <string>

namespace batteries::testing {

/// The PEM files. Keys are EC P-256. Each certificate but the CAs is issued by ca_cert.
struct TestCerts {
  std::string dir;
  std::string ca_cert;  ///< "batteries test CA", self-signed
  std::string ca_key;
  /// CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, with OCSP, caIssuers and CRL
  /// distribution point extensions (so that getpeercert() shows every field).
  std::string server_cert;
  std::string server_key;
  std::string server_combined;       ///< server_cert and server_key in one file
  std::string server_key_encrypted;  ///< server_key, AES-encrypted with the password "secret"
  std::string other_host_cert;       ///< CN=other.test, SAN DNS:other.test
  std::string other_host_key;
  std::string expired_cert;  ///< localhost, valid until yesterday
  std::string expired_key;
  std::string other_ca_cert;   ///< another self-signed CA, which no test trusts
  std::string untrusted_cert;  ///< localhost, issued by other_ca_cert
  std::string untrusted_key;
  std::string client_cert;  ///< CN=batteries client, for clientAuth
  std::string client_key;
};

/// The certificates, made on the first call (then cached for the process; the directory is
/// removed at exit).
const TestCerts& test_certs();

}  // namespace batteries::testing
