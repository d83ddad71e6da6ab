#include "proto/proxy/proxy_header_parser.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace kinesyslog::proxy {
namespace {

// PROXY v1 §2.1: "PROXY" and exactly one space.
constexpr std::string_view kV1Prefix = "PROXY ";
// PROXY v2 §2.2: the 12-byte signature (it holds a NUL: never a C string).
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Signature, version/command, family/transport and the 2-byte length (§2.2 proxy_hdr_v2).
constexpr size_t kV2FixedLength = 16;

constexpr uint8_t kCommandLocal = 0x0;
constexpr uint8_t kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x0;
constexpr uint8_t kFamilyInet = 0x1;
constexpr uint8_t kFamilyInet6 = 0x2;
constexpr uint8_t kFamilyUnix = 0x3;
constexpr uint8_t kTransportUnspec = 0x0;
constexpr uint8_t kTransportDgram = 0x2;

constexpr uint8_t kTlvCrc32c = 0x03;         // PP2_TYPE_CRC32C (§2.2.3)
constexpr uint8_t kTlvAws = 0xEA;            // AWS, in the custom range 0xE0..0xEF (§2.2.8)
constexpr uint8_t kAwsSubtypeVpceId = 0x01;  // PP2_SUBTYPE_AWS_VPCE_ID

constexpr std::array<uint32_t, 256> kCrc32cTable = [] {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}();

uint8_t byteAt(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

uint16_t bigEndian16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(byteAt(s, at) << 8 | byteAt(s, at + 1));
}

uint32_t bigEndian32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(byteAt(s, at)) << 24 |
         static_cast<uint32_t>(byteAt(s, at + 1)) << 16 |
         static_cast<uint32_t>(byteAt(s, at + 2)) << 8 | static_cast<uint32_t>(byteAt(s, at + 3));
}

// True when `seen` is the start of `whole` (or all of it and more).
bool startsLike(std::string_view seen, std::string_view whole) {
  const size_t n = std::min(seen.size(), whole.size());
  return seen.substr(0, n) == whole.substr(0, n);
}

// §2.2: family 0..3 (UNSPEC, INET, INET6, UNIX) in the high nibble, transport 0..2 (UNSPEC,
// STREAM, DGRAM) in the low one; "other values ... must be rejected as invalid by receivers".
bool validFamily(uint8_t familyByte) {
  return (familyByte >> 4) <= kFamilyUnix && (familyByte & 0x0F) <= kTransportDgram;
}

// What addressBlockLength() answers when the layout is not defined.
constexpr size_t kNoLayout = SIZE_MAX;

// The size of the address block for a family byte, or kNoLayout when the layout is not defined:
// an invalid byte, or a real family with the UNSPEC transport (whether ports follow is not
// said).
size_t addressBlockLength(uint8_t familyByte) {
  if (!validFamily(familyByte)) return kNoLayout;
  const uint8_t family = familyByte >> 4;
  if (family == kFamilyUnspec) return 0;
  if ((familyByte & 0x0F) == kTransportUnspec) return kNoLayout;
  switch (family) {
    case kFamilyInet:
      return 2 * 4 + 2 * 2;
    case kFamilyInet6:
      return 2 * 16 + 2 * 2;
    default:
      return 2 * 108;  // AF_UNIX: two sun_path
  }
}

// Canonical text (docs/design.md "Inputs"): RFC 5952 for IPv6 (glibc's inet_ntop writes it), and an
// IPv4-mapped IPv6 address as the IPv4 address it carries.
std::string addressText(int family, const unsigned char* bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) {
    in6_addr address{};
    std::copy(bytes, bytes + 16, address.s6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&address)) {
      ::inet_ntop(AF_INET, &address.s6_addr[12], text, sizeof text);
    } else {
      ::inet_ntop(AF_INET6, &address, text, sizeof text);
    }
  } else {
    ::inet_ntop(AF_INET, bytes, text, sizeof text);
  }
  return text;
}

// §2.1: an address "in its canonical format" of the stated family. inet_pton is strict enough:
// IPv4 exactly four decimal parts without leading zeroes; IPv6 128 bits, no zone id. The
// character check keeps a NUL inside the field from ending the C string early.
std::optional<std::string> parseV1Address(std::string_view field, int family) {
  if (field.empty() || field.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  for (char c : field) {
    const bool ok =
        (c >= '0' && c <= '9') || c == '.' ||
        (family == AF_INET6 && (c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
    if (!ok) return std::nullopt;
  }
  const std::string text(field);
  unsigned char bytes[16] = {};
  if (::inet_pton(family, text.c_str(), bytes) != 1) return std::nullopt;
  return addressText(family, bytes);
}

// §2.1: a decimal port in [0..65535] without leading zeroes.
std::optional<uint16_t> parseV1Port(std::string_view field) {
  if (field.empty() || field.size() > 5 || (field.size() > 1 && field[0] == '0')) {
    return std::nullopt;
  }
  uint32_t value = 0;
  for (char c : field) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// The next space-separated field of `line` from `at` (which moves past it and its one space).
std::string_view nextField(std::string_view line, size_t& at) {
  const size_t end = std::min(line.find(' ', at), line.size());
  std::string_view field = line.substr(at, end - at);
  at = end == line.size() ? end : end + 1;
  return field;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = kCrc32cTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string_view proxyErrorName(ProxyError error) {
  switch (error) {
    case ProxyError::kNone:
      return "no error";
    case ProxyError::kNotProxy:
      return "not a PROXY protocol header";
    case ProxyError::kV1Malformed:
      return "malformed PROXY v1 line";
    case ProxyError::kV1TooLong:
      return "PROXY v1 line without CRLF in 107 bytes";
    case ProxyError::kV2BadVersion:
      return "PROXY v2 signature with a version other than 2";
    case ProxyError::kV2BadCommand:
      return "PROXY v2 command neither LOCAL nor PROXY";
    case ProxyError::kV2BadFamily:
      return "PROXY v2 unknown address family or transport";
    case ProxyError::kV2ShortAddress:
      return "PROXY v2 length too short for the address family";
    case ProxyError::kV2TlvMalformed:
      return "PROXY v2 TLV malformed or over its bound";
    case ProxyError::kV2CrcMismatch:
      return "PROXY v2 CRC32C mismatch";
    case ProxyError::kV2TooLong:
      return "PROXY v2 header over 4096 bytes";
  }
  return "unknown PROXY error";
}

ProxyOutcome ProxyHeaderParser::feed(std::string_view bytes) {
  // Only as many bytes as the header can still need are taken, and each piece is examined at
  // once, so a stream that cannot be a header is refused on its first bytes (§2.1: "abort the
  // connection as soon as possible") and bytes past the header are never looked at.
  while (outcome_ == ProxyOutcome::kNeedMore && !bytes.empty()) {
    const size_t take = std::min(bytesWanted(), bytes.size());
    buffered_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    examine();
  }
  return outcome_;
}

// Invariant: at least 1 while the outcome is kNeedMore (examine() decides at every cap).
size_t ProxyHeaderParser::bytesWanted() const {
  if (buffered_.empty()) return 1;
  if (buffered_[0] == kV1Prefix[0]) return kMaxV1Length - buffered_.size();
  if (buffered_.size() < kV2FixedLength) return kV2FixedLength - buffered_.size();
  return kV2FixedLength + bigEndian16(buffered_, 14) - buffered_.size();
}

void ProxyHeaderParser::examine() {
  // The first byte tells the versions apart: 'P' (v1) or CR (v2, §2.2 "Identifying the
  // protocol version"). Syslog ('<', a digit) and a TLS ClientHello (0x16) stop here.
  if (buffered_[0] == kV1Prefix[0]) {
    examineV1();
  } else if (buffered_[0] == kV2Signature[0]) {
    examineV2();
  } else {
    fail(ProxyError::kNotProxy);
  }
}

void ProxyHeaderParser::examineV1() {
  const std::string_view seen = buffered_;
  if (!startsLike(seen, kV1Prefix)) return fail(ProxyError::kNotProxy);
  if (seen.size() <= kV1Prefix.size()) return;
  // §2.1 allows only these protocol words; anything else is refused without waiting for CRLF.
  const std::string_view protocol = seen.substr(kV1Prefix.size());
  if (!startsLike(protocol, "TCP4 ") && !startsLike(protocol, "TCP6 ") &&
      !startsLike(protocol, "UNKNOWN")) {
    return fail(ProxyError::kV1Malformed);
  }
  // §2.1: the line ends at CRLF; "the receiver must not tolerate a single CR or LF character to
  // end the line", so a bare LF, or a CR followed by anything else, is refused at once.
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] == '\n') return fail(ProxyError::kV1Malformed);
    if (seen[i] != '\r') continue;
    if (i + 1 == seen.size()) break;  // the LF may be in the next read
    if (seen[i + 1] != '\n') return fail(ProxyError::kV1Malformed);
    parseV1Line(seen.substr(0, i));
    if (outcome_ == ProxyOutcome::kNeedMore) finish(i + 2);
    return;
  }
  if (seen.size() >= kMaxV1Length) fail(ProxyError::kV1TooLong);
}

void ProxyHeaderParser::parseV1Line(std::string_view line) {
  size_t at = kV1Prefix.size();
  const std::string_view protocol = nextField(line, at);
  header_ = ProxyHeader{};
  header_.version = 1;
  if (protocol == "UNKNOWN") {
    // §2.1: "the receiver must ignore anything presented before the CRLF" and use the real
    // connection's addresses.
    header_.useRealPeer = true;
    return;
  }
  const int family = protocol == "TCP4" ? AF_INET : protocol == "TCP6" ? AF_INET6 : AF_UNSPEC;
  if (family == AF_UNSPEC) return fail(ProxyError::kV1Malformed);
  // Exactly one space between fields: an empty field (two spaces, a trailing space) or a
  // missing or extra field is malformed.
  const std::string_view fields[4] = {nextField(line, at), nextField(line, at), nextField(line, at),
                                      nextField(line, at)};
  if (at != line.size() || line.back() == ' ') return fail(ProxyError::kV1Malformed);
  auto source = parseV1Address(fields[0], family);
  auto destination = parseV1Address(fields[1], family);
  auto sourcePort = parseV1Port(fields[2]);
  auto destinationPort = parseV1Port(fields[3]);
  if (!source || !destination || !sourcePort || !destinationPort) {
    return fail(ProxyError::kV1Malformed);
  }
  header_.useRealPeer = false;
  header_.sourceAddress = std::move(*source);
  header_.destinationAddress = std::move(*destination);
  header_.sourcePort = *sourcePort;
  header_.destinationPort = *destinationPort;
}

void ProxyHeaderParser::examineV2() {
  const std::string_view seen = buffered_;
  if (!startsLike(seen, kV2Signature)) return fail(ProxyError::kNotProxy);
  if (seen.size() <= kV2Signature.size()) return;
  // §2.2: the version nibble "must always be sent as \x2 and the receiver must only accept
  // this value"; commands other than LOCAL and PROXY "must drop" the connection.
  const uint8_t versionCommand = byteAt(seen, 12);
  if (versionCommand >> 4 != 2) return fail(ProxyError::kV2BadVersion);
  const uint8_t command = versionCommand & 0x0F;
  if (command != kCommandLocal && command != kCommandProxy) {
    return fail(ProxyError::kV2BadCommand);
  }
  if (seen.size() < 14) return;
  // For LOCAL "the family ... is ignored" (§2.2), so only PROXY needs a valid one.
  const uint8_t family = byteAt(seen, 13);
  if (command == kCommandProxy && !validFamily(family)) return fail(ProxyError::kV2BadFamily);
  if (seen.size() < kV2FixedLength) return;
  const size_t length = bigEndian16(seen, 14);
  if (length > kMaxV2Length) return fail(ProxyError::kV2TooLong);
  if (command == kCommandProxy) {
    const size_t block = addressBlockLength(family);
    if (block != kNoLayout && length < block) return fail(ProxyError::kV2ShortAddress);
  }
  if (seen.size() < kV2FixedLength + length) return;
  parseV2(command, family, length);
}

void ProxyHeaderParser::parseV2(uint8_t command, uint8_t familyByte, size_t length) {
  const std::string_view seen = buffered_;
  const size_t end = kV2FixedLength + length;
  const size_t block = addressBlockLength(familyByte);
  header_ = ProxyHeader{};
  header_.version = 2;
  header_.useRealPeer = true;
  const uint8_t family = familyByte >> 4;
  if (command == kCommandProxy && block != kNoLayout &&
      (family == kFamilyInet || family == kFamilyInet6)) {
    // §2.2 proxy_addr: source address, destination address, source port, destination port.
    const auto* addresses = reinterpret_cast<const unsigned char*>(seen.data()) + kV2FixedLength;
    const size_t width = family == kFamilyInet ? 4 : 16;
    const int af = family == kFamilyInet ? AF_INET : AF_INET6;
    header_.useRealPeer = false;
    header_.sourceAddress = addressText(af, addresses);
    header_.destinationAddress = addressText(af, addresses + width);
    header_.sourcePort = bigEndian16(seen, kV2FixedLength + 2 * width);
    header_.destinationPort = bigEndian16(seen, kV2FixedLength + 2 * width + 2);
  }
  // LOCAL, AF_UNSPEC and AF_UNIX keep the real peer (docs/design.md "Inputs"). TLVs follow the
  // address block when its size is known and the length covers it; otherwise (LOCAL with an odd
  // family, a real family with the UNSPEC transport) the rest is skipped, as §2.2 lets a receiver
  // do: "Receivers MUST always consider this field to skip the appropriate number of bytes".
  if (block != kNoLayout && length >= block && !parseV2Tlvs(kV2FixedLength + block, end)) return;
  finish(end);
}

bool ProxyHeaderParser::parseV2Tlvs(size_t from, size_t to) {
  const std::string_view seen = std::string_view(buffered_).substr(0, to);
  std::optional<size_t> crcAt;
  bool sawVpceId = false;
  size_t at = from;
  while (at < to) {
    // §2.2 pp2_tlv: type, length_hi, length_lo, value. Every step is bounds-checked against the
    // header's end: a TLV may not run past it, nor leave a partial TLV header.
    if (to - at < 3) {
      fail(ProxyError::kV2TlvMalformed);
      return false;
    }
    const uint8_t type = byteAt(seen, at);
    const size_t valueLength = bigEndian16(seen, at + 1);
    at += 3;
    if (valueLength > to - at) {
      fail(ProxyError::kV2TlvMalformed);
      return false;
    }
    const std::string_view value = seen.substr(at, valueLength);
    if (type == kTlvCrc32c) {
      // A 32-bit checksum; two of them would leave it unclear which one vouches for the header.
      if (valueLength != 4 || crcAt) {
        fail(ProxyError::kV2TlvMalformed);
        return false;
      }
      crcAt = at;
    } else if (type == kTlvAws && !value.empty() && byteAt(value, 0) == kAwsSubtypeVpceId) {
      // The endpoint id goes into our logs: bounded and printable ASCII only.
      const std::string_view id = value.substr(1);
      const bool printable = std::all_of(id.begin(), id.end(), [](char c) {
        return static_cast<uint8_t>(c) > 0x20 && static_cast<uint8_t>(c) < 0x7F;
      });
      if (sawVpceId || id.size() > kMaxAwsVpcEndpointIdLength || !printable) {
        fail(ProxyError::kV2TlvMalformed);
        return false;
      }
      sawVpceId = true;
      header_.awsVpcEndpointId = std::string(id);
    }
    // Every other type (ALPN, authority, NOOP, unique id, SSL, netns, custom) is skipped.
    at += valueLength;
  }
  if (crcAt) {
    // §2.2.3: checksum of the whole header with the checksum field zeroed.
    std::string zeroed(seen);
    std::fill_n(zeroed.begin() + static_cast<std::ptrdiff_t>(*crcAt), 4, '\0');
    if (crc32c(zeroed) != bigEndian32(seen, *crcAt)) {
      fail(ProxyError::kV2CrcMismatch);
      return false;
    }
    header_.crcVerified = true;
  }
  return true;
}

void ProxyHeaderParser::finish(size_t headerLength) {
  outcome_ = ProxyOutcome::kDone;
  headerLength_ = headerLength;
  // The header is parsed: its bytes are no longer needed.
  std::string().swap(buffered_);
}

void ProxyHeaderParser::fail(ProxyError error) {
  outcome_ = ProxyOutcome::kError;
  error_ = error;
  header_ = ProxyHeader{};
  headerLength_ = 0;
  std::string().swap(buffered_);
}

}  // namespace kinesyslog::proxy
