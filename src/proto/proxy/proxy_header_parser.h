#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesyslog::proxy {

// What the PROXY header parser says after each feed() (docs/contributing.md: explicit outcomes,
// after Envoy's ReadOrParseState).
enum class [[nodiscard]] ProxyOutcome : uint8_t{
    kNeedMore,  // no complete header yet; feed more bytes
    kDone,      // header complete: header() is valid, headerLength() bytes of the stream were it
    kError,     // not a PROXY header, malformed, or over a bound: close the connection
};

// Why a header was refused; each has a counter and a problem-log line in the caller.
enum class ProxyError : uint8_t {
  kNone,
  kNotProxy,        // the first bytes are neither the v1 "PROXY " nor the v2 signature
  kV1Malformed,     // v1 line does not follow the spec (§2.1): fields, addresses, ports
  kV1TooLong,       // v1 line without CRLF within 107 bytes (§2.1)
  kV2BadVersion,    // v2 version nibble is not 2 (§2.2)
  kV2BadCommand,    // v2 command is neither LOCAL nor PROXY
  kV2BadFamily,     // unknown address family / transport byte
  kV2ShortAddress,  // the length is too small for the family's address block
  kV2TlvMalformed,  // a TLV runs past the header's end, or a bounded TLV is too long
  kV2CrcMismatch,   // PP2_TYPE_CRC32C present and wrong (§2.2.3)
  kV2TooLong,       // the header's length exceeds the parser's cap
};

std::string_view proxyErrorName(ProxyError error);

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) as RFC 4960 Appendix B computes it; the
// checksum of PP2_TYPE_CRC32C (PROXY v2 §2.2.3). crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::string_view bytes);

// The parsed header. When `useRealPeer` is true (v2 LOCAL, v1 UNKNOWN, AF_UNSPEC, AF_UNIX), the
// caller keeps the connection's real peer address (PROXY v2 §2.2: LOCAL "must ignore" the
// address block; docs/design.md "Inputs").
struct ProxyHeader {
  int version = 0;  // 1 or 2
  bool useRealPeer = true;
  std::string sourceAddress;  // canonical text (RFC 5952; IPv4-mapped IPv6 as IPv4); "" if none
  uint16_t sourcePort = 0;
  std::string destinationAddress;
  uint16_t destinationPort = 0;
  std::string awsVpcEndpointId;  // TLV 0xEA subtype 0x01 (AWS PrivateLink), "" if absent
  bool crcVerified = false;      // a PP2_TYPE_CRC32C TLV was present and matched
};

// PROXY protocol v1 and v2 header parser (haproxy's proxy-protocol.txt). Pure and incremental:
// fed the first bytes of a connection in any split, it answers kNeedMore until the header is
// complete, then kDone (or kError). It never consumes bytes past the header: headerLength()
// tells the caller where the stream proper (syslog, GELF or a TLS ClientHello) starts, so the
// caller can read the header with MSG_PEEK and then consume exactly that many bytes.
// No I/O, no clock (the caller enforces the header timeout), no allocation beyond the cap.
class ProxyHeaderParser {
 public:
  // v1 lines are at most 107 bytes (§2.1); v2 headers at most 16 + kMaxV2Length.
  static constexpr size_t kMaxV1Length = 107;
  static constexpr size_t kMaxV2Length = 4096;
  // AWS PrivateLink endpoint ids are "vpce-" and 17 hex digits; a longer value in TLV 0xEA
  // is refused (kV2TlvMalformed) rather than carried into our logs.
  static constexpr size_t kMaxAwsVpcEndpointIdLength = 64;

  // Feeds the next bytes of the connection (those after everything fed before). Bytes past the
  // end of the header are ignored (not consumed). After kDone or kError, further calls return
  // the same outcome.
  [[nodiscard]] ProxyOutcome feed(std::string_view bytes);

  ProxyOutcome outcome() const { return outcome_; }
  ProxyError error() const { return error_; }
  // Valid after kDone.
  const ProxyHeader& header() const { return header_; }
  // Valid after kDone: the header's length on the wire.
  size_t headerLength() const { return headerLength_; }

 private:
  size_t bytesWanted() const;
  void examine();
  void examineV1();
  void examineV2();
  void parseV1Line(std::string_view line);
  void parseV2(uint8_t command, uint8_t familyByte, size_t length);
  [[nodiscard]] bool parseV2Tlvs(size_t from, size_t to);
  void finish(size_t headerLength);
  void fail(ProxyError error);

  ProxyOutcome outcome_ = ProxyOutcome::kNeedMore;
  ProxyError error_ = ProxyError::kNone;
  ProxyHeader header_;
  size_t headerLength_ = 0;
  std::string buffered_;  // bytes of the header seen so far (bounded by the caps above)
};

}  // namespace kinesyslog::proxy
