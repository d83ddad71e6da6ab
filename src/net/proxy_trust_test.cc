#include "net/proxy_trust.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace kinesyslog::net {
namespace {

IpNetwork network(std::string_view text) {
  auto parsed = parseNetwork(text);
  EXPECT_TRUE(parsed.network) << text << ": " << parsed.error;
  return parsed.network.value_or(IpNetwork{});
}

std::string refusal(std::string_view text) {
  auto parsed = parseNetwork(text);
  EXPECT_FALSE(parsed.network) << text;
  return parsed.error;
}

IpAddress address(const char* text) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (std::strchr(text, ':') != nullptr) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    EXPECT_EQ(::inet_pton(AF_INET6, text, &v6->sin6_addr), 1) << text;
    length = sizeof *v6;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    EXPECT_EQ(::inet_pton(AF_INET, text, &v4->sin_addr), 1) << text;
    length = sizeof *v4;
  }
  auto peer = peerAddress(reinterpret_cast<sockaddr*>(&storage), length);
  EXPECT_TRUE(peer) << text;
  return peer.value_or(IpAddress{});
}

bool contains(std::string_view net, const char* peer) {
  return networkContains(network(net), address(peer));
}

TEST(ProxyTrust, Ipv4Networks) {
  EXPECT_TRUE(contains("10.0.0.0/16", "10.0.0.1"));
  EXPECT_TRUE(contains("10.0.0.0/16", "10.0.255.255"));
  EXPECT_FALSE(contains("10.0.0.0/16", "10.1.0.0"));
  EXPECT_FALSE(contains("10.0.0.0/16", "9.255.255.255"));
  // A prefix that ends inside a byte.
  EXPECT_TRUE(contains("172.16.0.0/12", "172.31.200.1"));
  EXPECT_FALSE(contains("172.16.0.0/12", "172.32.0.1"));
  EXPECT_FALSE(contains("172.16.0.0/12", "172.15.255.255"));
  EXPECT_TRUE(contains("192.0.2.128/25", "192.0.2.200"));
  EXPECT_FALSE(contains("192.0.2.128/25", "192.0.2.127"));
  EXPECT_TRUE(contains("0.0.0.0/0", "203.0.113.9"));
}

TEST(ProxyTrust, BareAddressIsOneHost) {
  EXPECT_EQ(network("127.0.0.9").prefixLength, 32u);
  EXPECT_TRUE(contains("127.0.0.9", "127.0.0.9"));
  EXPECT_FALSE(contains("127.0.0.9", "127.0.0.10"));
  EXPECT_EQ(network("::1").prefixLength, 128u);
  EXPECT_TRUE(contains("::1", "::1"));
  EXPECT_FALSE(contains("::1", "::2"));
  EXPECT_TRUE(contains("127.0.0.9/32", "127.0.0.9"));
}

TEST(ProxyTrust, Ipv6Networks) {
  EXPECT_TRUE(contains("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(contains("fd00:10::/28", "fd00:1f::1"));
  EXPECT_FALSE(contains("fd00:10::/28", "fd00:20::1"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
}

TEST(ProxyTrust, FamiliesNeverMatchEachOther) {
  EXPECT_FALSE(contains("::/0", "10.0.0.1"));
  EXPECT_FALSE(contains("0.0.0.0/0", "2001:db8::1"));
  // 10.0.0.1's bytes at the start of an IPv6 address are not 10.0.0.1.
  EXPECT_FALSE(contains("10.0.0.0/8", "a00:1::"));
}

TEST(ProxyTrust, Ipv4MappedPeerIsComparedAsIpv4) {
  // A dual-stack (::) listener sees IPv4 peers as ::ffff:a.b.c.d.
  EXPECT_TRUE(contains("10.0.0.0/16", "::ffff:10.0.3.4"));
  EXPECT_FALSE(contains("10.0.0.0/16", "::ffff:10.1.3.4"));
  EXPECT_FALSE(contains("::/0", "::ffff:10.0.3.4"));
  EXPECT_FALSE(address("::ffff:10.0.3.4").ipv6);
}

TEST(ProxyTrust, RefusedNetworks) {
  EXPECT_EQ(refusal("10.0.0.1/16"), "host bits set after /16 (the network is 10.0.0.0/16)");
  EXPECT_EQ(refusal("2001:db8::1/32"), "host bits set after /32 (the network is 2001:db8::/32)");
  EXPECT_EQ(refusal("10.0.0.0/33"), "the prefix length must be 0 to 32");
  EXPECT_EQ(refusal("::/129"), "the prefix length must be 0 to 128");
  for (const char* bad : {"10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/-1", "10.0.0.0/8 ", "10.0.0.0/0x8",
                          "10.0.0.0/0008", "10.0.0.0/8/8"}) {
    EXPECT_NE(refusal(bad), "") << bad;
  }
  for (const char* bad :
       {"", "/8", "10.0.0", "10.0.0.256", "vpc", " 10.0.0.0", "2001:db8::g/32", "fe80::1%eth0"}) {
    EXPECT_EQ(refusal(bad), "not an IPv4 or IPv6 address or network") << bad;
  }
  EXPECT_EQ(refusal("::ffff:10.0.0.0/104"), "an IPv4-mapped IPv6 network; write it as IPv4");
}

TEST(ProxyTrust, EmptyTrustsEveryoneAnyNetworkAdmits) {
  const ProxyTrust open;
  EXPECT_FALSE(open.restricted());
  EXPECT_TRUE(open.trusts(address("203.0.113.9")));
  const ProxyTrust vpc({network("10.0.0.0/16"), network("fd00::/8"), network("192.0.2.7")});
  EXPECT_TRUE(vpc.restricted());
  EXPECT_TRUE(vpc.trusts(address("10.0.42.1")));
  EXPECT_TRUE(vpc.trusts(address("fd12::1")));
  EXPECT_TRUE(vpc.trusts(address("192.0.2.7")));
  EXPECT_FALSE(vpc.trusts(address("192.0.2.8")));
  EXPECT_FALSE(vpc.trusts(address("2001:db8::1")));
}

TEST(ProxyTrust, UnknownFamilyIsTrustedOnlyWithoutRestriction) {
  sockaddr_storage unix{};
  unix.ss_family = AF_UNIX;
  const auto* peer = reinterpret_cast<const sockaddr*>(&unix);
  EXPECT_FALSE(peerAddress(peer, sizeof unix));
  EXPECT_TRUE(ProxyTrust().trusts(peer, sizeof unix));
  EXPECT_FALSE(ProxyTrust({network("0.0.0.0/0")}).trusts(peer, sizeof unix));
  // A truncated address is not read past its length.
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  EXPECT_FALSE(peerAddress(reinterpret_cast<const sockaddr*>(&v4), 4));
}

}  // namespace
}  // namespace kinesyslog::net
