#include "net/stream_protocol.h"

#include "metrics/listener_counters.h"
#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/worker_context.h"
#include "proto/gelf/gelf_event.h"
#include "proto/gelf/gelf_stream_framer.h"
#include "proto/syslog/stream_framer.h"
#include "proto/syslog/syslog_event.h"

namespace kinesyslog::net {

namespace {

using metrics::Counter;
using metrics::Problem;

// RFC 6587 framing (octet counting or a trailer, detected per frame) and the syslog event
// builder (docs/design.md "Inputs", TCP and TLS, syslog).
class SyslogStreamProtocol final : public StreamProtocol, private syslog::FrameSink {
 public:
  SyslogStreamProtocol(WorkerContext& worker, std::string group)
      : worker_(worker), group_(std::move(group)), framer_(worker.options().maxMessageSize) {}

  void feed(std::string_view bytes, const StreamRead& read) override {
    read_ = &read;
    framer_.feed(bytes, *this);
    read_ = nullptr;
  }

  void finish(const StreamRead& read) override {
    read_ = &read;
    // RFC 6587 gives no way to know a frame was complete when the stream ends; what arrived is
    // delivered rather than lost (docs/design.md "Inputs").
    framer_.finish(*this);
    read_ = nullptr;
  }

  void cutPartial(const StreamRead& read) override {
    read_ = &read;
    framer_.cutPartial(*this);
    read_ = nullptr;
  }

  size_t heldBytes() const override { return framer_.heldBytes(); }

  void publishCounters(const StreamRead& read) override {
    auto& counters = metrics::counters();
    const syslog::FramerCounters& now = framer_.counters();
    if (messages_ > 0) {
      counters.add(Counter::kMessagesReceived, messages_);
      if (read.listener != nullptr) read.listener->addMessages(messages_);
    }
    if (rewritten_ > 0) counters.add(Counter::kMessagesRewritten, rewritten_);
    messages_ = rewritten_ = 0;
    const std::string_view source = read.source;
    const uint64_t cuts = now.budgetCuts - reported_.budgetCuts;
    if (now.truncated != reported_.truncated) {
      counters.add(Counter::kMessagesTruncated, now.truncated - reported_.truncated);
    }
    if (now.truncated - reported_.truncated > cuts) {
      worker_.problems().report(
          Problem::kMessageTruncated, read.monotonicNow,
          "TCP message longer than --max-message-size from " + std::string(source));
    }
    if (cuts > 0) {
      counters.add(Counter::kPartialBudgetCuts, cuts);
      worker_.problems().report(Problem::kPartialBudgetCut, read.monotonicNow,
                                "the partial message from " + std::string(source) +
                                    " delivered truncated to make room; the rest of its frame "
                                    "discarded");
    }
    if (now.incomplete != reported_.incomplete) {
      counters.add(Counter::kFramesIncomplete, now.incomplete - reported_.incomplete);
      worker_.problems().report(Problem::kFrameIncomplete, read.monotonicNow,
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

  WorkerContext& worker_;
  std::string group_;
  syslog::StreamFramer framer_;
  const StreamRead* read_ = nullptr;  // the read being framed, during feed() and finish()
  // Per-read tallies, published once per read to keep atomics off the per-message path.
  uint64_t messages_ = 0, rewritten_ = 0;
  syslog::FramerCounters reported_{};
};

// GELF over TCP or TLS: NUL (or LF) terminated JSON frames and the GELF event builder
// (docs/design.md "Inputs", GELF). GELF 1.1 has no compression over TCP (the NUL delimiter rules it
// out), so frames are taken as they are.
class GelfStreamProtocol final : public StreamProtocol, private gelf::GelfFrameSink {
 public:
  GelfStreamProtocol(WorkerContext& worker, std::string group)
      : worker_(worker), group_(std::move(group)), framer_(worker.options().maxMessageSize) {}

  void feed(std::string_view bytes, const StreamRead& read) override {
    read_ = &read;
    framer_.feed(bytes, *this);
    read_ = nullptr;
  }

  void finish(const StreamRead& read) override {
    read_ = &read;
    framer_.finish(*this);
    read_ = nullptr;
  }

  void cutPartial(const StreamRead& /*read*/) override { framer_.cutPartial(); }

  size_t heldBytes() const override { return framer_.heldBytes(); }

  void publishCounters(const StreamRead& read) override {
    auto& counters = metrics::counters();
    auto& problems = worker_.problems();
    const gelf::GelfFramerCounters& now = framer_.counters();
    const std::string_view source = read.source;
    if (messages_ > 0) {
      counters.add(Counter::kMessagesReceived, messages_);
      if (read.listener != nullptr) read.listener->addMessages(messages_);
    }
    const uint64_t oversize = now.oversize - reported_.oversize;
    if (oversize > 0) {
      counters.add(Counter::kGelfOversizeDropped, oversize);
      problems.report(Problem::kGelfOversize, read.monotonicNow,
                      "GELF TCP frame longer than --max-message-size from " + std::string(source));
    }
    if (invalidJson_ > 0) {
      counters.add(Counter::kGelfInvalidJson, invalidJson_);
      problems.report(Problem::kGelfInvalidJson, read.monotonicNow,
                      "from " + std::string(source) + " (relayed as received)");
    }
    if (missingFields_ > 0) {
      counters.add(Counter::kGelfMissingFields, missingFields_);
      problems.report(
          Problem::kGelfMissingFields, read.monotonicNow,
          "version, host or short_message missing from " + std::string(source) + " (relayed)");
    }
    if (invalidTimestamp_ > 0) {
      counters.add(Counter::kGelfInvalidTimestamp, invalidTimestamp_);
      problems.report(Problem::kGelfInvalidTimestamp, read.monotonicNow,
                      "from " + std::string(source) + " (receive time used)");
    }
    const uint64_t cuts = now.budgetCuts - reported_.budgetCuts;
    if (cuts > 0) {
      counters.add(Counter::kPartialBudgetCuts, cuts);
      problems.report(Problem::kPartialBudgetCut, read.monotonicNow,
                      "the partial GELF message from " + std::string(source) +
                          " dropped to make room (truncated JSON is useless); the rest of its "
                          "frame discarded");
    }
    if (now.incomplete != reported_.incomplete) {
      counters.add(Counter::kFramesIncomplete, now.incomplete - reported_.incomplete);
      problems.report(
          Problem::kFrameIncomplete, read.monotonicNow,
          std::string(source) + " closed the connection mid-message; delivered what arrived");
    }
    counters.add(Counter::kFramesEmpty, now.emptySkipped - reported_.emptySkipped + empty_);
    counters.add(Counter::kBytesDiscarded, now.discardedBytes - reported_.discardedBytes);
    messages_ = invalidJson_ = missingFields_ = invalidTimestamp_ = empty_ = 0;
    reported_ = now;
  }

 private:
  void onGelfFrame(std::string_view frame, bool incomplete) override {
    (void)incomplete;  // counted from the framer's own counters
    const auto& options = worker_.options();
    auto& batcher = worker_.batcher();
    auto& batch = batcher.batchFor(group_, read_->source, read_->monotonicNow);
    // The framer already dropped frames over the maximum, so nothing is oversize here.
    auto appended = gelf::appendGelfEvent(batch, frame, read_->receiveMicros, worker_.gelfParser(),
                                          options.maxMessageSize);
    if (appended.bytes == 0) {
      ++empty_;  // a frame of nothing but CR (the rest of a CRLF pair, say)
      return;
    }
    ++messages_;
    invalidJson_ += !appended.findings.validJson;
    missingFields_ += appended.findings.missingFields;
    invalidTimestamp_ += appended.findings.invalidTimestamp;
    batcher.committed(appended.bytes);
  }

  WorkerContext& worker_;
  std::string group_;
  gelf::GelfStreamFramer framer_;
  const StreamRead* read_ = nullptr;  // the read being framed, during feed() and finish()
  uint64_t messages_ = 0, invalidJson_ = 0, missingFields_ = 0, invalidTimestamp_ = 0, empty_ = 0;
  gelf::GelfFramerCounters reported_{};
};

}  // namespace

std::unique_ptr<StreamProtocol> makeStreamProtocol(WorkerContext& worker, std::string group) {
  if (worker.options().gelf) {
    return std::make_unique<GelfStreamProtocol>(worker, std::move(group));
  }
  return std::make_unique<SyslogStreamProtocol>(worker, std::move(group));
}

}  // namespace kinesyslog::net
