// Structure-aware fuzz target for PROXY protocol v2 headers
// (src/proto/proxy/proxy_header_parser.h). Random bytes almost never carry the 12-byte signature
// with consistent lengths; here a header is built from the input: command (LOCAL or PROXY), family
// and transport, addresses and ports, then TLVs (ALPN, authority, NOOP, unique id, SSL, netns,
// custom, the AWS VPC endpoint id, a CRC32C over the header), all lengths consistent, followed by
// the first bytes of the stream proper. It is fed whole, at every split point in two pieces, and a
// byte at a time; every feed must give the same answer, and that answer must be what was built:
//  - PROXY over IPv4/IPv6: the source and destination address bytes and ports built (an
//    IPv4-mapped IPv6 address reads as the IPv4 address); LOCAL, UNSPEC and UNIX: the real peer;
//  - the header's length exactly (the stream after it is never consumed);
//  - the VPC endpoint id built, and crcVerified exactly when a CRC32C TLV was added;
//  - a damaged CRC32C is refused as kV2CrcMismatch, a TLV length past the end as
//    kV2TlvMalformed, a length short of the address block as kV2ShortAddress.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>

#include "proto/proxy/proxy_header_parser.h"
#include "split_feeds.h"

namespace {

using kinesyslog::proxy::ProxyError;
using kinesyslog::proxy::ProxyHeaderParser;
using kinesyslog::proxy::ProxyOutcome;

constexpr std::string_view kSignature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Family and transport bytes (§2.2) and the size of their address block.
constexpr struct {
  uint8_t byte;
  size_t block;
} kFamilies[] = {{0x11, 12},  {0x12, 12},  {0x21, 36}, {0x22, 36},
                 {0x31, 216}, {0x32, 216}, {0x00, 0}};

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  std::string bytes(size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += static_cast<char>(byte());
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void put16(std::string& out, size_t value) {
  out += static_cast<char>((value >> 8) & 0xff);
  out += static_cast<char>(value & 0xff);
}

void put16At(std::string& out, size_t at, size_t value) {
  out[at] = static_cast<char>((value >> 8) & 0xff);
  out[at + 1] = static_cast<char>(value & 0xff);
}

auto fields(const ProxyHeaderParser& p) {
  const auto& h = p.header();
  return std::make_tuple(p.outcome(), p.error(), p.headerLength(), h.version, h.useRealPeer,
                         h.sourceAddress, h.sourcePort, h.destinationAddress, h.destinationPort,
                         h.awsVpcEndpointId, h.crcVerified);
}

// The address text the parser gave must be the bytes built.
bool sameAddress(const std::string& text, std::string_view built) {
  unsigned char bytes[16];
  if (built.size() == 4) {
    return ::inet_pton(AF_INET, text.c_str(), bytes) == 1 &&
           std::memcmp(bytes, built.data(), 4) == 0;
  }
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(built.data(), kMapped, 12) == 0) {
    return ::inet_pton(AF_INET, text.c_str(), bytes) == 1 &&
           std::memcmp(bytes, built.data() + 12, 4) == 0;
  }
  return ::inet_pton(AF_INET6, text.c_str(), bytes) == 1 &&
         std::memcmp(bytes, built.data(), 16) == 0;
}

// Feeds `stream` whole, split in two at every point (or, with `everySplit` false, at a third of
// them) and byte by byte; returns the whole feed's parser.
ProxyHeaderParser parseEveryWay(std::string_view stream, bool everySplit = true) {
  ProxyHeaderParser whole;
  kinesyslog::fuzz::feedChecked(whole, stream);
  for (size_t split = 0; split <= stream.size(); split += everySplit ? 1 : 3) {
    ProxyHeaderParser halves;
    kinesyslog::fuzz::feedChecked(halves, stream.substr(0, split));
    kinesyslog::fuzz::feedChecked(halves, stream.substr(split));
    if (fields(halves) != fields(whole)) __builtin_trap();
  }
  ProxyHeaderParser bytes;
  for (size_t i = 0; i < stream.size(); ++i) {
    kinesyslog::fuzz::feedChecked(bytes, stream.substr(i, 1));
  }
  if (fields(bytes) != fields(whole)) __builtin_trap();
  return whole;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const unsigned shape = in.byte();
  const bool proxy = (shape & 1) != 0;
  const auto& family = kFamilies[(shape >> 1) % (sizeof kFamilies / sizeof kFamilies[0])];
  const unsigned damage = in.byte();

  std::string header(kSignature);
  header += static_cast<char>(0x20 | (proxy ? 1 : 0));
  header += static_cast<char>(family.byte);
  const size_t lengthAt = header.size();
  put16(header, 0);  // the length, set below

  std::string source;
  std::string destination;
  uint16_t sourcePort = 0;
  uint16_t destinationPort = 0;
  const size_t width = family.block == 12 ? 4 : family.block == 36 ? 16 : 0;
  if (width != 0) {
    source = in.bytes(width);
    destination = in.bytes(width);
    if (width == 16 && (shape & 0x80)) {  // an IPv4-mapped source (RFC 4291 §2.5.5.2)
      source.replace(0, 12, std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12));
    }
    sourcePort = static_cast<uint16_t>(in.byte() << 8 | in.byte());
    destinationPort = static_cast<uint16_t>(in.byte() << 8 | in.byte());
    header += source + destination;
    put16(header, sourcePort);
    put16(header, destinationPort);
  } else {
    header += in.bytes(family.block);  // UNIX paths, or nothing for UNSPEC
  }

  // TLVs (§2.2.1-§2.2.8).
  std::string vpceId;
  size_t crcAt = 0;
  const unsigned tlvs = in.byte() % 8;
  for (unsigned t = 0; t < tlvs; ++t) {
    const unsigned kind = in.byte();
    switch (kind % 6) {
      case 0: {  // a skipped type with a value from the input
        static constexpr uint8_t kSkipped[] = {0x01, 0x02, 0x04, 0x05, 0x20, 0x30, 0xE0, 0xEE};
        const std::string value = in.bytes(in.byte() % 64);
        header += static_cast<char>(kSkipped[(kind >> 3) % 8]);
        put16(header, value.size());
        header += value;
        break;
      }
      case 1: {  // the AWS VPC endpoint id, once, printable
        if (!vpceId.empty()) break;
        vpceId = "vpce-";
        const unsigned n = 1 + in.byte() % 17;
        for (unsigned i = 0; i < n; ++i) vpceId += "0123456789abcdef"[in.byte() % 16];
        header += '\xEA';
        put16(header, vpceId.size() + 1);
        header += '\x01';
        header += vpceId;
        break;
      }
      case 2:  // a CRC32C, once, filled in at the end
        if (crcAt != 0) break;
        header += '\x03';
        put16(header, 4);
        crcAt = header.size();
        header += std::string(4, '\0');
        break;
      default:  // an AWS TLV of another subtype, or an empty one: skipped
        header += '\xEA';
        put16(header, (kind & 0x40) ? 0 : 2);
        if (!(kind & 0x40)) header += "\x02z";
        break;
    }
  }
  put16At(header, lengthAt, header.size() - 16);
  if (crcAt != 0) {
    const uint32_t crc = kinesyslog::proxy::crc32c(header);
    for (int i = 0; i < 4; ++i) header[crcAt + i] = static_cast<char>(crc >> (24 - 8 * i));
  }
  const std::string stream = header + "<13>1 - host app - - - after the header";

  const ProxyHeaderParser parser = parseEveryWay(stream);
  if (parser.outcome() != ProxyOutcome::kDone || parser.headerLength() != header.size()) {
    __builtin_trap();
  }
  const auto& h = parser.header();
  if (h.version != 2 || h.awsVpcEndpointId != vpceId || h.crcVerified != (crcAt != 0)) {
    __builtin_trap();
  }
  if (proxy && width != 0) {
    if (h.useRealPeer || !sameAddress(h.sourceAddress, source) ||
        !sameAddress(h.destinationAddress, destination) || h.sourcePort != sourcePort ||
        h.destinationPort != destinationPort) {
      __builtin_trap();
    }
  } else if (!h.useRealPeer || !h.sourceAddress.empty()) {
    __builtin_trap();
  }

  // Damaged copies are refused for the reason the damage gives.
  std::string damaged = header;
  ProxyError expected = ProxyError::kNone;
  switch (damage % 4) {
    case 0:
      if (crcAt == 0) break;
      damaged[crcAt + damage / 4 % 4] ^= static_cast<char>(1 + damage / 16);
      expected = ProxyError::kV2CrcMismatch;
      break;
    case 1:
      if (header.size() == 16 + family.block) break;
      // The first TLV's length one past what is left.
      put16At(damaged, 16 + family.block + 1, header.size() - (16 + family.block + 3) + 1);
      expected = ProxyError::kV2TlvMalformed;
      break;
    case 2:
      if (!proxy || family.block == 0) break;
      put16At(damaged, lengthAt, family.block - 1);
      expected = ProxyError::kV2ShortAddress;
      break;
    default:
      break;
  }
  if (expected != ProxyError::kNone) {
    const ProxyHeaderParser refused = parseEveryWay(damaged + "<13>1 -", false);
    if (refused.outcome() != ProxyOutcome::kError || refused.error() != expected) __builtin_trap();
  }
  return 0;
}
