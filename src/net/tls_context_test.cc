#include "net/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "net/tls_test_support.h"
#include "util/startup_error.h"

namespace kinesyslog::net {
namespace {

using testing::certPem;
using testing::keyPem;
using testing::TestPki;

TlsSettings serverOnly(const TestPki& pki) {
  TlsSettings s;
  s.certFile = pki.certFile;
  s.keyFile = pki.keyFile;
  return s;
}

TlsSettings mutual(const TestPki& pki) {
  TlsSettings s = serverOnly(pki);
  s.caFile = pki.caFile;
  s.verifyClient = VerifyClient::kRequired;
  return s;
}

// Loads and expects StartupError with `exitCode` and every needle in its one line.
void expectRefused(const TlsSettings& settings, int exitCode,
                   const std::vector<std::string>& needles) {
  try {
    TlsContext::load(settings);
    FAIL() << "loaded, expected exit " << exitCode;
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), exitCode) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "'" << needle << "' not in: " << message;
    }
  }
}

TEST(TlsContext, LoadsCertificateAndKey) {
  TestPki pki;
  auto context = TlsContext::load(serverOnly(pki));
  ASSERT_NE(context->native(), nullptr);
  EXPECT_NE(context->certificateSummary().find("CN=localhost"), std::string::npos);
  EXPECT_NE(context->certificateSummary().find("serial 1001"), std::string::npos);
  EXPECT_EQ(SSL_CTX_get_verify_mode(context->native()), SSL_VERIFY_NONE);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(context->native()), TLS1_2_VERSION);
}

TEST(TlsContext, DefaultTls12CiphersAreEcdheWithAead) {
  TestPki pki;
  auto context = TlsContext::load(serverOnly(pki));
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context->native());
  ASSERT_NE(ciphers, nullptr);
  int tls12 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (std::string(SSL_CIPHER_get_version(c)) == "TLSv1.3") continue;  // the 1.3 suites
    ++tls12;
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe) << SSL_CIPHER_get_name(c);
    EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << SSL_CIPHER_get_name(c);
  }
  EXPECT_GT(tls12, 0);
}

TEST(TlsContext, ServesTheChainAfterTheLeaf) {
  TestPki pki;
  auto intermediateKey = testing::newKey();
  auto intermediate = testing::newCert({.commonName = "Intermediate", .serial = 7, .isCa = true},
                                       intermediateKey.get(), pki.ca.get(), pki.caKey.get());
  auto leafKey = testing::newKey();
  auto leaf = testing::newCert({.commonName = "relay", .dnsNames = {"relay"}, .serial = 8},
                               leafKey.get(), intermediate.get(), intermediateKey.get());
  TlsSettings s;
  s.certFile = pki.dir.write("chain.pem", certPem(leaf.get()) + certPem(intermediate.get()));
  s.keyFile = pki.dir.write("leaf.key", keyPem(leafKey.get()));
  auto context = TlsContext::load(s);
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(context->native(), &chain), 1);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 1);
}

TEST(TlsContext, VerifyModes) {
  TestPki pki;
  auto required = TlsContext::load(mutual(pki));
  EXPECT_EQ(SSL_CTX_get_verify_mode(required->native()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  TlsSettings optional = mutual(pki);
  optional.verifyClient = VerifyClient::kOptional;
  EXPECT_EQ(SSL_CTX_get_verify_mode(TlsContext::load(optional)->native()), SSL_VERIFY_PEER);
  // --allowed-peer needs a name to check: optional then behaves as required.
  optional.allowedPeers = {"client.example.com"};
  EXPECT_EQ(SSL_CTX_get_verify_mode(TlsContext::load(optional)->native()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  TlsSettings v13 = serverOnly(pki);
  v13.minVersion = TlsMinVersion::kTls13;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(TlsContext::load(v13)->native()), TLS1_3_VERSION);
}

TEST(TlsContext, MissingFilesExit78) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  s.keyFile = pki.dir.path("no-such.key");
  expectRefused(s, kExitConfig, {"--key", "no-such.key", "No such file"});
  s = serverOnly(pki);
  s.certFile = pki.dir.path("no-such.pem");
  expectRefused(s, kExitConfig, {"--cert", "no-such.pem"});
  s = mutual(pki);
  s.caFile = pki.dir.path("no-such-ca.pem");
  expectRefused(s, kExitConfig, {"--ca", "no-such-ca.pem"});
  s = mutual(pki);
  s.crlFile = pki.dir.path("no-such.crl");
  expectRefused(s, kExitConfig, {"--crl", "no-such.crl"});
  s = serverOnly(pki);
  s.keyFile = "";
  expectRefused(s, kExitConfig, {"missing key", "--key"});
  s = serverOnly(pki);
  s.keyFile = pki.dir.path("");  // a directory
  expectRefused(s, kExitConfig, {"--key", "not a regular file"});
}

TEST(TlsContext, UnreadableKeyExit77) {
  TestPki pki;
  ASSERT_EQ(::chmod(pki.keyFile.c_str(), 0), 0);
  if (::geteuid() != 0) {
    expectRefused(serverOnly(pki), kExitNoPermission, {"--key", pki.keyFile});
    return;
  }
  // Root reads every file (CI runs as root): the load runs in a child that has become nobody,
  // and reports through its exit status (0: refused with 77 naming --key).
  const std::string dir = std::filesystem::path(pki.keyFile).parent_path().string();
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(pki.certFile.c_str(), 0644), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    constexpr uid_t kNobody = 65534;
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(10);
    try {
      TlsContext::load(serverOnly(pki));
      ::_exit(11);
    } catch (const StartupError& e) {
      const std::string message = e.what();
      ::_exit(e.exitCode() == kExitNoPermission && message.find("--key") != std::string::npos ? 0
                                                                                              : 12);
    } catch (...) {
      ::_exit(13);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: could not become nobody; 11: loaded; 12: other "
                                       "refusal; 13: other exception";
}

TEST(TlsContext, EncryptedKeyRefusedWithoutPrompt) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  s.keyFile = pki.dir.write("pkcs8.key", keyPem(pki.serverKey.get(), "secret"));
  expectRefused(s, kExitConfig, {"--key", "pkcs8.key", "encrypted"});
  s.keyFile = pki.dir.write("legacy.key", testing::legacyEncryptedKeyPem(pki.serverKey.get(), "x"));
  expectRefused(s, kExitConfig, {"--key", "legacy.key", "encrypted"});
}

TEST(TlsContext, KeyNotMatchingCertificateExit78) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  auto other = testing::newKey();
  s.keyFile = pki.dir.write("other.key", keyPem(other.get()));
  expectRefused(s, kExitConfig, {"--key", "other.key", "does not match", "server.pem"});
}

TEST(TlsContext, BadCertificateFilesExit78) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  s.certFile = pki.dir.write("garbage.pem", "this is not a certificate\n");
  expectRefused(s, kExitConfig, {"--cert", "garbage.pem", "no PEM certificate"});
  s.certFile = pki.dir.write("key-only.pem", keyPem(pki.serverKey.get()));
  expectRefused(s, kExitConfig, {"--cert", "key-only.pem"});
  std::string corrupt = certPem(pki.server.get());
  corrupt[corrupt.size() / 2] = '!';
  s.certFile = pki.dir.write("corrupt.pem", corrupt);
  expectRefused(s, kExitConfig, {"--cert", "corrupt.pem"});
  s.certFile = pki.dir.write("empty.pem", "");
  expectRefused(s, kExitConfig, {"--cert", "empty.pem"});
  s = serverOnly(pki);
  s.keyFile = pki.dir.write("garbage.key", "nope\n");
  expectRefused(s, kExitConfig, {"--key", "garbage.key", "no PEM private key"});
}

TEST(TlsContext, BadCaAndCrlExit78) {
  TestPki pki;
  TlsSettings s = mutual(pki);
  s.caFile =
      pki.dir.write("bad-ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  expectRefused(s, kExitConfig, {"--ca", "bad-ca.pem"});
  s = mutual(pki);
  s.crlFile = pki.dir.write("bad.crl", "garbage\n");
  expectRefused(s, kExitConfig, {"--crl", "bad.crl", "no PEM CRL"});
  // A CRL signed by a CA the bundle does not hold could never be checked.
  auto otherKey = testing::newKey();
  auto other = testing::newCert({.commonName = "Other CA", .isCa = true}, otherKey.get());
  s.crlFile = pki.dir.write("other.crl", testing::crlPem(other.get(), otherKey.get(), {5}));
  expectRefused(s, kExitConfig, {"--crl", "other.crl", "Other CA", "not signed by a CA in --ca"});
  // The right issuer name but a signature by another key.
  auto impostor = testing::newCert({.commonName = "Test CA", .isCa = true}, otherKey.get());
  s.crlFile = pki.dir.write("forged.crl", testing::crlPem(impostor.get(), otherKey.get(), {5}));
  expectRefused(s, kExitConfig, {"--crl", "forged.crl", "not signed"});
  // A good CRL loads.
  s.crlFile = pki.dir.write("good.crl", testing::crlPem(pki.ca.get(), pki.caKey.get(), {5}));
  EXPECT_NE(TlsContext::load(s), nullptr);
}

TEST(TlsContext, ContradictingOptionsExit78) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  s.verifyClient = VerifyClient::kRequired;
  expectRefused(s, kExitConfig, {"--verify-client", "--ca"});
  s = serverOnly(pki);
  s.crlFile = pki.dir.write("c.crl", testing::crlPem(pki.ca.get(), pki.caKey.get(), {}));
  expectRefused(s, kExitConfig, {"--crl", "--ca"});
  s = mutual(pki);
  s.verifyClient = VerifyClient::kNone;
  s.allowedPeers = {"a.example.com"};
  expectRefused(s, kExitConfig, {"--allowed-peer"});
}

TEST(TlsContext, CipherListWithoutCiphersIsAUsageError) {
  TestPki pki;
  TlsSettings s = serverOnly(pki);
  s.ciphers = "NO-SUCH-CIPHER";
  expectRefused(s, kExitUsage, {"--tls-ciphers", "NO-SUCH-CIPHER"});
  s.ciphers = "ECDHE-RSA-AES256-GCM-SHA384";
  EXPECT_NE(TlsContext::load(s), nullptr);
}

TEST(TlsContext, PeerNamesOfCertificate) {
  TestPki pki;
  auto [withSans, key1] = pki.client({.commonName = "cn.example.com",
                                      .dnsNames = {"a.example.com", "*.b.example.com"},
                                      .ipSan = true});
  PeerNames names = peerNamesOf(withSans.get());
  EXPECT_EQ(names.dnsNames, (std::vector<std::string>{"a.example.com", "*.b.example.com"}));
  EXPECT_EQ(names.commonName, "cn.example.com");
  EXPECT_FALSE(peerNameAllowed(names, {"cn.example.com"}));
  EXPECT_FALSE(peerNameAllowed(names, {"x.b.example.com"}));
  EXPECT_TRUE(peerNameAllowed(names, {"*.example.com"}));

  auto [cnOnly, key2] = pki.client({.commonName = "only-cn.example.com", .ipSan = true});
  names = peerNamesOf(cnOnly.get());
  EXPECT_TRUE(names.dnsNames.empty());  // an IP SAN is not a DNS SAN
  EXPECT_EQ(names.commonName, "only-cn.example.com");
  EXPECT_TRUE(peerNameAllowed(names, {"only-cn.example.com"}));
}

TEST(TlsContext, PrintableText) {
  EXPECT_EQ(printableText("CN=a\nb\\c"), "CN=a\\x0ab\\x5cc");
  EXPECT_EQ(printableText(std::string(300, 'a'), 10), std::string(10, 'a') + "...");
}

TEST(TlsContextHolder, ReplaceKeepsOldContextAliveForItsHolders) {
  TestPki pki;
  TlsContextHolder holder(TlsContext::load(serverOnly(pki)));
  auto old = holder.current();
  holder.replace(TlsContext::load(mutual(pki)));
  EXPECT_NE(holder.current(), old);
  EXPECT_EQ(SSL_CTX_get_verify_mode(old->native()), SSL_VERIFY_NONE);
  EXPECT_NE(SSL_CTX_get_verify_mode(holder.current()->native()), SSL_VERIFY_NONE);
}

}  // namespace
}  // namespace kinesyslog::net
