#include "deliver/uploader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "metrics/delivery_metrics.h"

namespace kinesyslog::deliver {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long the idle loop sleeps between checks when nothing is spooled; wake() and new records
// end the wait early, so this only bounds how stale a missed notification can get.
constexpr auto kIdleWait = std::chrono::seconds(1);
// While stopping, waits are this short: one wake() releases only one waiting lane.
constexpr auto kStoppingWait = milliseconds(50);
constexpr auto kFailureLogInterval = std::chrono::seconds(10);
constexpr auto kRateLogInterval = milliseconds(100);

uint64_t pickSeed(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

// Read errors that come from the process's state, not from the file: retry, don't quarantine.
bool isTransientReadError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == EINTR || error == EAGAIN;
}

}  // namespace

Uploader::Uploader(spool::SpoolDirectory& spool, std::vector<UploadStream> streams,
                   UploaderOptions options, const kinesyslog::Clock& clock)
    : spool_(spool), options_(options) {
  uint64_t seed = pickSeed(options.seed);
  for (auto& config : streams) {
    if (config.lanes.empty()) continue;
    streams_.push_back(std::make_unique<Stream>(std::move(config), clock, options_, seed++));
    Stream& stream = *streams_.back();
    stream.counters.inFlightLimit = stream.rate.window();
    for (DeliveryTarget* target : stream.config.lanes) {
      auto lane = std::make_unique<Lane>();
      lane->stream = &stream;
      lane->target = target;
      lanes_.push_back(std::move(lane));
    }
  }
}

Uploader::Uploader(spool::SpoolDirectory& spool, DeliveryTarget& target, UploaderOptions options)
    : Uploader(spool, {UploadStream{target.describe(), {&target}, false}}, options) {}

Uploader::~Uploader() {
  // Nobody is left to tell: what is undelivered stays in the spool for the next start.
  if (started_) (void)drainAndStop(Clock::now());
}

void Uploader::start() {
  if (started_) return;
  started_ = true;
  for (const auto& stream : streams_) {
    spdlog::debug("uploader: delivering to {} with up to {} requests in flight",
                  stream->config.lanes.front()->describe(), stream->config.lanes.size());
  }
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    lane->thread = std::thread([this, l] { runLane(*l); });
  }
}

bool Uploader::stopping(Clock::time_point* deadline) {
  std::lock_guard lock(mutex_);
  if (deadline != nullptr) *deadline = deadline_;
  return stopping_;
}

bool Uploader::drainAndStop(Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = deadline;
  }
  stopChanged_.notify_all();
  for (auto& stream : streams_) {
    std::lock_guard lock(stream->mutex);
    stream->changed.notify_all();
  }
  spool_.wake();
  if (started_) {
    for (auto& lane : lanes_) {
      if (lane->thread.joinable()) lane->thread.join();
    }
    started_ = false;
  } else if (!lanes_.empty()) {
    runLane(*lanes_.front());
  }
  const size_t left = spool_.pendingCount();
  if (left > 0) {
    spdlog::warn("uploader: stopped with {} records not delivered; they stay in {}", left,
                 spool_.path().string());
  }
  return left == 0;
}

bool Uploader::waitForPermission(Stream& stream, Clock::time_point until) {
  std::unique_lock lock(stream.mutex);
  while (true) {
    Clock::time_point deadline;
    const bool stop = stopping(&deadline);
    const auto now = Clock::now();
    if (stop && (now >= deadline || spool_.pendingCount() == 0)) return false;
    if (now >= until) return false;
    const bool open = stream.rate.windowOpen();
    const int64_t wait = open ? stream.rate.microsUntilSend() : 0;
    if (open && wait == 0) return true;
    // A finished request notifies; the rate's wait is known; both are bounded while stopping.
    auto wakeAt = open ? now + std::chrono::microseconds(wait) : until;
    if (stop) wakeAt = std::min(wakeAt, now + kStoppingWait);
    stream.changed.wait_until(lock, std::min(wakeAt, until));
  }
}

void Uploader::runLane(Lane& lane) {
  Stream& stream = *lane.stream;
  const bool adaptive = stream.config.adaptive;
  while (true) {
    Clock::time_point deadline;
    const bool stop = stopping(&deadline);
    const auto now = Clock::now();
    if (stop && (spool_.pendingCount() == 0 || now >= deadline)) break;
    const auto waitUntil = stop ? std::min(deadline, now + kStoppingWait) : now + kIdleWait;

    std::vector<spool::SpoolRecord> batch;
    uint64_t ticket = 0;
    {
      // The stream's lanes take turns: one waits for records and coalesces them into a batch
      // while the others are in flight, so batches stay full rather than split between lanes.
      std::unique_lock turn(stream.takeTurn);
      if (adaptive && !waitForPermission(stream, waitUntil)) continue;
      // Returns early on wake(): then the loop re-reads the stop state.
      if (!spool_.waitFor(1, 1, waitUntil)) continue;
      uint64_t maxBytes = options_.maxBytes;
      if (adaptive) {
        std::lock_guard lock(stream.mutex);
        maxBytes = std::min(maxBytes, stream.rate.maxRequestBytes());
      }
      if (!stop && options_.coalesce.count() > 0) {
        // Coalescing is best effort: take() below takes whatever has arrived by then.
        (void)spool_.waitFor(options_.maxRecords, maxBytes, Clock::now() + options_.coalesce);
      }
      batch = spool_.take(options_.maxRecords, maxBytes, Clock::now());
      if (batch.empty()) continue;
      uint64_t bytes = 0;
      for (const auto& record : batch) bytes += record.bytes;
      std::lock_guard lock(stream.mutex);
      ticket = stream.rate.started(bytes);
      stream.counters.requestsInFlight = stream.rate.inFlight();
    }
    deliver(lane, std::move(batch), ticket);
  }
}

void Uploader::finish(Stream& stream, uint64_t ticket, SendOutcome outcome) {
  {
    std::lock_guard lock(stream.mutex);
    const uint64_t cutsBefore = stream.rate.cuts();
    stream.rate.finished(ticket, outcome);
    if (stream.rate.cuts() != cutsBefore) ++stream.counters.rateCuts;
    const auto rate = static_cast<uint64_t>(stream.rate.bytesPerSecond());
    const bool cut = stream.rate.cuts() != cutsBefore;
    const auto now = Clock::now();
    // The send rate over time (the sawtooth), for --debug and the benchmark's plot: every cut,
    // and other changes at most every 100 ms.
    if (rate != stream.counters.sendRateBytesPerSecond &&
        (cut || now - stream.lastRateLog >= kRateLogInterval)) {
      spdlog::debug("uploader: send rate of stream {} now {} bytes/s, {} requests in flight{}",
                    stream.config.name, rate, stream.rate.window(), cut ? " (cut)" : "");
      stream.lastRateLog = now;
    }
    stream.counters.sendRateBytesPerSecond = rate;
    stream.counters.requestsInFlight = stream.rate.inFlight();
    stream.counters.inFlightLimit = stream.rate.window();
  }
  stream.changed.notify_all();
}

void Uploader::deliver(Lane& lane, std::vector<spool::SpoolRecord> batch, uint64_t ticket) {
  Stream& stream = *lane.stream;
  std::vector<spool::SpoolRecord> records;
  std::vector<spool::SpoolRecord> retry;
  readBatch(lane, batch, records, retry);
  if (records.empty() && retry.empty()) {  // all quarantined; nothing was attempted
    finish(stream, ticket, SendOutcome::kFailed);
    return;
  }
  Sent sent;
  if (!records.empty()) sent = send(lane, records, retry);
  noteFailingSince(sent.accepted);
  if (retry.empty()) return delivered(stream, ticket, lane.target->describe());

  // Requeued in sequence order, ahead of newer records.
  std::sort(retry.begin(), retry.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  const size_t failed = retry.size();
  counters_.recordFailures += records.empty() ? 0 : records.size() - sent.accepted;
  if (!records.empty() && sent.accepted == 0) ++counters_.requestFailures;
  spool_.requeue(std::move(retry));
  if (sent.throttled && sent.accepted > 0) {
    // The stream took part of the request: its quota is reached, not gone. The send rate
    // slows down instead of pausing, and the backoff does not grow.
    finish(stream, ticket, SendOutcome::kThrottled);
    logFailure(stream, sent.error, failed, batch.size(), milliseconds(0), 0);
    return;
  }
  // Nothing accepted: an error, or a stream that refuses everything (throttled whole, as in an
  // outage). The rate is cut for the latter too, and the lane backs off either way.
  finish(stream, ticket, sent.throttled ? SendOutcome::kThrottled : SendOutcome::kFailed);
  milliseconds delay;
  int attempt;
  {
    std::lock_guard lock(stream.mutex);
    delay = stream.backoff.next();
    attempt = stream.backoff.attempt();
  }
  counters_.consecutiveFailures = static_cast<uint64_t>(attempt);
  logFailure(stream, sent.error, failed, batch.size(), delay, attempt);
  pause(delay);
}

void Uploader::readBatch(Lane& lane, std::vector<spool::SpoolRecord>& batch,
                         std::vector<spool::SpoolRecord>& records,
                         std::vector<spool::SpoolRecord>& retry) {
  records.reserve(batch.size());
  // data's strings keep their capacity from request to request: records are read into memory
  // that is already mapped rather than into fresh megabyte allocations.
  std::vector<std::string>& data = lane.data;
  if (data.size() < batch.size()) data.resize(batch.size());
  for (auto& record : batch) {
    int error = 0;
    if (spool_.readInto(record, data[records.size()], &error)) {
      records.push_back(std::move(record));
    } else if (isTransientReadError(error)) {
      retry.push_back(std::move(record));
    } else {
      // Never dropped silently: the file is kept where a human can find it.
      ++counters_.unreadable;
      spool_.moveToCorrupt(record, "unreadable at delivery");
    }
  }
}

Uploader::Sent Uploader::send(Lane& lane, std::vector<spool::SpoolRecord>& records,
                              std::vector<spool::SpoolRecord>& retry) {
  Stream& stream = *lane.stream;
  DeliveryTarget& target = *lane.target;
  auto& metrics = metrics::deliveryMetrics();
  uint64_t requestBytes = 0;
  for (const auto& record : records) {
    metrics.recordBytes.observe(record.bytes);
    requestBytes += record.bytes;
  }
  metrics.batchRecords.observe(records.size());
  metrics.batchBytes.observe(requestBytes);
  {
    std::lock_guard lock(stream.mutex);
    if (stream.backoff.attempt() > 0) metrics.retries.fetch_add(1, std::memory_order_relaxed);
  }
  const auto sent = Clock::now();
  PutResult result = target.put(std::span<const std::string>(lane.data.data(), records.size()));
  metrics.uploadMicros.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count()));
  ++counters_.batches;
  ++stream.counters.requests;
  if (result.accepted.size() != records.size()) {
    // A target bug; keeping every record is the only safe reading of it.
    spdlog::error("uploader: {} answered {} results for {} records; retrying them all",
                  target.describe(), result.accepted.size(), records.size());
    result.accepted.assign(records.size(), false);
  }
  return tally(stream, records, std::move(result), retry);
}

Uploader::Sent Uploader::tally(Stream& stream, std::vector<spool::SpoolRecord>& records,
                               PutResult result, std::vector<spool::SpoolRecord>& retry) {
  Sent sent;
  for (size_t i = 0; i < records.size(); ++i) {
    if (result.accepted[i]) {
      ++sent.accepted;
      ++counters_.recordsDelivered;
      counters_.bytesDelivered += records[i].bytes;
      stream.counters.bytesAccepted += records[i].bytes;
      spool_.remove(records[i]);
    } else {
      retry.push_back(std::move(records[i]));
    }
  }
  stream.counters.recordsAccepted += sent.accepted;
  sent.throttled = result.throttled() && stream.config.adaptive;
  const size_t refused = records.size() - sent.accepted;
  if (result.throttled()) {
    ++stream.counters.throttledRequests;
    const size_t byQuota =
        result.requestThrottled ? refused : std::min(refused, result.throttledRecords);
    stream.counters.recordsThrottled += byQuota;
    stream.counters.recordsFailed += refused - byQuota;
  } else {
    stream.counters.recordsFailed += refused;
  }
  sent.error = result.error.empty() ? "records not accepted" : std::move(result.error);
  return sent;
}

void Uploader::noteFailingSince(size_t accepted) {
  // "Every upload has failed" (the readiness rule) means no record got through: a request that
  // delivered some of its records ends the run of failures.
  if (accepted > 0) {
    counters_.failingSinceMicros = 0;
    return;
  }
  // Several lanes fail at once: the first to fail starts the run.
  int64_t none = 0;
  counters_.failingSinceMicros.compare_exchange_strong(
      none, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
                .count());
}

void Uploader::delivered(Stream& stream, uint64_t ticket, const std::string& target) {
  finish(stream, ticket, SendOutcome::kAccepted);
  int attempts = 0;
  {
    std::lock_guard lock(stream.mutex);
    attempts = stream.backoff.attempt();
    stream.backoff.reset();
  }
  if (attempts > 0) {
    spdlog::info("uploader: delivering to {} again after {} failed attempts", target, attempts);
  }
  counters_.consecutiveFailures = 0;
}

void Uploader::pause(milliseconds delay) {
  const auto wakeAt = Clock::now() + delay;
  std::unique_lock lock(mutex_);
  if (!stopping_) {
    // A stop request ends the pause at once, for one last attempt within the grace.
    stopChanged_.wait_until(lock, wakeAt, [this] { return stopping_; });
    return;
  }
  stopChanged_.wait_until(lock, std::min(wakeAt, deadline_), [] { return false; });
}

void Uploader::logFailure(const Stream& stream, const std::string& error, size_t failed,
                          size_t total, milliseconds delay, int attempt) {
  const auto now = Clock::now();
  std::lock_guard lock(logMutex_);
  if (lastFailureLog_ != Clock::time_point{} && now - lastFailureLog_ < kFailureLogInterval) {
    ++suppressedFailureLogs_;
    return;
  }
  const std::string& target = stream.config.lanes.front()->describe();
  if (attempt == 0) {
    spdlog::warn(
        "uploader: {} of {} records not delivered to {} ({}); throttled: send rate now {} "
        "bytes/s, {} requests in flight ({} similar lines suppressed)",
        failed, total, target, error, stream.counters.sendRateBytesPerSecond.load(),
        stream.counters.inFlightLimit.load(), suppressedFailureLogs_);
  } else {
    spdlog::warn(
        "uploader: {} of {} records not delivered to {} ({}); attempt {}, retrying in {} ms "
        "({} similar lines suppressed)",
        failed, total, target, error, attempt, delay.count(), suppressedFailureLogs_);
  }
  lastFailureLog_ = now;
  suppressedFailureLogs_ = 0;
}

}  // namespace kinesyslog::deliver
