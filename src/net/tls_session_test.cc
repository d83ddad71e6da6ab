#include "net/tls_session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls_test_support.h"

namespace kinesyslog::net {
namespace {

using testing::Cert;
using testing::Key;
using testing::TestPki;

// A connected, non-blocking socket pair: the relay's end and a client end.
struct Pair {
  int server = -1, client = -1;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) std::abort();
    server = fds[0];
    client = fds[1];
    ::fcntl(server, F_SETFL, O_NONBLOCK);
    ::fcntl(client, F_SETFL, O_NONBLOCK);
  }
  ~Pair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
  void closeClient() {
    ::close(client);
    client = -1;
  }
};

// An OpenSSL client for the other end, optionally with a certificate.
class Client {
 public:
  Client(int fd, X509* cert = nullptr, EVP_PKEY* key = nullptr) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (cert != nullptr) {
      SSL_CTX_use_certificate(ctx_, cert);
      SSL_CTX_use_PrivateKey(ctx_, key);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd);
    SSL_set_connect_state(ssl_);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  // One non-blocking step; true once the client considers the handshake done.
  bool step() {
    if (done_ || failed_) return done_;
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
      done_ = true;
    } else {
      int error = SSL_get_error(ssl_, rc);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) failed_ = true;
    }
    ERR_clear_error();
    return done_;
  }
  void write(const std::string& bytes) {
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written), 1);
  }
  void closeNotify() { SSL_shutdown(ssl_); }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_;
  bool done_ = false, failed_ = false;
};

// Drives both ends until the server's handshake is done or fails.
TlsSession::Step handshake(TlsSession& server, Client& client) {
  for (int i = 0; i < 200; ++i) {
    client.step();
    TlsSession::Step step = server.handshake();
    if (step == TlsSession::Step::kDone || step == TlsSession::Step::kFailed ||
        step == TlsSession::Step::kClosed) {
      client.step();  // let the client read the server's last flight or alert
      return step;
    }
  }
  return TlsSession::Step::kWantRead;
}

std::string readAll(TlsSession& session, TlsSession::Step* last = nullptr) {
  std::string text;
  char buffer[100];
  for (int i = 0; i < 1000; ++i) {
    size_t got = 0;
    TlsSession::Step step = session.read(buffer, sizeof buffer, got);
    text.append(buffer, got);
    if (step != TlsSession::Step::kDone) {
      if (last != nullptr) *last = step;
      return text;
    }
  }
  return text;
}

TlsSettings mutual(const TestPki& pki) {
  TlsSettings s;
  s.certFile = pki.certFile;
  s.keyFile = pki.keyFile;
  s.caFile = pki.caFile;
  s.verifyClient = VerifyClient::kRequired;
  return s;
}

struct Outcome {
  TlsSession::Step step;
  TlsFailure failure;
};

Outcome connect(const TlsSettings& settings, X509* cert, EVP_PKEY* key) {
  Pair pair;
  TlsSession server(TlsContext::load(settings));
  EXPECT_TRUE(server.attach(pair.server));
  Client client(pair.client, cert, key);
  return {handshake(server, client), server.failure()};
}

TEST(TlsSession, ServerOnlyHandshakeThenOctetCountedBytes) {
  TestPki pki;
  TlsSettings settings = mutual(pki);
  settings.caFile.clear();
  settings.verifyClient = VerifyClient::kNone;
  Pair pair;
  TlsSession server(TlsContext::load(settings));
  ASSERT_TRUE(server.attach(pair.server));
  Client client(pair.client);
  ASSERT_EQ(handshake(server, client), TlsSession::Step::kDone);
  EXPECT_NE(server.describe().find("TLSv1."), std::string::npos);
  client.write("11 <13>1 hello");
  client.write(std::string(1000, 'x'));  // more than one read buffer: kDone, then the rest
  TlsSession::Step last{};
  EXPECT_EQ(readAll(server, &last), "11 <13>1 hello" + std::string(1000, 'x'));
  EXPECT_EQ(last, TlsSession::Step::kWantRead);
  client.closeNotify();
  EXPECT_EQ(readAll(server, &last), "");
  EXPECT_EQ(last, TlsSession::Step::kClosed);
  server.closeNotify();
}

TEST(TlsSession, PeerClosingWithoutCloseNotifyEndsTheStream) {
  TestPki pki;
  TlsSettings settings = mutual(pki);
  auto [cert, key] = pki.client({.commonName = "c", .dnsNames = {"c.example.com"}});
  Pair pair;
  TlsSession server(TlsContext::load(settings));
  ASSERT_TRUE(server.attach(pair.server));
  {
    Client client(pair.client, cert.get(), key.get());
    ASSERT_EQ(handshake(server, client), TlsSession::Step::kDone);
    client.write("tail without newline");
  }
  pair.closeClient();
  TlsSession::Step last{};
  EXPECT_EQ(readAll(server, &last), "tail without newline");
  EXPECT_EQ(last, TlsSession::Step::kClosed);
}

TEST(TlsSession, GoodClientCertificateAccepted) {
  TestPki pki;
  auto [cert, key] = pki.client({.commonName = "c", .dnsNames = {"client.example.com"}});
  EXPECT_EQ(connect(mutual(pki), cert.get(), key.get()).step, TlsSession::Step::kDone);
}

TEST(TlsSession, NoClientCertificateRejected) {
  TestPki pki;
  Outcome o = connect(mutual(pki), nullptr, nullptr);
  EXPECT_EQ(o.step, TlsSession::Step::kFailed);
  EXPECT_EQ(o.failure.kind, TlsFailureKind::kNoCertificate) << o.failure.detail;
  // Optional: a client without a certificate is served.
  TlsSettings optional = mutual(pki);
  optional.verifyClient = VerifyClient::kOptional;
  EXPECT_EQ(connect(optional, nullptr, nullptr).step, TlsSession::Step::kDone);
}

TEST(TlsSession, CertificateOfAnotherCaRejected) {
  TestPki pki;
  TestPki other;  // a second, unrelated CA
  auto [cert, key] = other.client({.commonName = "c", .dnsNames = {"client.example.com"}});
  Outcome o = connect(mutual(pki), cert.get(), key.get());
  EXPECT_EQ(o.step, TlsSession::Step::kFailed);
  EXPECT_EQ(o.failure.kind, TlsFailureKind::kUntrusted) << o.failure.detail;
  EXPECT_NE(o.failure.detail.find("CN=c"), std::string::npos) << o.failure.detail;
  // Optional verification still refuses a certificate that does not verify.
  TlsSettings optional = mutual(pki);
  optional.verifyClient = VerifyClient::kOptional;
  EXPECT_EQ(connect(optional, cert.get(), key.get()).failure.kind, TlsFailureKind::kUntrusted);
}

TEST(TlsSession, RevokedCertificateRejected) {
  TestPki pki;
  auto [revoked, key1] =
      pki.client({.commonName = "r", .dnsNames = {"r.example.com"}, .serial = 66});
  auto [good, key2] = pki.client({.commonName = "g", .dnsNames = {"g.example.com"}, .serial = 67});
  TlsSettings s = mutual(pki);
  s.crlFile = pki.dir.write("ca.crl", testing::crlPem(pki.ca.get(), pki.caKey.get(), {66}));
  Outcome o = connect(s, revoked.get(), key1.get());
  EXPECT_EQ(o.step, TlsSession::Step::kFailed);
  EXPECT_EQ(o.failure.kind, TlsFailureKind::kRevoked) << o.failure.detail;
  EXPECT_EQ(connect(s, good.get(), key2.get()).step, TlsSession::Step::kDone);
}

TEST(TlsSession, AllowedPeerNames) {
  TestPki pki;
  auto [good, key1] = pki.client({.commonName = "x", .dnsNames = {"app.prod.example.com"}});
  auto [deeper, key2] = pki.client({.commonName = "x", .dnsNames = {"a.app.prod.example.com"}});
  auto [wild, key3] =
      pki.client({.commonName = "app.prod.example.com", .dnsNames = {"*.prod.example.com"}});
  TlsSettings s = mutual(pki);
  s.allowedPeers = {"*.prod.example.com"};
  EXPECT_EQ(connect(s, good.get(), key1.get()).step, TlsSession::Step::kDone);
  Outcome o = connect(s, deeper.get(), key2.get());
  EXPECT_EQ(o.failure.kind, TlsFailureKind::kPeerName) << o.failure.detail;
  EXPECT_NE(o.failure.detail.find("DNS:a.app.prod.example.com"), std::string::npos)
      << o.failure.detail;
  // The certificate's own wildcard is not honoured, and its CN is not consulted.
  EXPECT_EQ(connect(s, wild.get(), key3.get()).failure.kind, TlsFailureKind::kPeerName);
  s.allowedPeers = {"app.prod.example.com"};
  EXPECT_EQ(connect(s, good.get(), key1.get()).step, TlsSession::Step::kDone);
  EXPECT_EQ(connect(s, wild.get(), key3.get()).failure.kind, TlsFailureKind::kPeerName);
  // --allowed-peer refuses a client without a certificate even with optional verification.
  s.verifyClient = VerifyClient::kOptional;
  EXPECT_EQ(connect(s, nullptr, nullptr).failure.kind, TlsFailureKind::kNoCertificate);
}

TEST(TlsSession, PlainSyslogIsAProtocolFailure) {
  TestPki pki;
  Pair pair;
  TlsSession server(TlsContext::load(mutual(pki)));
  ASSERT_TRUE(server.attach(pair.server));
  const std::string text = "<13>Jan  1 00:00:00 host app: plain TCP to the TLS port\n";
  ASSERT_EQ(::write(pair.client, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  EXPECT_EQ(server.handshake(), TlsSession::Step::kFailed);
  EXPECT_EQ(server.failure().kind, TlsFailureKind::kProtocol);
  EXPECT_FALSE(server.failure().detail.empty());
  size_t got = 0;
  char buffer[16];
  EXPECT_EQ(server.read(buffer, sizeof buffer, got), TlsSession::Step::kFailed);
  EXPECT_EQ(got, 0u);
}

TEST(TlsSession, SilentClientWaitsAndProbeIsAbandoned) {
  TestPki pki;
  Pair pair;
  TlsSession server(TlsContext::load(mutual(pki)));
  ASSERT_TRUE(server.attach(pair.server));
  EXPECT_EQ(server.handshake(), TlsSession::Step::kWantRead);  // the timeout is the caller's
  pair.closeClient();
  EXPECT_EQ(server.handshake(), TlsSession::Step::kFailed);
  EXPECT_EQ(server.failure().kind, TlsFailureKind::kAbandoned) << server.failure().detail;
}

TEST(TlsSession, ClientLeavingMidHandshakeIsAProtocolFailure) {
  TestPki pki;
  Pair pair;
  TlsSession server(TlsContext::load(mutual(pki)));
  ASSERT_TRUE(server.attach(pair.server));
  const std::string partialRecord("\x16\x03\x01\x02\x00\x01", 6);  // a ClientHello's start
  ASSERT_EQ(::write(pair.client, partialRecord.data(), partialRecord.size()), 6);
  EXPECT_EQ(server.handshake(), TlsSession::Step::kWantRead);
  pair.closeClient();
  EXPECT_EQ(server.handshake(), TlsSession::Step::kFailed);
  EXPECT_EQ(server.failure().kind, TlsFailureKind::kProtocol) << server.failure().detail;
}

}  // namespace
}  // namespace kinesyslog::net
