// Fuzz target for the PROXY protocol v1/v2 header parser.
// Input layout: byte 0 chooses where the stream is split in two, the rest is the first bytes of
// a connection. The one-shot feed, the split feed and a one-byte-at-a-time feed must agree on
// outcome, error, header and length; headerLength() never exceeds the bytes fed; kDone means
// version 1 or 2 with no error, a usable source address unless the real peer is kept, and the
// same answer from the header's own bytes alone (what follows it is never looked at); kError
// always names an error; kNeedMore only while the stream is shorter than the largest header.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "proto/proxy/proxy_header_parser.h"
#include "split_feeds.h"

namespace {

using kinesyslog::fuzz::feedChecked;
using kinesyslog::fuzz::feedWholeSplitAndByteByByte;
using kinesyslog::proxy::ProxyError;
using kinesyslog::proxy::ProxyHeaderParser;
using kinesyslog::proxy::ProxyOutcome;

auto fields(const ProxyHeaderParser& p) {
  const auto& h = p.header();
  return std::make_tuple(p.outcome(), p.error(), p.headerLength(), h.version, h.useRealPeer,
                         h.sourceAddress, h.sourcePort, h.destinationAddress, h.destinationPort,
                         h.awsVpcEndpointId, h.crcVerified);
}

bool isAddress(const std::string& text) {
  unsigned char bytes[16];
  return ::inet_pton(AF_INET, text.c_str(), bytes) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), bytes) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = stream.size() * data[0] / 255;

  ProxyHeaderParser whole;
  feedWholeSplitAndByteByByte(whole, stream, split, fields);

  if (whole.headerLength() > stream.size()) __builtin_trap();
  const auto& header = whole.header();
  switch (whole.outcome()) {
    case ProxyOutcome::kDone: {
      if (header.version != 1 && header.version != 2) __builtin_trap();
      if (whole.error() != ProxyError::kNone || whole.headerLength() == 0) __builtin_trap();
      if (!header.useRealPeer &&
          (!isAddress(header.sourceAddress) || !isAddress(header.destinationAddress))) {
        __builtin_trap();
      }
      if (header.awsVpcEndpointId.size() > ProxyHeaderParser::kMaxAwsVpcEndpointIdLength) {
        __builtin_trap();
      }
      if (header.version == 1 && whole.headerLength() > ProxyHeaderParser::kMaxV1Length) {
        __builtin_trap();
      }
      if (header.version == 2 && whole.headerLength() > 16 + ProxyHeaderParser::kMaxV2Length) {
        __builtin_trap();
      }
      ProxyHeaderParser alone;
      feedChecked(alone, stream.substr(0, whole.headerLength()));
      if (fields(alone) != fields(whole)) __builtin_trap();
      break;
    }
    case ProxyOutcome::kError:
      if (whole.error() == ProxyError::kNone || whole.headerLength() != 0) __builtin_trap();
      break;
    case ProxyOutcome::kNeedMore:
      if (whole.error() != ProxyError::kNone) __builtin_trap();
      if (stream.size() >= 16 + ProxyHeaderParser::kMaxV2Length) __builtin_trap();
      break;
  }
  return 0;
}
