#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinesyslog::net {

// An IP address as bytes: IPv4 in the first 4 of `bytes`, IPv6 in all 16.
struct IpAddress {
  bool ipv6 = false;
  std::array<uint8_t, 16> bytes{};
};

// One --proxy-trusted network.
struct IpNetwork {
  IpAddress address;  // host bits are zero
  unsigned prefixLength = 0;
};

// parseNetwork's answer: a network, or why the text is not one.
struct NetworkParse {
  std::optional<IpNetwork> network;
  std::string error;
};

// "10.0.0.0/16", "2001:db8::/32"; a bare address is one host (/32, /128). Refused: anything
// inet_pton does not read, a prefix length that is not a plain decimal within the family's
// bits, host bits set after the prefix ("10.0.0.1/16" is a typo more often than a network, so
// the error names the network it would be), and IPv4-mapped IPv6 networks (peers are compared
// as IPv4, so such a network would never match: write it as IPv4).
[[nodiscard]] NetworkParse parseNetwork(std::string_view text);

// A peer's socket address as an IpAddress; IPv4-mapped IPv6 (a dual-stack listener's IPv4
// peer) becomes the IPv4 address. nullopt for other families.
[[nodiscard]] std::optional<IpAddress> peerAddress(const sockaddr* peer, socklen_t length);

// True when `address` lies in `network` (never across families).
bool networkContains(const IpNetwork& network, const IpAddress& address);

// --proxy-trusted: the peers that may open connections to a --proxy-protocol port. With no
// network at all every peer is trusted (the behaviour without the option). Pure: no I/O.
class ProxyTrust {
 public:
  ProxyTrust() = default;
  explicit ProxyTrust(std::vector<IpNetwork> networks) : networks_(std::move(networks)) {}

  bool restricted() const { return !networks_.empty(); }
  bool trusts(const IpAddress& address) const;
  // A peer of an unknown family is trusted only when nothing is restricted.
  bool trusts(const sockaddr* peer, socklen_t length) const;

 private:
  std::vector<IpNetwork> networks_;
};

}  // namespace kinesyslog::net
