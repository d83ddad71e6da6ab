#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "record/source_batch.h"

namespace kinesyslog::gelf {

// What a GELF message's JSON says, as far as the relay cares (docs/design.md "Events"). Nothing
// here drops a message: the caller counts each finding and relays the text all the same.
struct GelfFindings {
  bool validJson = false;         // one JSON text (RFC 8259 §2), every value visited and valid
  bool missingFields = false;     // valid JSON, but `version`, `host` or `short_message` is not
                                  // there as a string (GELF 1.1: all three are required)
  bool invalidTimestamp = false;  // valid JSON with a `timestamp` that is not usable
  std::optional<int64_t> timestampMs;  // from `timestamp`, when valid JSON and usable
};

// Checks GELF 1.1 payloads with simdjson On-Demand. On-Demand validates only what it visits, so
// every value of the document is visited; a document nested deeper than kMaxDepth counts as
// not valid (GELF values are flat: strings and numbers). One per worker thread: simdjson's
// buffers are reused from message to message (they grow to the largest message seen, at most
// --max-message-size, and stay). Not thread-safe. Never throws on any input.
class GelfParser {
 public:
  // Nesting this parser visits. simdjson's own limit is 1024 (its debug builds assert when a
  // document passes it), so the visit stops well inside it: deeper counts as not valid.
  static constexpr size_t kMaxDepth = 512;

  explicit GelfParser(size_t maxMessageSize);
  ~GelfParser();
  GelfParser(const GelfParser&) = delete;
  GelfParser& operator=(const GelfParser&) = delete;

  // `json` is read up to json.size() + SIMDJSON_PADDING (64) bytes, whatever those extra bytes
  // hold: the caller promises they are allocated (`capacity` >= json.size() + 64, counted from
  // json.data()). With less, the result is simply "not valid JSON".
  [[nodiscard]] GelfFindings check(std::string_view json, size_t capacity) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct AppendedGelfEvent {
  size_t bytes = 0;       // bytes added to the batch's arena; 0 when nothing was added
  bool oversize = false;  // longer than --max-message-size: dropped, not added
  GelfFindings findings;  // meaningful when bytes > 0
};

// Turns one complete GELF message (a TCP frame, a datagram, or a reassembled and inflated chunk
// set) into an event in `batch` (docs/design.md "Events"): trailing CR/LF/NUL stripped; longer than
// maxMessageSize -> dropped (truncated JSON is useless); the text is otherwise kept byte-exact
// (the record encoder escapes it like every message); the event time is the GELF `timestamp`
// rounded half up to the millisecond, else the receive time. The message bytes are copied
// once, into the batch's arena (docs/design.md "Threads and memory"), and parsed there: the arena
// is grown with SIMDJSON_PADDING spare bytes so that simdjson can read past the message safely.
AppendedGelfEvent appendGelfEvent(record::SourceBatch& batch, std::string_view message,
                                  int64_t receiveMicros, GelfParser& parser, size_t maxMessageSize);

}  // namespace kinesyslog::gelf
