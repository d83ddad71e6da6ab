#pragma once

#include <openssl/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/peer_name.h"

namespace kinesyslog::net {

enum class VerifyClient { kNone, kOptional, kRequired };
enum class TlsMinVersion { kTls12, kTls13 };

// TLS 1.2 suites when --tls-ciphers is not given: ECDHE key exchange with an AEAD cipher only
// (forward secrecy, no CBC). TLS 1.3 suites are OpenSSL's defaults, all of them AEAD.
inline constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// What --cert, --key, --ca, --crl, --verify-client, --allowed-peer, --tls-ciphers and
// --tls-min-version say, resolved (docs/design.md "TLS peers").
struct TlsSettings {
  std::string certFile;  // PEM: the server certificate, then its chain
  std::string keyFile;   // PEM, unencrypted
  std::string caFile;    // PEM bundle trusted for client certificates; "" = none
  std::string crlFile;   // PEM CRLs checked for client certificates; "" = none
  VerifyClient verifyClient = VerifyClient::kNone;
  std::vector<std::string> allowedPeers;
  std::string ciphers = kDefaultTls12Ciphers;
  TlsMinVersion minVersion = TlsMinVersion::kTls12;
};

// One server-side SSL_CTX built from the settings' files, checked completely before use.
// Immutable once loaded and shared: each connection keeps the context it was accepted with, so
// a reload (SIGHUP) never changes an open connection.
class TlsContext {
 public:
  // Reads and checks every file. Throws StartupError with one line: 78 for a missing file, a
  // bad certificate, an encrypted key, a key that does not match the certificate, a bad CA
  // bundle or CRL, or contradicting options; 77 when a file cannot be read for permissions;
  // 2 for a --tls-ciphers list that names no usable cipher. Never prompts for a passphrase.
  static std::shared_ptr<const TlsContext> load(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  const TlsSettings& settings() const { return settings_; }
  // "subject CN=relay, serial 01AF, expires 2027-01-01T00:00:00Z" for the logs.
  const std::string& certificateSummary() const { return summary_; }

 private:
  explicit TlsContext(const TlsSettings& settings);
  TlsSettings settings_;
  SSL_CTX* ctx_ = nullptr;
  std::string summary_;
};

// The context new TLS connections are accepted with. Thread-safe: the main thread replaces it
// on SIGHUP while workers read it at each accept.
class TlsContextHolder {
 public:
  explicit TlsContextHolder(std::shared_ptr<const TlsContext> context)
      : context_(std::move(context)) {}
  std::shared_ptr<const TlsContext> current() const {
    std::lock_guard lock(mutex_);
    return context_;
  }
  void replace(std::shared_ptr<const TlsContext> context) {
    std::lock_guard lock(mutex_);
    context_.swap(context);
    // The old context is released outside the lock, when `context` goes out of scope.
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const TlsContext> context_;
};

// The DNS SANs and CN of a certificate (for --allowed-peer).
PeerNames peerNamesOf(X509* certificate);

// The SSL ex_data slot where the context's verify callback writes, in operator words, why it
// refused a client certificate. The slot holds a std::string* owned by whoever made the SSL
// (TlsSession); an SSL without one gets no detail.
int verifyDetailIndex();

// Untrusted text (certificate names, subjects) made safe for one log line: bytes outside
// printable ASCII become \xNN, and the result is cut to `limit` bytes.
std::string printableText(std::string_view text, size_t limit = 200);

}  // namespace kinesyslog::net
