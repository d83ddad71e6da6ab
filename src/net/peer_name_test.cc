#include "net/peer_name.h"

#include <gtest/gtest.h>

namespace kinesyslog::net {
namespace {

PeerNames sans(std::vector<std::string> dns, std::string cn = "") {
  return PeerNames{std::move(dns), std::move(cn)};
}

PeerNames cnOnly(std::string cn) {
  return PeerNames{{}, std::move(cn)};
}

TEST(PeerName, ExactDnsSan) {
  EXPECT_TRUE(peerNameAllowed(sans({"client.example.com"}), {"client.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"client.example.com"}), {"other.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"client.example.com"}), {"client.example.co"}));
  EXPECT_FALSE(peerNameAllowed(sans({"client.example.com"}), {"example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"client.example.com"}), {}));
}

TEST(PeerName, AnyOfSeveralSansAndSeveralPatterns) {
  const auto names = sans({"a.example.com", "b.example.net"});
  EXPECT_TRUE(peerNameAllowed(names, {"x.example.org", "b.example.net"}));
  EXPECT_FALSE(peerNameAllowed(names, {"x.example.org", "c.example.net"}));
}

TEST(PeerName, CaseInsensitiveAsciiOnly) {
  EXPECT_TRUE(peerNameAllowed(sans({"Client.EXAMPLE.com"}), {"client.example.COM"}));
  EXPECT_TRUE(peerNameAllowed(sans({"a.example.com"}), {"*.EXAMPLE.COM"}));
  // Bytes outside ASCII letters compare exactly.
  EXPECT_FALSE(peerNameAllowed(sans({"\xc3\x89.example.com"}), {"\xc3\xa9.example.com"}));
}

TEST(PeerName, WildcardMatchesExactlyOneLeftmostLabel) {
  const std::vector<std::string> allowed = {"*.example.com"};
  EXPECT_TRUE(peerNameAllowed(sans({"a.example.com"}), allowed));
  EXPECT_TRUE(peerNameAllowed(sans({"host-1.example.com"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({"example.com"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({".example.com"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({"a.b.example.com"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({"a.example.com.evil.net"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({"aexample.com"}), allowed));
  EXPECT_FALSE(peerNameAllowed(sans({"a.example.org"}), allowed));
}

TEST(PeerName, DeeperPatternForDeeperNames) {
  EXPECT_TRUE(peerNameAllowed(sans({"a.b.example.com"}), {"*.b.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"a.c.example.com"}), {"*.b.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"b.example.com"}), {"*.b.example.com"}));
}

TEST(PeerName, CommonNameOnlyWithoutDnsSans) {
  EXPECT_TRUE(peerNameAllowed(cnOnly("client.example.com"), {"client.example.com"}));
  EXPECT_TRUE(peerNameAllowed(cnOnly("a.example.com"), {"*.example.com"}));
  EXPECT_FALSE(peerNameAllowed(cnOnly("client.example.com"), {"other.example.com"}));
  // With a DNS SAN present the CN is ignored, even when it would match.
  EXPECT_FALSE(
      peerNameAllowed(sans({"other.example.com"}, "client.example.com"), {"client.example.com"}));
  EXPECT_TRUE(peerNameAllowed(sans({"client.example.com"}, "ignored"), {"client.example.com"}));
  // No names at all: nothing matches.
  EXPECT_FALSE(peerNameAllowed(cnOnly(""), {"*.example.com"}));
}

TEST(PeerName, WildcardInsideCertificateNotHonoured) {
  EXPECT_FALSE(peerNameAllowed(sans({"*.example.com"}), {"a.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"*.example.com"}), {"*.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({"a*.example.com"}), {"*.example.com"}));
  EXPECT_FALSE(peerNameAllowed(cnOnly("*.example.com"), {"a.example.com"}));
  EXPECT_FALSE(peerNameAllowed(cnOnly("*"), {"*.example.com"}));
  // A wildcard SAN beside a real one: the real one still counts.
  EXPECT_TRUE(peerNameAllowed(sans({"*.example.com", "a.example.com"}), {"a.example.com"}));
}

TEST(PeerName, EmbeddedNulNeverMatchesAShorterName) {
  const std::string tricky("good.example.com\0.evil.net", 26);
  EXPECT_FALSE(peerNameAllowed(sans({tricky}), {"good.example.com"}));
  EXPECT_FALSE(peerNameAllowed(sans({tricky}), {"*.example.com"}));
}

TEST(PeerName, ValidPatterns) {
  EXPECT_TRUE(validAllowedPeer("client.example.com"));
  EXPECT_TRUE(validAllowedPeer("*.example.com"));
  EXPECT_TRUE(validAllowedPeer("localhost"));
  EXPECT_FALSE(validAllowedPeer(""));
  EXPECT_FALSE(validAllowedPeer("*."));
  EXPECT_FALSE(validAllowedPeer("*"));
  EXPECT_FALSE(validAllowedPeer("*..example.com"));
  EXPECT_FALSE(validAllowedPeer("a*.example.com"));
  EXPECT_FALSE(validAllowedPeer("*.*.example.com"));
  EXPECT_FALSE(validAllowedPeer("a.*.example.com"));
}

}  // namespace
}  // namespace kinesyslog::net
