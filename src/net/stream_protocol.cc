#include "net/stream_protocol.h"

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/worker.h"
#include "proto/syslog/stream_framer.h"
#include "proto/syslog/syslog_event.h"

namespace kinesyslog::net {

namespace {

using metrics::Counter;
using metrics::Problem;

// RFC 6587 framing (octet counting or a trailer, detected per frame) and the syslog event
// builder (DESIGN §1 Inputs, TCP and TLS, syslog).
class SyslogStreamProtocol final : public StreamProtocol, private syslog::FrameSink {
 public:
  SyslogStreamProtocol(Worker& worker, std::string group)
      : worker_(worker), group_(std::move(group)), framer_(worker.options().maxMessageSize) {}

  void feed(std::string_view bytes, const StreamRead& read) override {
    read_ = &read;
    framer_.feed(bytes, *this);
    read_ = nullptr;
  }

  void finish(const StreamRead& read) override {
    read_ = &read;
    // RFC 6587 gives no way to know a frame was complete when the stream ends; what arrived is
    // delivered rather than lost (DESIGN §1 Inputs).
    framer_.finish(*this);
    read_ = nullptr;
  }

  size_t bufferedBytes() const override { return framer_.bufferedBytes(); }

  void publishCounters(const StreamRead& read) override {
    auto& counters = metrics::counters();
    const syslog::FramerCounters& now = framer_.counters();
    if (messages_ > 0) counters.add(Counter::kMessagesReceived, messages_);
    if (rewritten_ > 0) counters.add(Counter::kMessagesRewritten, rewritten_);
    messages_ = rewritten_ = 0;
    const std::string_view source = read.source;
    if (now.truncated != reported_.truncated) {
      counters.add(Counter::kMessagesTruncated, now.truncated - reported_.truncated);
      metrics::problems().report(
          Problem::kMessageTruncated, read.monotonicNow,
          "TCP message longer than --max-message-size from " + std::string(source));
    }
    if (now.incomplete != reported_.incomplete) {
      counters.add(Counter::kFramesIncomplete, now.incomplete - reported_.incomplete);
      metrics::problems().report(Problem::kFrameIncomplete, read.monotonicNow,
                                 std::string(source) +
                                     " closed the connection mid-message; delivered what "
                                     "arrived");
    }
    counters.add(Counter::kFramesEmpty, now.emptySkipped - reported_.emptySkipped);
    counters.add(Counter::kBytesDiscarded, now.discardedBytes - reported_.discardedBytes);
    reported_ = now;
  }

 private:
  void onFrame(std::string_view message, syslog::FrameFlags flags) override {
    (void)flags;  // truncation and incompleteness are counted from the framer's own counters
    const auto& options = worker_.options();
    auto& batcher = worker_.batcher();
    auto& batch = batcher.batchFor(group_, read_->source, read_->monotonicNow);
    auto appended = syslog::appendSyslogEvent(batch, message, read_->receiveMicros, read_->source,
                                              *options.zone, options.maxMessageSize);
    if (appended.bytes == 0) return;
    ++messages_;
    rewritten_ += appended.rewritten;
    batcher.committed(appended.bytes);
  }

  Worker& worker_;
  std::string group_;
  syslog::StreamFramer framer_;
  const StreamRead* read_ = nullptr;  // the read being framed, during feed() and finish()
  // Per-read tallies, published once per read to keep atomics off the per-message path.
  uint64_t messages_ = 0, rewritten_ = 0;
  syslog::FramerCounters reported_{};
};

}  // namespace

std::unique_ptr<StreamProtocol> makeStreamProtocol(Worker& worker, std::string group) {
  return std::make_unique<SyslogStreamProtocol>(worker, std::move(group));
}

}  // namespace kinesyslog::net
