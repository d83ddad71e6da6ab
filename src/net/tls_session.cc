#include "net/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>

namespace kinesyslog::net {

namespace {

bool isReason(unsigned long code, int library, int reason) {
  return code != 0 && ERR_GET_LIB(code) == library && ERR_GET_REASON(code) == reason;
}

std::string reasonText(unsigned long code) {
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown TLS error";
}

}  // namespace

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context) : context_(std::move(context)) {}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

bool TlsSession::attach(int fd) {
  ERR_clear_error();
  ssl_ = SSL_new(context_->native());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1 ||
      SSL_set_ex_data(ssl_, verifyDetailIndex(), &verifyDetail_) != 1) {
    failure_ = {TlsFailureKind::kProtocol,
                "cannot start a TLS session: " + reasonText(ERR_peek_last_error())};
    ERR_clear_error();
    fatal_ = true;
    return false;
  }
  SSL_set_accept_state(ssl_);
  return true;
}

TlsSession::Step TlsSession::handshake() {
  if (fatal_) return Step::kFailed;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return Step::kDone;
  }
  const int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (error == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  recordHandshakeFailure(error);
  fatal_ = true;
  ERR_clear_error();
  return Step::kFailed;
}

void TlsSession::recordHandshakeFailure(int sslError) {
  const int savedErrno = errno;
  const long verify = SSL_get_verify_result(ssl_);
  const unsigned long first = ERR_peek_error();
  const unsigned long last = ERR_peek_last_error();
  auto either = [&](int library, int reason) {
    return isReason(first, library, reason) || isReason(last, library, reason);
  };
  if (verify != X509_V_OK) {
    failure_.kind = verify == X509_V_ERR_CERT_REVOKED               ? TlsFailureKind::kRevoked
                    : verify == X509_V_ERR_APPLICATION_VERIFICATION ? TlsFailureKind::kPeerName
                                                                    : TlsFailureKind::kUntrusted;
    failure_.detail =
        !verifyDetail_.empty() ? verifyDetail_ : std::string(X509_verify_cert_error_string(verify));
    return;
  }
  if (either(ERR_LIB_SSL, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
    failure_ = {TlsFailureKind::kNoCertificate, "no client certificate sent (one is required)"};
    return;
  }
  const bool syscallOnly = sslError == SSL_ERROR_SYSCALL && first == 0;
  const bool peerClosed = sslError == SSL_ERROR_ZERO_RETURN ||
                          either(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
                          (syscallOnly && (savedErrno == 0 || savedErrno == ECONNRESET));
  if (peerClosed) {
    // A TCP probe (a load balancer's health check) connects and leaves without a byte.
    if (BIO_number_read(SSL_get_rbio(ssl_)) == 0) {
      failure_ = {TlsFailureKind::kAbandoned, "closed the connection before the TLS handshake"};
    } else {
      failure_ = {TlsFailureKind::kProtocol, "closed the connection during the TLS handshake"};
    }
    return;
  }
  if (syscallOnly) {
    failure_ = {TlsFailureKind::kProtocol, std::strerror(savedErrno)};
    return;
  }
  // "wrong version number", "http request", "no shared cipher", "unsupported protocol"...:
  // OpenSSL's reason for the first error is the one that names the cause.
  failure_ = {TlsFailureKind::kProtocol, reasonText(first != 0 ? first : last)};
}

TlsSession::Step TlsSession::read(char* data, size_t size, size_t& got) {
  got = 0;
  if (fatal_) return Step::kFailed;
  while (got < size) {
    ERR_clear_error();
    size_t n = 0;
    const int rc = SSL_read_ex(ssl_, data + got, size - got, &n);
    if (rc == 1) {
      got += n;
      continue;
    }
    const int error = SSL_get_error(ssl_, rc);
    switch (error) {
      case SSL_ERROR_WANT_READ:
        return Step::kWantRead;
      case SSL_ERROR_WANT_WRITE:  // a TLS 1.3 KeyUpdate answer waits for socket space
        return Step::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:  // close_notify, or a TCP close (SSL_OP_IGNORE_UNEXPECTED_EOF)
        return Step::kClosed;
      default: {
        const int savedErrno = errno;
        const unsigned long code = ERR_peek_error();
        fatal_ = true;
        if (error == SSL_ERROR_SYSCALL && code == 0) {
          if (savedErrno == 0) return Step::kClosed;
          errorText_ = std::strerror(savedErrno);
        } else {
          errorText_ = "TLS: " + reasonText(code);
        }
        ERR_clear_error();
        return Step::kFailed;
      }
    }
  }
  return Step::kDone;
}

bool TlsSession::hasPending() const {
  return ssl_ != nullptr && !fatal_ && SSL_has_pending(ssl_) == 1;
}

void TlsSession::closeNotify() {
  if (!established_ || fatal_) return;
  fatal_ = true;  // once
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsSession::describe() const {
  if (!established_) return "no TLS session";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace kinesyslog::net
