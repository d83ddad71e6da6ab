// Fuzz target for the metrics endpoint's HTTP request head parser.
// Input layout: byte 0 chooses where the stream is split in two, the rest is the first bytes of
// a connection. The one-shot feed, the split feed and a one-byte-at-a-time feed must agree on
// outcome, error, request line and bytes consumed; consumed() never exceeds the bytes fed nor
// the head limit; kDone means no error, a method of tokens and an origin-form target; kError
// always names an error; kNeedMore only while the stream is within the head limit.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "metrics/http_request_parser.h"
#include "split_feeds.h"

namespace {

using kinesyslog::fuzz::feedChecked;
using kinesyslog::fuzz::feedWholeSplitAndByteByByte;
using kinesyslog::metrics::HttpParseOutcome;
using kinesyslog::metrics::HttpRequestError;
using kinesyslog::metrics::HttpRequestParser;

auto fields(const HttpRequestParser& p) {
  return std::make_tuple(p.outcome(), p.error(), p.consumed(), p.request().method,
                         p.request().target, p.request().minorVersion);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = stream.size() * data[0] / 255;

  HttpRequestParser whole;
  feedWholeSplitAndByteByByte(whole, stream, split, fields);

  if (whole.consumed() > stream.size()) __builtin_trap();
  if (whole.consumed() > HttpRequestParser::kMaxHeadBytes) __builtin_trap();
  switch (whole.outcome()) {
    case HttpParseOutcome::kDone: {
      const auto& r = whole.request();
      if (whole.error() != HttpRequestError::kNone) __builtin_trap();
      if (r.method.empty() || r.method.size() > HttpRequestParser::kMaxMethodLength) {
        __builtin_trap();
      }
      if (r.target.empty() || r.target[0] != '/') __builtin_trap();
      if (r.minorVersion != 0 && r.minorVersion != 1) __builtin_trap();
      // The head alone gives the same answer: what follows it is never looked at.
      HttpRequestParser alone;
      feedChecked(alone, stream.substr(0, whole.consumed()));
      if (fields(alone) != fields(whole)) __builtin_trap();
      break;
    }
    case HttpParseOutcome::kError:
      if (whole.error() == HttpRequestError::kNone) __builtin_trap();
      break;
    case HttpParseOutcome::kNeedMore:
      if (whole.error() != HttpRequestError::kNone) __builtin_trap();
      if (whole.consumed() != stream.size()) __builtin_trap();
      break;
  }
  return 0;
}
