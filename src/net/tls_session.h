#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/tls_context.h"

namespace kinesyslog::net {

// Why a TLS handshake did not complete, in the words of the counters (docs/operations.md).
enum class TlsFailureKind : uint8_t {
  kNoCertificate,  // a client certificate is required and none was sent
  kUntrusted,      // the chain does not verify against --ca (unknown CA, expired, bad signature)
  kRevoked,        // the certificate is on a --crl
  kPeerName,       // no name of the certificate is in --allowed-peer
  kAbandoned,      // the peer closed before sending a single byte (a port probe)
  kProtocol,       // anything else: not TLS at all, no common version or cipher, a bad message
};

struct TlsFailure {
  TlsFailureKind kind = TlsFailureKind::kProtocol;
  std::string detail;  // one line for the problem log, safe to print
};

// The TLS half of one RFC 5425 connection: an SSL object driven over a non-blocking socket
// that its owner (TcpConnection) polls with the event loop. Each call makes what progress it
// can without blocking and says what it waits for. Never throws; untrusted input only ever
// yields kFailed. Not thread-safe; one per connection, used on its worker's thread.
class TlsSession {
 public:
  enum class Step : uint8_t {
    kDone,       // handshake finished / buffer filled (more may be pending inside OpenSSL)
    kWantRead,   // wait until the socket is readable, then call again
    kWantWrite,  // wait until the socket is writable, then call again
    kClosed,     // the peer ended the stream (close_notify, or a TCP close)
    kFailed,     // fatal: failure() / errorText() say why; close the connection
  };

  // Holds the context for the session's lifetime (its SSL_CTX and the verify callback's
  // settings), so a reload never changes a connection already accepted.
  explicit TlsSession(std::shared_ptr<const TlsContext> context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Binds the session to the connection's descriptor (not owned). False if OpenSSL could not.
  [[nodiscard]] bool attach(int fd);
  // One step of the server handshake (RFC 5425 §4.2: the client starts it right after the TCP
  // connection, or after the PROXY header). On kFailed, failure() is set.
  Step handshake();
  // Decrypts into data[0, size): reads until the buffer is full (kDone), or until OpenSSL
  // needs the socket (kWantRead / kWantWrite), or the stream ends. `got` bytes are valid in
  // every case, also alongside kClosed and kFailed.
  Step read(char* data, size_t size, size_t& got);
  // Decrypted bytes OpenSSL holds that no socket readiness will announce.
  bool hasPending() const;
  // RFC 5425 §5.4: answer / send close_notify when the session is healthy. Best effort, one
  // non-blocking attempt; a full socket buffer just means the peer does not get it.
  void closeNotify();

  const TlsFailure& failure() const { return failure_; }
  const std::string& errorText() const { return errorText_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" after the handshake.
  std::string describe() const;

 private:
  void recordHandshakeFailure(int sslError);

  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_ = nullptr;
  std::string verifyDetail_;  // written by the context's verify callback
  TlsFailure failure_;
  std::string errorText_;
  bool established_ = false;
  bool fatal_ = false;
};

}  // namespace kinesyslog::net
