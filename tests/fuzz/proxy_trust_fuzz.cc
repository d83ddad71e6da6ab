// Fuzz target for the --proxy-trusted network parser and matcher.
// Input layout: the first 16 bytes are a peer address (IPv4 in the first 4 when byte 16 is even,
// IPv6 otherwise), the rest is the network text. A network that parses must print back as a
// network that parses to the same thing, have a prefix length within its family, contain its own
// address and, for any peer, agree with a bit-by-bit comparison of the first prefixLength bits.
// A refusal always says why.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "net/proxy_trust.h"

namespace {

using kinesyslog::net::IpAddress;
using kinesyslog::net::IpNetwork;

bool bit(const IpAddress& a, unsigned i) {
  return (a.bytes[i / 8] >> (7 - i % 8)) & 1;
}

bool containsByBits(const IpNetwork& n, const IpAddress& a) {
  if (n.address.ipv6 != a.ipv6) return false;
  for (unsigned i = 0; i < n.prefixLength; ++i) {
    if (bit(n.address, i) != bit(a, i)) return false;
  }
  return true;
}

std::string text(const IpNetwork& n) {
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(n.address.ipv6 ? AF_INET6 : AF_INET, n.address.bytes.data(), buffer, sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(n.prefixLength);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 17) return 0;
  IpAddress peer;
  peer.ipv6 = (data[16] & 1) != 0;
  std::memcpy(peer.bytes.data(), data, peer.ipv6 ? 16 : 4);
  const std::string_view input(reinterpret_cast<const char*>(data + 17), size - 17);

  const auto parsed = kinesyslog::net::parseNetwork(input);
  if (!parsed.network) {
    if (parsed.error.empty()) __builtin_trap();
    return 0;
  }
  const IpNetwork& n = *parsed.network;
  if (n.prefixLength > (n.address.ipv6 ? 128u : 32u)) __builtin_trap();
  if (!kinesyslog::net::networkContains(n, n.address)) __builtin_trap();
  if (kinesyslog::net::networkContains(n, peer) != containsByBits(n, peer)) __builtin_trap();
  const auto again = kinesyslog::net::parseNetwork(text(n));
  if (!again.network || again.network->prefixLength != n.prefixLength ||
      again.network->address.ipv6 != n.address.ipv6 ||
      again.network->address.bytes != n.address.bytes) {
    __builtin_trap();
  }
  return 0;
}
