#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kinesyslog::metrics {
class ListenerCounters;
}

namespace kinesyslog::net {

class WorkerContext;

// When and from whom the bytes handed to a StreamProtocol were read.
struct StreamRead {
  std::string_view source;  // the peer's address (after PROXY protocol): the logStream
  int64_t receiveMicros;    // wall clock of the read, for events without a usable timestamp
  int64_t monotonicNow;     // monotonic clock of the read, for batch ages and the problem log
  metrics::ListenerCounters* listener = nullptr;  // the accepting listener's counts, this worker
};

// The message side of one TCP or TLS connection: which framer and which event builder. The
// connection owns the transport (plain or TLS, the PROXY header) and hands over the plaintext
// bytes it reads; this frames them and appends the events to the worker's batches. Syslog is
// RFC 6587 framing with syslog::appendSyslogEvent, GELF is NUL/LF framing with
// gelf::appendGelfEvent; the worker's options choose (docs/design.md "Inputs": every listener of
// the process takes the same input). Runs on the worker's thread only.
class StreamProtocol {
 public:
  virtual ~StreamProtocol() = default;
  // The next bytes of the stream.
  virtual void feed(std::string_view bytes, const StreamRead& read) = 0;
  // The stream ended (the peer closed, or the shutdown deadline came): delivers a partial
  // message as docs/design.md "Inputs" says for the input, and resets.
  virtual void finish(const StreamRead& read) = 0;
  // The partial-message budget needs the room: syslog delivers the partial message truncated,
  // GELF drops it (truncated JSON is useless); either way the rest of its frame is discarded
  // and the memory freed. The connection stays open.
  virtual void cutPartial(const StreamRead& read) = 0;
  // Bytes of a partial message held: what the partial-message budget charges.
  virtual size_t heldBytes() const = 0;
  // Adds what happened since the last call to the process counters and the problem log; called
  // once per read, so that the per-message path touches no atomics.
  virtual void publishCounters(const StreamRead& read) = 0;
};

// The protocol for a connection accepted by the worker of `worker` on a port whose log group is
// `group`.
std::unique_ptr<StreamProtocol> makeStreamProtocol(WorkerContext& worker, std::string group);

}  // namespace kinesyslog::net
