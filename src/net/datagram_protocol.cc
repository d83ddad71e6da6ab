#include "net/datagram_protocol.h"

#include <limits>
#include <optional>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/loop_timer.h"
#include "net/worker_context.h"
#include "proto/gelf/gelf_datagram.h"
#include "proto/gelf/gelf_event.h"
#include "proto/syslog/datagram.h"
#include "proto/syslog/syslog_event.h"

namespace kinesyslog::net {

namespace {

using metrics::Counter;
using metrics::Problem;

// One syslog message per datagram (RFC 5426 §3.1), unwrapped of an octet count or trailer some
// senders add, and the syslog event builder (docs/design.md "Inputs", UDP, syslog).
class SyslogDatagramProtocol final : public DatagramProtocol {
 public:
  SyslogDatagramProtocol(WorkerContext& worker, std::string group)
      : worker_(worker), group_(std::move(group)) {}

  bool feed(std::string_view datagram, const DatagramRead& read) override {
    const auto& options = worker_.options();
    auto& batcher = worker_.batcher();
    auto& batch = batcher.batchFor(group_, read.source, read.monotonicNow);
    auto appended =
        syslog::appendSyslogEvent(batch, syslog::unwrapDatagram(datagram), read.receiveMicros,
                                  read.source, *options.zone, options.maxMessageSize);
    if (appended.bytes == 0) return false;
    truncated_ += appended.truncated;
    rewritten_ += appended.rewritten;
    batcher.committed(appended.bytes);
    return true;
  }

  void publishCounters(int64_t monotonicNow, std::string_view lastSource) override {
    auto& counters = metrics::counters();
    counters.add(Counter::kMessagesRewritten, rewritten_);
    if (truncated_ > 0) {
      counters.add(Counter::kMessagesTruncated, truncated_);
      worker_.problems().report(
          Problem::kMessageTruncated, monotonicNow,
          "UDP message longer than --max-message-size from " + std::string(lastSource));
    }
    truncated_ = rewritten_ = 0;
  }

  void finish(int64_t /*monotonicNow*/) override {}

 private:
  WorkerContext& worker_;
  std::string group_;
  uint64_t truncated_ = 0, rewritten_ = 0;  // per receive batch
};

// GELF over UDP: plain, zlib or gzip JSON, or a chunk. The chunk sets of this socket's senders
// are reassembled here, keyed by sender address and message id, and expire on a timer of the
// worker's clock, so expiry needs no traffic (docs/design.md "Inputs", GELF).
class GelfDatagramProtocol final : public DatagramProtocol {
 public:
  GelfDatagramProtocol(WorkerContext& worker, std::string group)
      : worker_(worker),
        group_(std::move(group)),
        decoder_(worker.options().maxMessageSize),
        expiryTimer_(worker.makeTimer()) {}

  bool feed(std::string_view datagram, const DatagramRead& read) override {
    std::string_view message;
    if (decoder_.decode(read.source, datagram, read.monotonicNow, &message) !=
        gelf::DatagramOutcome::kMessage) {
      return false;  // pending or dropped; the decoder counts which
    }
    auto& batcher = worker_.batcher();
    auto& batch = batcher.batchFor(group_, read.source, read.monotonicNow);
    auto appended = gelf::appendGelfEvent(batch, message, read.receiveMicros, worker_.gelfParser(),
                                          worker_.options().maxMessageSize);
    if (appended.oversize) {
      ++tallies_.oversize;
      return false;
    }
    if (appended.bytes == 0) {
      ++tallies_.empty;
      return false;
    }
    tallies_.invalidJson += !appended.findings.validJson;
    tallies_.missingFields += appended.findings.missingFields;
    tallies_.invalidTimestamp += appended.findings.invalidTimestamp;
    batcher.committed(appended.bytes);
    return true;
  }

  void publishCounters(int64_t monotonicNow, std::string_view lastSource) override {
    if (lastSource_ != lastSource) lastSource_.assign(lastSource);
    publish(monotonicNow);
    scheduleExpiry();
  }

  void finish(int64_t monotonicNow) override {
    // Sets still incomplete can no longer complete: dropped and counted as expired.
    expiryTimer_.cancel();
    decoder_.expire(std::numeric_limits<int64_t>::max());
    publish(monotonicNow);
  }

 private:
  struct Tallies {
    uint64_t invalidJson = 0, missingFields = 0, invalidTimestamp = 0, oversize = 0, empty = 0;
  };

  void publish(int64_t monotonic);
  // Wakes up at the earliest chunk-set deadline.
  void scheduleExpiry();

  WorkerContext& worker_;
  std::string group_;
  gelf::GelfDatagramDecoder decoder_;
  LoopTimer expiryTimer_;
  int64_t armedDeadline_ = 0;  // the deadline expiryTimer_ waits for; 0: not armed
  std::string lastSource_;     // the last receive batch's last sender, for problem lines
  Tallies tallies_;
  gelf::ChunkCounters chunksReported_{};
  gelf::DatagramCounters datagramsReported_{};
};

void GelfDatagramProtocol::publish(int64_t monotonic) {
  auto& counters = metrics::counters();
  auto& problems = worker_.problems();
  // One counter and one problem kind per decision; the problem log keeps a flood to one line
  // per kind per 10 s. The source named is the last one of the batch.
  auto report = [&](Counter counter, uint64_t delta, Problem problem, std::string_view detail) {
    if (delta == 0) return;
    counters.add(counter, delta);
    problems.report(problem, monotonic, std::string(detail) + " (last from " + lastSource_ + ")");
  };
  const gelf::ChunkCounters& chunks = decoder_.assembler().counters();
  const gelf::DatagramCounters& datagrams = decoder_.counters();
  if (chunks.chunks != chunksReported_.chunks) {
    counters.add(Counter::kGelfChunks, chunks.chunks - chunksReported_.chunks);
  }
  if (chunks.completed != chunksReported_.completed) {
    counters.add(Counter::kGelfChunkedMessages, chunks.completed - chunksReported_.completed);
  }
  report(Counter::kGelfChunksInvalid, chunks.invalid - chunksReported_.invalid,
         Problem::kGelfChunkInvalid,
         "header under 12 bytes, count 0 or over 128, sequence number not below the count, or "
         "a count that differs from its set's; dropped");
  report(Counter::kGelfChunksDuplicate, chunks.duplicate - chunksReported_.duplicate,
         Problem::kGelfChunkDuplicate, "sequence number already held; ignored");
  report(Counter::kGelfChunkSetsExpired, chunks.expired - chunksReported_.expired,
         Problem::kGelfChunkSetExpired, "chunks missing 5 s after the first; set dropped");
  report(Counter::kGelfChunkSetsEvicted, chunks.evicted - chunksReported_.evicted,
         Problem::kGelfChunkSetEvicted,
         "too many incomplete chunk sets; the oldest dropped to make room");
  report(Counter::kGelfDecompressFailed,
         datagrams.decompressFailed - datagramsReported_.decompressFailed,
         Problem::kGelfDecompressFailed, "zlib or gzip payload would not inflate; dropped");
  report(Counter::kGelfOversizeDropped,
         (chunks.oversize - chunksReported_.oversize) +
             (datagrams.inflatedTooLarge - datagramsReported_.inflatedTooLarge) + tallies_.oversize,
         Problem::kGelfOversize, "UDP message (inflated, or reassembled) dropped");
  report(Counter::kGelfInvalidJson, tallies_.invalidJson, Problem::kGelfInvalidJson,
         "relayed as received");
  report(Counter::kGelfMissingFields, tallies_.missingFields, Problem::kGelfMissingFields,
         "version, host or short_message missing; relayed");
  report(Counter::kGelfInvalidTimestamp, tallies_.invalidTimestamp, Problem::kGelfInvalidTimestamp,
         "receive time used");
  if (tallies_.empty != 0) counters.add(Counter::kFramesEmpty, tallies_.empty);
  tallies_ = Tallies{};
  chunksReported_ = chunks;
  datagramsReported_ = datagrams;
}

void GelfDatagramProtocol::scheduleExpiry() {
  const std::optional<int64_t> deadline = decoder_.nextDeadline();
  if (!deadline || worker_.shuttingDown()) return;
  // Deadlines only grow as sets arrive, so a timer armed for an earlier one still comes first.
  if (armedDeadline_ != 0 && armedDeadline_ <= *deadline) return;
  armedDeadline_ = *deadline;
  expiryTimer_.expiresAtMonotonic(*deadline);
  expiryTimer_.asyncWait([this](const std::error_code& error) {
    if (error) return;  // cancelled: shutting down, or re-armed earlier
    armedDeadline_ = 0;
    const int64_t now = worker_.clock().monotonicMicros();
    decoder_.expire(now);
    publish(now);
    scheduleExpiry();
  });
}

}  // namespace

std::unique_ptr<DatagramProtocol> makeDatagramProtocol(WorkerContext& worker, std::string group) {
  if (worker.options().gelf) {
    return std::make_unique<GelfDatagramProtocol>(worker, std::move(group));
  }
  return std::make_unique<SyslogDatagramProtocol>(worker, std::move(group));
}

}  // namespace kinesyslog::net
