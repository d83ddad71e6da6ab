#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

// Test support, header-only and free of GoogleTest: keys, certificates and CRLs made with the
// OpenSSL API for the TLS unit tests, so each test states its PKI in a few lines.
namespace kinesyslog::net::testing {

struct FreeKey {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct FreeCert {
  void operator()(X509* p) const { X509_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "test PKI: %s failed\n", what);
  std::abort();
}

inline Key newKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) die("EVP_EC_gen");
  return key;
}

struct CertSpec {
  std::string commonName{};
  std::vector<std::string> dnsNames{};  // subjectAltName DNS entries
  bool ipSan = false;                   // add IP:127.0.0.1
  long serial = 1;
  bool isCa = false;
  bool clientAuth = true;  // extendedKeyUsage clientAuth, serverAuth
  long validSeconds = 86400;
};

inline void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) die("X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by `issuer`/`issuerKey` (self-signed when null).
inline Cert newCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer = nullptr,
                    EVP_PKEY* issuerKey = nullptr) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.validSeconds);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.commonName.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.commonName.c_str()), -1,
                               -1, 0);
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (spec.isCa) {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), signer, NID_basic_constraints, "CA:FALSE");
    if (spec.clientAuth)
      addExtension(cert.get(), signer, NID_ext_key_usage, "clientAuth,serverAuth");
  }
  addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  std::string sans;
  for (const auto& dns : spec.dnsNames) sans += (sans.empty() ? "" : ",") + ("DNS:" + dns);
  if (spec.ipSan) sans += std::string(sans.empty() ? "" : ",") + "IP:127.0.0.1";
  if (!sans.empty()) addExtension(cert.get(), signer, NID_subject_alt_name, sans);
  if (X509_sign(cert.get(), issuerKey != nullptr ? issuerKey : key, EVP_sha256()) == 0) {
    die("X509_sign");
  }
  return cert;
}

inline std::string bioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(size));
  BIO_free(bio);
  return text;
}

inline std::string certPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  return bioText(bio);
}

// PKCS#8; encrypted with AES-256-CBC under `passphrase` when it is not empty.
inline std::string keyPem(EVP_PKEY* key, const std::string& passphrase = "") {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase.empty()) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase.data(),
                                  static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  return bioText(bio);
}

// The traditional "Proc-Type: 4,ENCRYPTED" form older tools write.
inline std::string legacyEncryptedKeyPem(EVP_PKEY* key, const std::string& passphrase) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(bio, key, EVP_aes_128_cbc(),
                                       reinterpret_cast<const unsigned char*>(passphrase.data()),
                                       static_cast<int>(passphrase.size()), nullptr, nullptr);
  return bioText(bio);
}

// A CRL of `ca` revoking the given serials, valid for a day.
inline std::string crlPem(X509* ca, EVP_PKEY* caKey, const std::vector<long>& revoked) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
  ASN1_TIME* now = ASN1_TIME_adj(nullptr, std::time(nullptr), 0, -60);
  ASN1_TIME* next = ASN1_TIME_adj(nullptr, std::time(nullptr), 1, 0);
  X509_CRL_set1_lastUpdate(crl, now);
  X509_CRL_set1_nextUpdate(crl, next);
  for (long serial : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    ASN1_INTEGER_set(number, serial);
    X509_REVOKED_set_serialNumber(entry, number);
    X509_REVOKED_set_revocationDate(entry, now);
    X509_CRL_add0_revoked(crl, entry);
    ASN1_INTEGER_free(number);
  }
  X509_CRL_sort(crl);
  if (X509_CRL_sign(crl, caKey, EVP_sha256()) == 0) die("X509_CRL_sign");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(bio, crl);
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  X509_CRL_free(crl);
  return bioText(bio);
}

// A fresh directory, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kinesyslog-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to NAME in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto path = path_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A CA, a server certificate for localhost/127.0.0.1 and its key, written to a TempDir.
struct TestPki {
  TempDir dir;
  Key caKey = newKey();
  Cert ca = newCert({.commonName = "Test CA", .isCa = true}, caKey.get());
  Key serverKey = newKey();
  Cert server = newCert(
      {.commonName = "localhost", .dnsNames = {"localhost"}, .ipSan = true, .serial = 0x1001},
      serverKey.get(), ca.get(), caKey.get());
  std::string caFile = dir.write("ca.pem", certPem(ca.get()));
  std::string certFile = dir.write("server.pem", certPem(server.get()));
  std::string keyFile = dir.write("server.key", keyPem(serverKey.get()));

  // A client certificate of this CA.
  std::pair<Cert, Key> client(CertSpec spec) const {
    Key key = newKey();
    Cert cert = newCert(spec, key.get(), ca.get(), caKey.get());
    return {std::move(cert), std::move(key)};
  }
};

}  // namespace kinesyslog::net::testing
