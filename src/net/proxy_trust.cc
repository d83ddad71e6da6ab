#include "net/proxy_trust.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>

namespace kinesyslog::net {

namespace {

// ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
bool v4Mapped(const std::array<uint8_t, 16>& bytes) {
  static constexpr std::array<uint8_t, 12> kPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kPrefix.data(), kPrefix.size()) == 0;
}

std::optional<IpAddress> parseAddress(const std::string& text) {
  IpAddress address;
  if (::inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) return address;
  address.ipv6 = true;
  if (::inet_pton(AF_INET6, text.c_str(), address.bytes.data()) == 1) return address;
  return std::nullopt;
}

std::string addressText(const IpAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(address.ipv6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof text);
  return text;
}

// `address` with every bit after the first `prefixLength` cleared.
IpAddress masked(IpAddress address, unsigned prefixLength) {
  for (unsigned i = 0; i < address.bytes.size(); ++i) {
    const unsigned bitsBefore = i * 8;
    if (prefixLength >= bitsBefore + 8) continue;
    const unsigned keep = prefixLength > bitsBefore ? prefixLength - bitsBefore : 0;
    address.bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return address;
}

}  // namespace

NetworkParse parseNetwork(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string addressPart(text.substr(0, slash));
  const auto address = parseAddress(addressPart);
  if (!address) return {std::nullopt, "not an IPv4 or IPv6 address or network"};
  const unsigned bits = address->ipv6 ? 128 : 32;
  if (address->ipv6 && v4Mapped(address->bytes)) {
    return {std::nullopt, "an IPv4-mapped IPv6 network; write it as IPv4"};
  }
  unsigned prefixLength = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      return {std::nullopt, fmt::format("the prefix length must be 0 to {}", bits)};
    }
    prefixLength = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return {std::nullopt, fmt::format("the prefix length must be 0 to {}", bits)};
      }
      prefixLength = prefixLength * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefixLength > bits) {
      return {std::nullopt, fmt::format("the prefix length must be 0 to {}", bits)};
    }
  }
  const IpAddress network = masked(*address, prefixLength);
  if (network.bytes != address->bytes) {
    return {std::nullopt, fmt::format("host bits set after /{} (the network is {}/{})",
                                      prefixLength, addressText(network), prefixLength)};
  }
  return {IpNetwork{network, prefixLength}, {}};
}

std::optional<IpAddress> peerAddress(const sockaddr* peer, socklen_t length) {
  IpAddress address;
  if (peer->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
    std::memcpy(address.bytes.data(), &v4->sin_addr, 4);
    return address;
  }
  if (peer->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
    std::memcpy(address.bytes.data(), &v6->sin6_addr, 16);
    if (v4Mapped(address.bytes)) {
      std::memmove(address.bytes.data(), address.bytes.data() + 12, 4);
      std::memset(address.bytes.data() + 4, 0, 12);
      return address;
    }
    address.ipv6 = true;
    return address;
  }
  return std::nullopt;
}

bool networkContains(const IpNetwork& network, const IpAddress& address) {
  if (network.address.ipv6 != address.ipv6) return false;
  return masked(address, network.prefixLength).bytes == network.address.bytes;
}

bool ProxyTrust::trusts(const IpAddress& address) const {
  if (networks_.empty()) return true;
  for (const auto& network : networks_) {
    if (networkContains(network, address)) return true;
  }
  return false;
}

bool ProxyTrust::trusts(const sockaddr* peer, socklen_t length) const {
  if (networks_.empty()) return true;
  const auto address = peerAddress(peer, length);
  return address && trusts(*address);
}

}  // namespace kinesyslog::net
