#include "proto/proxy/proxy_header_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kinesyslog::proxy {
namespace {

using namespace std::string_literals;

// ---- fixtures -------------------------------------------------------------------------------

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);
const std::string kSyslog = "<13>1 2024-01-01T00:00:00Z host app - - - hello\n";

std::string be16(size_t v) {
  return {static_cast<char>(v >> 8 & 0xFF), static_cast<char>(v & 0xFF)};
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

// A v2 header: signature, version/command byte, family byte, length, then `body`.
std::string v2(int versionCommand, int family, const std::string& body) {
  return kSignature + bytes({versionCommand, family}) + be16(body.size()) + body;
}
std::string v2Proxy(int family, const std::string& body) {
  return v2(0x21, family, body);
}

// TCP over IPv4 address block: 192.0.2.1:56324 -> 198.51.100.7:514.
const std::string kInet4Block = bytes({192, 0, 2, 1, 198, 51, 100, 7}) + be16(56324) + be16(514);
// TCP over IPv6: 2001:db8::1:443 -> 2001:db8::2:6514.
const std::string kInet6Block =
    bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
           0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) +
    be16(443) + be16(6514);

std::string tlv(int type, const std::string& value) {
  return bytes({type}) + be16(value.size()) + value;
}
std::string vpceTlv(const std::string& id) {
  return tlv(0xEA, "\x01"s + id);
}

// `header` ends with a CRC32C TLV whose value is zero: fill it in as a sender does (§2.2.3).
std::string withCrc(std::string header) {
  const uint32_t crc = crc32c(header);
  for (int i = 0; i < 4; ++i) {
    header[header.size() - 4 + i] = static_cast<char>(crc >> (24 - 8 * i) & 0xFF);
  }
  return header;
}
const std::string kZeroCrcTlv = tlv(0x03, std::string(4, '\0'));

struct Result {
  ProxyOutcome outcome;
  ProxyError error;
  size_t length;
  int version;
  bool useRealPeer;
  std::string source;
  uint16_t sourcePort;
  std::string destination;
  uint16_t destinationPort;
  std::string vpce;
  bool crcVerified;
  bool operator==(const Result&) const = default;
};

void PrintTo(const Result& r, std::ostream* os) {
  *os << "outcome=" << static_cast<int>(r.outcome) << " error=" << proxyErrorName(r.error)
      << " length=" << r.length << " v" << r.version << " real=" << r.useRealPeer << " " << r.source
      << ":" << r.sourcePort << " -> " << r.destination << ":" << r.destinationPort
      << " vpce=" << r.vpce << " crc=" << r.crcVerified;
}

Result resultOf(const ProxyHeaderParser& p) {
  const ProxyHeader& h = p.header();
  return {p.outcome(),       p.error(),          p.headerLength(), h.version,
          h.useRealPeer,     h.sourceAddress,    h.sourcePort,     h.destinationAddress,
          h.destinationPort, h.awsVpcEndpointId, h.crcVerified};
}

// Feeds `stream` cut at `cuts`; feed() must always agree with outcome().
Result feedPieces(std::string_view stream, const std::vector<size_t>& cuts) {
  ProxyHeaderParser parser;
  size_t from = 0;
  for (size_t cut : cuts) {
    const ProxyOutcome said = parser.feed(stream.substr(from, cut - from));
    EXPECT_EQ(said, parser.outcome());
    from = cut;
  }
  const ProxyOutcome said = parser.feed(stream.substr(from));
  EXPECT_EQ(said, parser.outcome());
  return resultOf(parser);
}

// Parses `stream` in one piece, and checks that two pieces cut at every offset and one byte at
// a time give exactly the same outcome, error, header and length.
Result parse(std::string_view stream) {
  const Result whole = feedPieces(stream, {});
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(feedPieces(stream, {cut}), whole) << "split at " << cut;
  }
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < stream.size(); ++i) everyByte.push_back(i);
  EXPECT_EQ(feedPieces(stream, everyByte), whole) << "byte by byte";
  return whole;
}

ProxyError errorOf(std::string_view stream) {
  const Result r = parse(stream);
  EXPECT_EQ(r.outcome, ProxyOutcome::kError);
  EXPECT_EQ(r.length, 0u);
  return r.error;
}

// A header followed by syslog: kDone, and headerLength() is the header alone.
Result parseDone(const std::string& header) {
  const Result r = parse(header + kSyslog);
  EXPECT_EQ(r.outcome, ProxyOutcome::kDone) << proxyErrorName(r.error);
  EXPECT_EQ(r.error, ProxyError::kNone);
  EXPECT_EQ(r.length, header.size());
  return r;
}

// ---- CRC32C ---------------------------------------------------------------------------------

TEST(Crc32c, StandardCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
  // RFC 3720 Appendix B.4 test vectors.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
}

// ---- v1 -------------------------------------------------------------------------------------

TEST(ProxyV1, Tcp4) {
  const Result r = parseDone("PROXY TCP4 192.0.2.1 198.51.100.7 56324 514\r\n");
  EXPECT_EQ(r.version, 1);
  EXPECT_FALSE(r.useRealPeer);
  EXPECT_EQ(r.source, "192.0.2.1");
  EXPECT_EQ(r.sourcePort, 56324);
  EXPECT_EQ(r.destination, "198.51.100.7");
  EXPECT_EQ(r.destinationPort, 514);
}

TEST(ProxyV1, Tcp4Extremes) {
  const Result r = parseDone("PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n");
  EXPECT_EQ(r.source, "255.255.255.255");
  EXPECT_EQ(r.sourcePort, 65535);
  EXPECT_EQ(r.destinationPort, 0);
}

TEST(ProxyV1, Tcp6WrittenAsRfc5952) {
  const Result r = parseDone("PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:db8::2 443 6514\r\n");
  EXPECT_EQ(r.version, 1);
  EXPECT_FALSE(r.useRealPeer);
  EXPECT_EQ(r.source, "2001:db8::1");
  EXPECT_EQ(r.destination, "2001:db8::2");
  EXPECT_EQ(r.sourcePort, 443);
  EXPECT_EQ(r.destinationPort, 6514);
}

TEST(ProxyV1, Tcp6V4MappedWrittenAsIpv4) {
  const Result r = parseDone("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c633:6407 1 2\r\n");
  EXPECT_EQ(r.source, "192.0.2.1");
  EXPECT_EQ(r.destination, "198.51.100.7");
}

TEST(ProxyV1, UnknownKeepsRealPeerAndIgnoresTheRest) {
  for (const std::string line :
       {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN 192.0.2.1 198.51.100.7 1 2\r\n",
        "PROXY UNKNOWN whatever the sender likes\r\n"}) {
    const Result r = parseDone(line);
    EXPECT_EQ(r.version, 1) << line;
    EXPECT_TRUE(r.useRealPeer) << line;
    EXPECT_EQ(r.source, "") << line;
  }
}

TEST(ProxyV1, LongestLineAccepted107BytesAndOneMoreRefused) {
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string worst = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(worst.size(), 107u);  // §2.1's worst case
  parseDone(worst);
  const std::string longer = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 655355\r\n";
  EXPECT_EQ(errorOf(longer), ProxyError::kV1TooLong);
  EXPECT_EQ(errorOf("PROXY UNKNOWN " + std::string(200, 'x')), ProxyError::kV1TooLong);
  // CR as byte 107, its LF as byte 108: too long, not malformed.
  EXPECT_EQ(errorOf("PROXY UNKNOWN " + std::string(92, 'x') + "\r\n"), ProxyError::kV1TooLong);
}

TEST(ProxyV1, MalformedLines) {
  for (const std::string line : {
           "PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n",        // unknown protocol
           "PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n",        // case matters
           "PROXY UNKNOWNX\r\n",                               // not the word UNKNOWN
           "PROXY TCP4\r\n",                                   // no fields
           "PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n",          // missing field
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n",      // extra field
           "PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n",       // two spaces
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n",       // trailing space
           "PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n",       // leading zero in the address
           "PROXY TCP4 192.0.2 198.51.100.7 1 2\r\n",          // three parts
           "PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n",      // part over 255
           "PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n",      // IPv6 in TCP4
           "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",         // IPv4 in TCP6
           "PROXY TCP6 2001:db8::1%eth0 2001:db8::2 1 2\r\n",  // zone id
           "PROXY TCP4 192.0.2.1 198.51.100.7 0514 2\r\n",     // leading zero in the port
           "PROXY TCP4 192.0.2.1 198.51.100.7 65536 2\r\n",    // port over 65535
           "PROXY TCP4 192.0.2.1 198.51.100.7 -1 2\r\n",       // sign
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 +2\r\n",       // sign
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n",          // bare LF
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\rX\n",       // CR without LF
           "PROXY UNKNOWN\n",                                  // bare LF
       }) {
    EXPECT_EQ(errorOf(line + kSyslog), ProxyError::kV1Malformed) << line;
  }
  EXPECT_EQ(errorOf("PROXY TCP4 192.0.2.1\0 198.51.100.7 1 2\r\n"s), ProxyError::kV1Malformed);
}

TEST(ProxyV1, WrongProtocolWordRefusedBeforeTheLineEnds) {
  ProxyHeaderParser parser;
  EXPECT_EQ(parser.feed("PROXY TCP4 192.0"), ProxyOutcome::kNeedMore);
  ProxyHeaderParser other;
  EXPECT_EQ(other.feed("PROXY HTTP"), ProxyOutcome::kError);
  EXPECT_EQ(other.error(), ProxyError::kV1Malformed);
}

// ---- v2 -------------------------------------------------------------------------------------

TEST(ProxyV2, ProxyInet) {
  const Result r = parseDone(v2Proxy(0x11, kInet4Block));
  EXPECT_EQ(r.version, 2);
  EXPECT_FALSE(r.useRealPeer);
  EXPECT_EQ(r.source, "192.0.2.1");
  EXPECT_EQ(r.sourcePort, 56324);
  EXPECT_EQ(r.destination, "198.51.100.7");
  EXPECT_EQ(r.destinationPort, 514);
  EXPECT_FALSE(r.crcVerified);
  EXPECT_EQ(r.vpce, "");
}

TEST(ProxyV2, ProxyInetDatagramUsesTheAddressToo) {
  EXPECT_EQ(parseDone(v2Proxy(0x12, kInet4Block)).source, "192.0.2.1");
}

TEST(ProxyV2, ProxyInet6) {
  const Result r = parseDone(v2Proxy(0x21, kInet6Block));
  EXPECT_FALSE(r.useRealPeer);
  EXPECT_EQ(r.source, "2001:db8::1");
  EXPECT_EQ(r.sourcePort, 443);
  EXPECT_EQ(r.destination, "2001:db8::2");
  EXPECT_EQ(r.destinationPort, 6514);
}

TEST(ProxyV2, ProxyInet6V4MappedWrittenAsIpv4) {
  const std::string block = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9,  //
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0,   0, 0,   1}) +
                            be16(1) + be16(2);
  const Result r = parseDone(v2Proxy(0x21, block));
  EXPECT_EQ(r.source, "203.0.113.9");
  EXPECT_EQ(r.destination, "::1");
}

TEST(ProxyV2, UnixKeepsRealPeer) {
  std::string block(216, '\0');
  block.replace(0, 13, "/run/app.sock");
  for (int family : {0x31, 0x32}) {
    const Result r = parseDone(v2Proxy(family, block));
    EXPECT_EQ(r.version, 2);
    EXPECT_TRUE(r.useRealPeer);
    EXPECT_EQ(r.source, "");
  }
}

TEST(ProxyV2, LocalKeepsRealPeer) {
  // Health checks: no address at all (AWS NLB, haproxy).
  Result r = parseDone(v2(0x20, 0x00, ""));
  EXPECT_EQ(r.version, 2);
  EXPECT_TRUE(r.useRealPeer);
  // §2.2: the block is still skipped by its length, whatever it holds.
  r = parseDone(v2(0x20, 0x11, kInet4Block));
  EXPECT_TRUE(r.useRealPeer);
  EXPECT_EQ(r.source, "");
  // "the family which is ignored": even one that PROXY would refuse.
  EXPECT_TRUE(parseDone(v2(0x20, 0xFF, "junk")).useRealPeer);
}

TEST(ProxyV2, UnspecifiedFamilyKeepsRealPeer) {
  for (int family : {0x00, 0x01, 0x02}) {
    EXPECT_TRUE(parseDone(v2Proxy(family, "")).useRealPeer) << family;
  }
  // A real family with the UNSPEC transport: the layout is not defined, so nothing is used.
  for (int family : {0x10, 0x20, 0x30}) {
    EXPECT_TRUE(parseDone(v2Proxy(family, kInet4Block)).useRealPeer) << family;
  }
}

TEST(ProxyV2, LongestHeaderAcceptedAndOneMoreRefusedOnTheFixedPart) {
  const std::string noop = tlv(0x04, std::string(ProxyHeaderParser::kMaxV2Length - 12 - 3, 'x'));
  parseDone(v2Proxy(0x11, kInet4Block + noop));
  const std::string over = v2Proxy(0x11, kInet4Block + noop + "x");
  EXPECT_EQ(errorOf(over), ProxyError::kV2TooLong);
  // Refused as soon as the length is read, without waiting for the body.
  ProxyHeaderParser parser;
  EXPECT_EQ(parser.feed(std::string_view(over).substr(0, 16)), ProxyOutcome::kError);
  EXPECT_EQ(parser.error(), ProxyError::kV2TooLong);
}

// ---- TLVs -----------------------------------------------------------------------------------

TEST(ProxyV2Tlv, AwsVpcEndpointIdKept) {
  const Result r = parseDone(v2Proxy(0x11, kInet4Block + vpceTlv("vpce-08d2bf15fac5001c9")));
  EXPECT_EQ(r.vpce, "vpce-08d2bf15fac5001c9");
  EXPECT_EQ(r.source, "192.0.2.1");
}

TEST(ProxyV2Tlv, AwsVpcEndpointIdBounded) {
  const size_t cap = ProxyHeaderParser::kMaxAwsVpcEndpointIdLength;
  EXPECT_EQ(parseDone(v2Proxy(0x11, kInet4Block + vpceTlv(std::string(cap, 'a')))).vpce.size(),
            cap);
  EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block + vpceTlv(std::string(cap + 1, 'a')))),
            ProxyError::kV2TlvMalformed);
  EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block + vpceTlv("vpce-\n1"))), ProxyError::kV2TlvMalformed);
  EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block + vpceTlv("vpce-1") + vpceTlv("vpce-2"))),
            ProxyError::kV2TlvMalformed);
}

TEST(ProxyV2Tlv, OtherAwsSubtypesAndEmptyAwsTlvSkipped) {
  EXPECT_EQ(parseDone(v2Proxy(0x11, kInet4Block + tlv(0xEA, "\x02zzz") + tlv(0xEA, ""))).vpce, "");
}

TEST(ProxyV2Tlv, UnknownTypesSkipped) {
  const std::string tlvs = tlv(0x01, "syslog") + tlv(0x02, "relay.example") + tlv(0x04, "") +
                           tlv(0x05, std::string(128, 'u')) +
                           tlv(0x20, bytes({0x01, 0, 0, 0, 0}) + tlv(0x21, "TLSv1.3")) +
                           tlv(0x30, "netns") + tlv(0xF0, "experiment") + tlv(0xFF, "future");
  const Result r = parseDone(v2Proxy(0x21, kInet6Block + tlvs));
  EXPECT_EQ(r.source, "2001:db8::1");
  EXPECT_FALSE(r.crcVerified);
}

TEST(ProxyV2Tlv, CrcGood) {
  const std::string header = withCrc(v2Proxy(0x11, kInet4Block + vpceTlv("vpce-1") + kZeroCrcTlv));
  const Result r = parseDone(header);
  EXPECT_TRUE(r.crcVerified);
  EXPECT_EQ(r.vpce, "vpce-1");
  EXPECT_EQ(r.source, "192.0.2.1");
  // The checksum covers the whole header with its own field zeroed, wherever the TLV sits.
  EXPECT_TRUE(parseDone(withCrc(v2Proxy(0x21, kInet6Block + kZeroCrcTlv))).crcVerified);
  EXPECT_TRUE(parseDone(withCrc(v2(0x20, 0x00, kZeroCrcTlv))).crcVerified);
}

TEST(ProxyV2Tlv, CrcBad) {
  std::string header = withCrc(v2Proxy(0x11, kInet4Block + kZeroCrcTlv));
  header[header.size() - 1] ^= 1;
  EXPECT_EQ(errorOf(header + kSyslog), ProxyError::kV2CrcMismatch);
  // A changed address under a checksum computed for the original.
  std::string changed = withCrc(v2Proxy(0x11, kInet4Block + kZeroCrcTlv));
  changed[16] = 10;
  EXPECT_EQ(errorOf(changed), ProxyError::kV2CrcMismatch);
  // Sent as zero (a sender that forgot to fill it in).
  EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block + kZeroCrcTlv)), ProxyError::kV2CrcMismatch);
}

TEST(ProxyV2Tlv, Malformed) {
  for (const std::string& tlvs : {
           tlv(0x04, "abc").substr(0, 5),  // value runs past the header's end
           tlv(0x04, "") + "\x04"s,        // one byte: no room for a length
           tlv(0x04, "") + "\x04\x00"s,    // two bytes
           tlv(0x03, "abc"),               // CRC32C of 3 bytes
           tlv(0x03, "abcde"),             // CRC32C of 5 bytes
           kZeroCrcTlv + kZeroCrcTlv,      // two checksums
           "\x04\xff\xff"s,                // a 65535-byte value
       }) {
    EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block + tlvs) + kSyslog), ProxyError::kV2TlvMalformed);
  }
}

// ---- v2 errors ------------------------------------------------------------------------------

TEST(ProxyV2Errors, EachKind) {
  EXPECT_EQ(errorOf(v2(0x11, 0x11, kInet4Block)), ProxyError::kV2BadVersion);
  EXPECT_EQ(errorOf(v2(0x31, 0x11, kInet4Block)), ProxyError::kV2BadVersion);
  EXPECT_EQ(errorOf(v2(0x22, 0x11, kInet4Block)), ProxyError::kV2BadCommand);
  EXPECT_EQ(errorOf(v2(0x2F, 0x11, kInet4Block)), ProxyError::kV2BadCommand);
  for (int family : {0x03, 0x13, 0x41, 0xF1, 0xFF}) {
    EXPECT_EQ(errorOf(v2Proxy(family, kInet4Block)), ProxyError::kV2BadFamily) << family;
  }
  EXPECT_EQ(errorOf(v2Proxy(0x11, kInet4Block.substr(0, 11))), ProxyError::kV2ShortAddress);
  EXPECT_EQ(errorOf(v2Proxy(0x21, kInet4Block)), ProxyError::kV2ShortAddress);
  EXPECT_EQ(errorOf(v2Proxy(0x31, std::string(215, '\0'))), ProxyError::kV2ShortAddress);
  EXPECT_EQ(errorOf(v2Proxy(0x11, std::string(4097, '\0'))), ProxyError::kV2TooLong);
}

TEST(ProxyV2Errors, RefusedOnTheByteThatGivesItAway) {
  // The version/command byte is the 13th: no need to wait for the length.
  ProxyHeaderParser badVersion;
  EXPECT_EQ(badVersion.feed(kSignature + "\x11"), ProxyOutcome::kError);
  EXPECT_EQ(badVersion.error(), ProxyError::kV2BadVersion);
  ProxyHeaderParser badFamily;
  EXPECT_EQ(badFamily.feed(kSignature + "\x21\x44"), ProxyOutcome::kError);
  EXPECT_EQ(badFamily.error(), ProxyError::kV2BadFamily);
  ProxyHeaderParser shortAddress;
  EXPECT_EQ(shortAddress.feed(kSignature + "\x21\x11" + be16(4)), ProxyOutcome::kError);
  EXPECT_EQ(shortAddress.error(), ProxyError::kV2ShortAddress);
}

// ---- neither --------------------------------------------------------------------------------

TEST(ProxyNotProxy, SyslogTlsAndOtherFirstBytes) {
  EXPECT_EQ(errorOf(kSyslog), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("GET / HTTP/1.1\r\n"), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n"), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("PROXY\r\n"), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("PROXYTCP4\r\n"), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("\r\n\r\n\0\r\nQUIX\n\x21\x11"s), ProxyError::kNotProxy);
  EXPECT_EQ(errorOf("\r\nhello\r\n"), ProxyError::kNotProxy);
}

TEST(ProxyNotProxy, RefusedOnTheFirstByte) {
  for (const std::string& first : {"<"s, "1"s, "\x16"s, "G"s, "p"s, "\n"s, "\0"s}) {
    ProxyHeaderParser parser;
    EXPECT_EQ(parser.feed(first), ProxyOutcome::kError) << int(first[0]);
    EXPECT_EQ(parser.error(), ProxyError::kNotProxy);
  }
  ProxyHeaderParser afterP;
  EXPECT_EQ(afterP.feed("P"), ProxyOutcome::kNeedMore);
  EXPECT_EQ(afterP.feed("U"), ProxyOutcome::kError);
}

// ---- incremental contract ------------------------------------------------------------------

TEST(ProxyIncremental, PrefixesNeedMore) {
  const std::string headers[] = {
      "PROXY TCP4 192.0.2.1 198.51.100.7 56324 514\r\n",
      withCrc(v2Proxy(0x11, kInet4Block + vpceTlv("vpce-1") + kZeroCrcTlv)),
  };
  for (const std::string& header : headers) {
    for (size_t n = 0; n < header.size(); ++n) {
      ProxyHeaderParser parser;
      EXPECT_EQ(parser.feed(std::string_view(header).substr(0, n)), ProxyOutcome::kNeedMore) << n;
      EXPECT_EQ(parser.error(), ProxyError::kNone);
    }
  }
}

TEST(ProxyIncremental, OutcomeIsFinal) {
  ProxyHeaderParser done;
  const std::string header = v2Proxy(0x11, kInet4Block);
  EXPECT_EQ(done.feed(header), ProxyOutcome::kDone);
  EXPECT_EQ(done.feed("PROXY UNKNOWN\r\n"), ProxyOutcome::kDone);
  EXPECT_EQ(done.headerLength(), header.size());
  EXPECT_EQ(done.header().sourceAddress, "192.0.2.1");

  ProxyHeaderParser failed;
  EXPECT_EQ(failed.feed("<13>"), ProxyOutcome::kError);
  EXPECT_EQ(failed.feed(header), ProxyOutcome::kError);
  EXPECT_EQ(failed.error(), ProxyError::kNotProxy);
}

TEST(ProxyIncremental, TrailingBytesNotConsumed) {
  // What follows the header may look like another header, or like the start of TLS.
  const std::string v1 = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 514\r\n";
  EXPECT_EQ(parse(v1 + v1).length, v1.size());
  EXPECT_EQ(parse(v1 + "\n\r\x16\x03\x01").length, v1.size());
  const std::string local = v2(0x20, 0x00, "");
  EXPECT_EQ(parse(local + "PROXY UNKNOWN\r\n").length, 16u);
  EXPECT_EQ(parse(local + kSignature).length, 16u);
}

TEST(ProxyIncremental, EmptyFeedChangesNothing) {
  ProxyHeaderParser parser;
  EXPECT_EQ(parser.feed(""), ProxyOutcome::kNeedMore);
  EXPECT_EQ(parser.feed("PROXY UNKNOWN\r\n"), ProxyOutcome::kDone);
  EXPECT_EQ(parser.headerLength(), 15u);
}

TEST(ProxyErrorNames, EveryKindNamed) {
  for (int e = 0; e <= static_cast<int>(ProxyError::kV2TooLong); ++e) {
    EXPECT_NE(proxyErrorName(static_cast<ProxyError>(e)), "unknown PROXY error") << e;
  }
}

}  // namespace
}  // namespace kinesyslog::proxy
