#include "aws/refreshing_credentials.h"

#include <exception>
#include <utility>

namespace kinesyslog::aws {

RefreshingCredentials::RefreshingCredentials(std::unique_ptr<CredentialsProvider> provider,
                                             const Clock& clock)
    : provider_(std::move(provider)), clock_(clock), worker_([this] { backgroundLoop(); }) {}

RefreshingCredentials::~RefreshingCredentials() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

RefreshingCredentials::Outcome RefreshingCredentials::loadOnce() {
  Outcome outcome;
  try {
    outcome.credentials = provider_->load();
    if (!outcome.credentials) outcome.error = "no AWS credentials found";
  } catch (const std::exception& error) {
    // Any failure, not only CredentialsError: it must never escape the background thread.
    outcome.error = error.what();
  }
  return outcome;
}

void RefreshingCredentials::apply(Outcome outcome, int64_t startedMonotonic) {
  lastAttemptMonotonic_ = startedMonotonic;
  ++completedLoads_;
  if (outcome.credentials) {
    cached_ = std::move(outcome.credentials);
    lastError_.clear();
    ++counters_.loads;
  } else {
    lastError_ = std::move(outcome.error);
    ++counters_.failures;
  }
}

bool RefreshingCredentials::attemptAllowed(int64_t monotonic) const {
  return !lastAttemptMonotonic_ || monotonic - *lastAttemptMonotonic_ >= kRetryMicros;
}

Credentials RefreshingCredentials::get() {
  std::unique_lock lock(mutex_);
  // The outcome of a load this call waited for: it is not repeated at once.
  std::optional<uint64_t> waitedFor;
  for (;;) {
    const int64_t now = clock_.nowMicros();
    if (cached_ && (!cached_->expiresMicros || now < *cached_->expiresMicros - kAdvisoryMicros)) {
      return *cached_;
    }
    const bool expired = !cached_ || now >= *cached_->expiresMicros;
    const bool mandatory = expired || now >= *cached_->expiresMicros - kMandatoryMicros;
    const int64_t monotonic = clock_.monotonicMicros();

    if (!mandatory) {
      if (!loading_ && attemptAllowed(monotonic)) {
        loading_ = true;
        backgroundRequested_ = true;
        requestedMonotonic_ = monotonic;
        changed_.notify_all();
      }
      return *cached_;
    }
    if (loading_) {
      const uint64_t before = completedLoads_;
      changed_.wait(lock, [&] { return !loading_; });
      waitedFor = before;
      continue;
    }
    if (waitedFor && completedLoads_ > *waitedFor && !lastError_.empty()) {
      // The load we waited for failed: report it rather than trying again straight away.
      if (!expired) return *cached_;
      throw CredentialsError(lastError_);
    }
    if (!expired && !attemptAllowed(monotonic)) return *cached_;

    loading_ = true;
    lock.unlock();
    Outcome outcome = loadOnce();
    lock.lock();
    loading_ = false;
    const bool failed = !outcome.credentials;
    apply(std::move(outcome), monotonic);
    changed_.notify_all();
    // Fresh credentials are returned even when the source hands out short-lived ones: looping
    // on them would call the provider without pause.
    if (!failed) return *cached_;
    if (!expired) return *cached_;
    throw CredentialsError(lastError_);
  }
}

void RefreshingCredentials::backgroundLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || backgroundRequested_; });
    if (stop_) return;
    backgroundRequested_ = false;
    ++counters_.backgroundRefreshes;
    // The request's time, not a fresh clock read: the clock is only read by get()'s callers.
    const int64_t monotonic = requestedMonotonic_;
    lock.unlock();
    Outcome outcome = loadOnce();
    lock.lock();
    loading_ = false;
    apply(std::move(outcome), monotonic);
    changed_.notify_all();
  }
}

void RefreshingCredentials::waitForRefresh() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !loading_; });
}

RefreshingCredentials::Counters RefreshingCredentials::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::string RefreshingCredentials::lastError() const {
  std::lock_guard lock(mutex_);
  return lastError_;
}

}  // namespace kinesyslog::aws
