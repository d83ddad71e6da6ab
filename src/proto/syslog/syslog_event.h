#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "record/source_batch.h"

namespace kinesyslog::syslog {

class LocalZone;

struct AppendedEvent {
  size_t bytes = 0;        // bytes added to the batch's arena; 0 when the message was empty
  bool truncated = false;  // cut to the maximum message size here
  bool rewritten = false;  // had no usable timestamp and was rewritten as RFC 5424
};

// Turns one framed syslog message into an event in `batch` (docs/design.md "Events"): trailing
// CR/LF/NUL stripped, cut to maxMessageSize (the bytes as received, before any rewrite), time
// taken from the header or, failing that, the message rewritten as
// `<PRI>1 <receive time> <source> <rest>` (an RFC 5424 message whose TIMESTAMP is the NILVALUE
// keeps its text and takes the receive time). This is the one copy of the message bytes, from the
// receive buffer into the batch's arena (docs/design.md "Threads and memory").
AppendedEvent appendSyslogEvent(record::SourceBatch& batch, std::string_view message,
                                int64_t receiveMicros, std::string_view source,
                                const LocalZone& zone, size_t maxMessageSize);

}  // namespace kinesyslog::syslog
