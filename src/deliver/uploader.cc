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
constexpr auto kFailureLogInterval = std::chrono::seconds(10);

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

Uploader::Uploader(spool::SpoolDirectory& spool, DeliveryTarget& target, UploaderOptions options)
    : spool_(spool),
      target_(target),
      options_(options),
      backoff_(options.backoffBase, options.backoffCap, pickSeed(options.seed)) {}

Uploader::~Uploader() {
  if (thread_.joinable()) drainAndStop(Clock::now());
}

void Uploader::start() {
  if (thread_.joinable()) return;
  spdlog::debug("uploader: delivering to {}", target_.describe());
  thread_ = std::thread([this] { run(); });
}

bool Uploader::drainAndStop(Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = deadline;
  }
  stopChanged_.notify_all();
  spool_.wake();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    run();
  }
  const size_t left = spool_.pendingCount();
  if (left > 0) {
    spdlog::warn("uploader: stopped with {} records not delivered; they stay in {}", left,
                 spool_.path().string());
  }
  return left == 0;
}

void Uploader::run() {
  while (true) {
    bool stopping;
    Clock::time_point deadline;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      deadline = deadline_;
    }
    const auto now = Clock::now();
    if (stopping && (spool_.pendingCount() == 0 || now >= deadline)) break;
    // Returns early on wake(): then the loop re-reads the stop state.
    if (!spool_.waitFor(1, 1, stopping ? deadline : now + kIdleWait)) continue;
    if (!stopping && options_.coalesce.count() > 0) {
      spool_.waitFor(options_.maxRecords, options_.maxBytes, Clock::now() + options_.coalesce);
    }
    auto batch = spool_.take(options_.maxRecords, options_.maxBytes, Clock::now());
    if (!batch.empty()) deliver(std::move(batch));
  }
}

void Uploader::deliver(std::vector<spool::SpoolRecord> batch) {
  std::vector<spool::SpoolRecord> records;
  std::vector<spool::SpoolRecord> retry;
  records.reserve(batch.size());
  // data_'s strings keep their capacity from request to request: records are read into memory
  // that is already mapped rather than into fresh megabyte allocations.
  std::vector<std::string>& data = data_;
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

  if (records.empty() && retry.empty()) return;  // all quarantined; nothing was attempted

  size_t accepted = 0;
  std::string error = "cannot read spool files (out of file descriptors or memory)";
  if (!records.empty()) {
    auto& metrics = metrics::deliveryMetrics();
    uint64_t requestBytes = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      metrics.recordBytes.observe(records[i].bytes);
      requestBytes += records[i].bytes;
    }
    metrics.batchRecords.observe(records.size());
    metrics.batchBytes.observe(requestBytes);
    if (backoff_.attempt() > 0) metrics.retries.fetch_add(1, std::memory_order_relaxed);
    const auto sent = Clock::now();
    PutResult result = target_.put(std::span<const std::string>(data.data(), records.size()));
    metrics.uploadMicros.observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count()));
    ++counters_.batches;
    if (result.accepted.size() != records.size()) {
      // A target bug; keeping every record is the only safe reading of it.
      spdlog::error("uploader: {} answered {} results for {} records; retrying them all",
                    target_.describe(), result.accepted.size(), records.size());
      result.accepted.assign(records.size(), false);
    }
    for (size_t i = 0; i < records.size(); ++i) {
      if (result.accepted[i]) {
        ++accepted;
        ++counters_.recordsDelivered;
        counters_.bytesDelivered += records[i].bytes;
        spool_.remove(records[i]);
      } else {
        retry.push_back(std::move(records[i]));
      }
    }
    error = result.error.empty() ? "records not accepted" : std::move(result.error);
  }

  // "Every upload has failed" (the readiness rule) means no record got through: a request that
  // delivered some of its records ends the run of failures.
  if (accepted > 0) {
    counters_.failingSinceMicros = 0;
  } else if (counters_.failingSinceMicros.load() == 0) {
    counters_.failingSinceMicros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
            .count();
  }

  if (retry.empty()) {
    if (backoff_.attempt() > 0) {
      spdlog::info("uploader: delivering to {} again after {} failed attempts", target_.describe(),
                   backoff_.attempt());
    }
    backoff_.reset();
    counters_.consecutiveFailures = 0;
    return;
  }
  // Requeued in sequence order, ahead of newer records.
  std::sort(retry.begin(), retry.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  const size_t failed = retry.size();

  counters_.recordFailures += records.empty() ? 0 : records.size() - accepted;
  if (!records.empty() && accepted == 0) ++counters_.requestFailures;
  spool_.requeue(std::move(retry));
  const milliseconds delay = backoff_.next();
  counters_.consecutiveFailures = static_cast<uint64_t>(backoff_.attempt());
  logFailure(error, failed, batch.size(), delay);
  pause(delay);
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

void Uploader::logFailure(const std::string& error, size_t failed, size_t total,
                          milliseconds delay) {
  const auto now = Clock::now();
  if (lastFailureLog_ != Clock::time_point{} && now - lastFailureLog_ < kFailureLogInterval) {
    ++suppressedFailureLogs_;
    return;
  }
  spdlog::warn(
      "uploader: {} of {} records not delivered to {} ({}); attempt {}, retrying in {} ms "
      "({} similar lines suppressed)",
      failed, total, target_.describe(), error, backoff_.attempt(), delay.count(),
      suppressedFailureLogs_);
  lastFailureLog_ = now;
  suppressedFailureLogs_ = 0;
}

}  // namespace kinesyslog::deliver
