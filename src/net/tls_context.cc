#include "net/tls_context.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "util/startup_error.h"

namespace kinesyslog::net {

namespace {

// Certificate bundles and CRLs are small; a bigger file is a wrong path, not a bundle.
constexpr size_t kMaxConfigFileBytes = 64 * 1024 * 1024;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;

[[noreturn]] void fail(int exitCode, const std::string& message) {
  ERR_clear_error();
  throw StartupError(exitCode, message);
}

// The most specific reason OpenSSL queued, then the queue is cleared.
std::string opensslReason() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : "unknown OpenSSL error";
  ERR_clear_error();
  return text;
}

// Reads a whole configuration file: missing is EX_CONFIG ("missing key", docs/design.md "Exit
// codes"), refused by permissions is EX_NOPERM.
std::string readConfigFile(const std::string& option, const std::string& path) {
  const std::string what = option + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == EACCES || error == EPERM) {
      fail(kExitNoPermission, what + ": cannot read: " + std::strerror(error));
    }
    fail(kExitConfig, what + ": " + std::strerror(error));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(kExitConfig, what + ": not a regular file");
  }
  std::string text;
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      fail(error == EACCES ? kExitNoPermission : kExitConfig,
           what + ": cannot read: " + std::strerror(error));
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxConfigFileBytes) {
      ::close(fd);
      fail(kExitConfig, what + ": larger than 64 MiB");
    }
  }
  ::close(fd);
  return text;
}

BioPtr memoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Never prompt: a key that asks for a passphrase is refused. The flag tells the caller why
// PEM_read_bio_PrivateKey failed.
int refusePassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* asked) {
  if (asked != nullptr) *static_cast<bool*>(asked) = true;
  return -1;
}

// Every PEM certificate in `text`; a corrupt one is an error, other PEM blocks are skipped.
std::vector<X509Ptr> readCertificates(const std::string& text, const std::string& what) {
  std::vector<X509Ptr> certificates;
  BioPtr bio = memoryBio(text);
  ERR_clear_error();
  for (;;) {
    X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, refusePassphrase, nullptr);
    if (certificate == nullptr) break;
    certificates.emplace_back(certificate);
  }
  unsigned long code = ERR_peek_last_error();
  if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();  // the normal end: no further PEM certificate
  } else if (code != 0) {
    fail(kExitConfig, what + ": not a valid PEM certificate (" + opensslReason() + ")");
  }
  if (certificates.empty()) fail(kExitConfig, what + ": no PEM certificate in the file");
  return certificates;
}

std::string nameText(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return printableText(std::string_view(data, size > 0 ? static_cast<size_t>(size) : 0));
}

std::string timeText(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "unknown";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string serialText(X509* certificate) {
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  if (number == nullptr) return "unknown";
  char* hex = BN_bn2hex(number);
  std::string text = hex != nullptr ? hex : "unknown";
  OPENSSL_free(hex);
  BN_free(number);
  return text;
}

std::string summaryOf(X509* certificate) {
  return fmt::format("subject {}, serial {}, expires {}",
                     nameText(X509_get_subject_name(certificate)), serialText(certificate),
                     timeText(X509_get0_notAfter(certificate)));
}

int contextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void setVerifyDetail(X509_STORE_CTX* store, std::string detail) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return;
  auto* slot = static_cast<std::string*>(SSL_get_ex_data(ssl, verifyDetailIndex()));
  if (slot != nullptr) *slot = std::move(detail);
}

std::string namesText(const PeerNames& names) {
  std::string text;
  for (const auto& dns : names.dnsNames) {
    if (!text.empty()) text += ", ";
    text += "DNS:" + printableText(dns, 100);
  }
  if (text.empty()) text = "CN=" + printableText(names.commonName, 100);
  return text;
}

// Chain verification is OpenSSL's (against --ca, with --crl); this adds --allowed-peer at the
// leaf and notes for the log why a certificate was refused. Returning 0 ends the handshake
// with an alert, so the client learns it was refused (RFC 5425 §5.2: the server MUST reject
// a client whose certificate does not satisfy its policy).
int verifyClientCertificate(int preverifyOk, X509_STORE_CTX* store) {
  X509* certificate = X509_STORE_CTX_get_current_cert(store);
  if (preverifyOk == 0) {
    const int error = X509_STORE_CTX_get_error(store);
    setVerifyDetail(store, std::string(X509_verify_cert_error_string(error)) + " (subject " +
                               (certificate ? nameText(X509_get_subject_name(certificate))
                                            : std::string("unknown")) +
                               ")");
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0 || certificate == nullptr) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* context = ssl == nullptr ? nullptr
                                       : static_cast<const TlsContext*>(SSL_CTX_get_ex_data(
                                             SSL_get_SSL_CTX(ssl), contextIndex()));
  if (context == nullptr || context->settings().allowedPeers.empty()) return 1;
  const PeerNames names = peerNamesOf(certificate);
  if (peerNameAllowed(names, context->settings().allowedPeers)) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  setVerifyDetail(store, "certificate name not in --allowed-peer (" + namesText(names) + ")");
  return 0;
}

void checkCombinations(const TlsSettings& s) {
  if (s.certFile.empty() || s.keyFile.empty()) {
    fail(kExitConfig, s.certFile.empty() ? "TLS needs --cert FILE (the certificate chain)"
                                         : "missing key: TLS needs --key FILE with --cert");
  }
  if (s.verifyClient != VerifyClient::kNone && s.caFile.empty()) {
    fail(kExitConfig, "--verify-client needs --ca FILE to verify client certificates against");
  }
  if (!s.crlFile.empty() && s.caFile.empty()) fail(kExitConfig, "--crl needs --ca");
  if (!s.allowedPeers.empty() && s.verifyClient == VerifyClient::kNone) {
    fail(kExitConfig,
         "--allowed-peer needs client certificates: give --ca (and not "
         "--verify-client none)");
  }
}

}  // namespace

int verifyDetailIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string printableText(std::string_view text, size_t limit) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

PeerNames peerNamesOf(X509* certificate) {
  PeerNames names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_DNS) continue;
      const ASN1_STRING* dns = name->d.dNSName;
      // The length, not strlen: an embedded NUL stays in the name and so never matches.
      names.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                  static_cast<size_t>(ASN1_STRING_length(dns)));
    }
    GENERAL_NAMES_free(sans);
  }
  X509_NAME* subject = X509_get_subject_name(certificate);
  int last = -1;
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) last = i;
  if (last >= 0) {
    unsigned char* utf8 = nullptr;
    int length =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last)));
    if (length >= 0) names.commonName.assign(reinterpret_cast<char*>(utf8), length);
    OPENSSL_free(utf8);
  }
  ERR_clear_error();
  return names;
}

TlsContext::TlsContext(const TlsSettings& settings) : settings_(settings) {}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

namespace {

// Protocol versions, ciphers and the options every connection shares.
void configureProtocol(SSL_CTX* ctx, const TlsSettings& s) {
  SSL_CTX_set_min_proto_version(
      ctx, s.minVersion == TlsMinVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    fail(kExitUsage, "--tls-ciphers '" + s.ciphers + "' names no usable TLS 1.2 cipher");
  }
  SSL_CTX_set_dh_auto(ctx, 1);  // only used if --tls-ciphers asks for DHE
  // Renegotiation is refused (a TLS 1.2 client could otherwise make us redo handshakes at
  // will). No session resumption: each connection is verified in full against the CA and CRL
  // in use when it connects, so a revoked certificate cannot ride on an older session.
  // A peer that closes without close_notify ends the stream like a TCP close: RFC 5425 §5.5
  // messages are delivered as they arrive, so nothing read is lost.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // Idle connections give their read and write buffers back (10,000 idle connections, §5).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

// --cert into the context; returns the leaf's summary for the logs.
std::string useCertificates(SSL_CTX* ctx, const TlsSettings& s, const std::string& certText) {
  // --cert: the leaf first, then the chain it is sent with (RFC 5425 §4.2.1 leaves chain
  // building to the client, so the intermediates must be served).
  const std::string certWhat = "--cert " + s.certFile;
  auto certificates = readCertificates(certText, certWhat);
  if (SSL_CTX_use_certificate(ctx, certificates.front().get()) != 1) {
    fail(kExitConfig, certWhat + ": certificate not usable (" + opensslReason() + ")");
  }
  for (size_t i = 1; i < certificates.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certificates[i].get()) != 1) {
      fail(kExitConfig, certWhat + ": chain certificate not usable (" + opensslReason() + ")");
    }
  }
  return summaryOf(certificates.front().get());
}

void usePrivateKey(SSL_CTX* ctx, const TlsSettings& s, const std::string& keyText) {
  // --key: never prompts; an encrypted key is refused with its own line (docs/design.md "Exit
  // codes").
  const std::string keyWhat = "--key " + s.keyFile;
  bool askedPassphrase = false;
  BioPtr keyBio = memoryBio(keyText);
  KeyPtr key(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, refusePassphrase, &askedPassphrase));
  if (!key) {
    if (askedPassphrase) {
      fail(kExitConfig, keyWhat +
                            ": the private key is encrypted; give an unencrypted key (the relay "
                            "never asks for a passphrase)");
    }
    fail(kExitConfig, keyWhat + ": no PEM private key in the file (" + opensslReason() + ")");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    fail(kExitConfig, keyWhat + " does not match the certificate in --cert " + s.certFile);
  }
}

// --crl: every CRL must be signed by a CA of the bundle, or it could not be checked. With
// X509_V_FLAG_CRL_CHECK the leaf's issuer must have a CRL here; a client of a CA without one is
// refused ("unable to get certificate CRL"), as a revocation check that cannot be made must not
// pass.
void useRevocationLists(X509_STORE* store, const std::vector<X509Ptr>& authorities,
                        const TlsSettings& s, const std::string& crlText) {
  const std::string crlWhat = "--crl " + s.crlFile;
  BioPtr crlBio = memoryBio(crlText);
  size_t count = 0;
  ERR_clear_error();
  for (;;) {
    CrlPtr crl(PEM_read_bio_X509_CRL(crlBio.get(), nullptr, refusePassphrase, nullptr));
    if (!crl) break;
    ++count;
    X509* issuer = nullptr;
    for (auto& authority : authorities) {
      if (X509_NAME_cmp(X509_get_subject_name(authority.get()), X509_CRL_get_issuer(crl.get())) ==
          0) {
        issuer = authority.get();
        break;
      }
    }
    EVP_PKEY* issuerKey = issuer == nullptr ? nullptr : X509_get0_pubkey(issuer);
    if (issuerKey == nullptr || X509_CRL_verify(crl.get(), issuerKey) != 1) {
      fail(kExitConfig, crlWhat + ": CRL of " + nameText(X509_CRL_get_issuer(crl.get())) +
                            " is not signed by a CA in --ca " + s.caFile);
    }
    if (X509_STORE_add_crl(store, crl.get()) != 1) {
      fail(kExitConfig, crlWhat + ": CRL not usable (" + opensslReason() + ")");
    }
  }
  unsigned long code = ERR_peek_last_error();
  if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  } else if (code != 0) {
    fail(kExitConfig, crlWhat + ": not a valid PEM CRL (" + opensslReason() + ")");
  }
  if (count == 0) fail(kExitConfig, crlWhat + ": no PEM CRL in the file");
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
}

// --ca: trusted for client certificates, and advertised in the CertificateRequest so that a
// client holding several certificates picks the right one; then --crl.
void useAuthorities(SSL_CTX* ctx, const TlsSettings& s, const std::string& caText,
                    const std::string& crlText) {
  const std::string caWhat = "--ca " + s.caFile;
  auto authorities = readCertificates(caText, caWhat);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  for (auto& authority : authorities) {
    if (X509_STORE_add_cert(store, authority.get()) != 1) {
      unsigned long code = ERR_peek_last_error();
      // The same certificate twice in a bundle is harmless.
      if (ERR_GET_REASON(code) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        fail(kExitConfig, caWhat + ": certificate not usable (" + opensslReason() + ")");
      }
      ERR_clear_error();
    }
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(authority.get())));
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  if (!s.crlFile.empty()) useRevocationLists(store, authorities, s, crlText);
}

void setVerifyMode(SSL_CTX* ctx, const TlsSettings& s) {
  int mode = SSL_VERIFY_NONE;
  if (s.verifyClient == VerifyClient::kOptional) mode = SSL_VERIFY_PEER;
  // With --allowed-peer a name must be checked, so a client without a certificate is refused
  // (docs/design.md "TLS peers"): optional then behaves as required.
  if (s.verifyClient == VerifyClient::kRequired || !s.allowedPeers.empty()) {
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, mode, mode == SSL_VERIFY_NONE ? nullptr : verifyClientCertificate);
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::load(const TlsSettings& s) {
  checkCombinations(s);
  // Every file is read first, so a missing or unreadable one is named before any is parsed.
  const std::string certText = readConfigFile("--cert", s.certFile);
  const std::string keyText = readConfigFile("--key", s.keyFile);
  const std::string caText = s.caFile.empty() ? "" : readConfigFile("--ca", s.caFile);
  const std::string crlText = s.crlFile.empty() ? "" : readConfigFile("--crl", s.crlFile);

  std::shared_ptr<TlsContext> context(new TlsContext(s));
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) fail(kExitConfig, "cannot create a TLS context: " + opensslReason());
  context->ctx_ = ctx;
  SSL_CTX_set_ex_data(ctx, contextIndex(), context.get());

  configureProtocol(ctx, s);
  context->summary_ = useCertificates(ctx, s, certText);
  usePrivateKey(ctx, s, keyText);
  if (!s.caFile.empty()) useAuthorities(ctx, s, caText, crlText);
  setVerifyMode(ctx, s);
  ERR_clear_error();
  return context;
}

}  // namespace kinesyslog::net
