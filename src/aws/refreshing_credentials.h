#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "aws/credentials.h"
#include "util/clock.h"

namespace kinesyslog::aws {

// Caches a provider's credentials and refreshes temporary ones before they expire, with
// botocore's windows (RefreshableCredentials): inside the advisory window (15 min before
// expiry) a refresh runs on a background thread while get() keeps returning the current
// credentials at once; only inside the mandatory window (10 min) or once expired does get()
// wait for a refresh. So delivery never pauses on a refresh while the old keys are still good.
//
// Unlike botocore, a failed refresh in the mandatory window returns the old credentials while
// they have not expired (botocore raises): the uploader keeps working for those last minutes.
// Refresh attempts (advisory or mandatory, before expiry) are at most one per kRetryMicros, so
// a failing or short-lived source is not hammered; once expired, every get() tries (the
// caller's backoff paces it) and throws CredentialsError when that fails.
//
// Thread-safe. The provider's load() is never called by two threads at once (so providers may
// use a non-thread-safe HttpClient). The provider must not call back into this object.
class RefreshingCredentials {
 public:
  static constexpr int64_t kAdvisoryMicros = 15 * 60 * int64_t{1'000'000};
  static constexpr int64_t kMandatoryMicros = 10 * 60 * int64_t{1'000'000};
  static constexpr int64_t kRetryMicros = 30 * int64_t{1'000'000};

  struct Counters {
    uint64_t loads = 0;                // successful loads, the first one included
    uint64_t failures = 0;             // failed loads (errors or nothing found)
    uint64_t backgroundRefreshes = 0;  // loads started in the advisory window
  };

  RefreshingCredentials(std::unique_ptr<CredentialsProvider> provider, const Clock& clock);
  ~RefreshingCredentials();
  RefreshingCredentials(const RefreshingCredentials&) = delete;
  RefreshingCredentials& operator=(const RefreshingCredentials&) = delete;

  // Valid credentials. The first call loads them (blocking). Throws CredentialsError when
  // there are no usable credentials: the first load failed or found nothing, or they expired
  // and a refresh failed.
  Credentials get();

  // Blocks until no refresh is running (tests; shutdown).
  void waitForRefresh();

  Counters counters() const;
  // The last load's error; empty after a success.
  std::string lastError() const;

 private:
  struct [[nodiscard]] Outcome {
    std::optional<Credentials> credentials;
    std::string error;
  };

  Outcome loadOnce();
  void apply(Outcome outcome, int64_t startedMonotonic);  // requires mutex_
  bool attemptAllowed(int64_t monotonic) const;           // requires mutex_
  void backgroundLoop();

  std::unique_ptr<CredentialsProvider> provider_;
  const Clock& clock_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Credentials> cached_;
  bool loading_ = false;              // a load() is running (either thread)
  bool backgroundRequested_ = false;  // the worker should start one
  int64_t requestedMonotonic_ = 0;    // when it was requested
  bool stop_ = false;
  std::optional<int64_t> lastAttemptMonotonic_;
  uint64_t completedLoads_ = 0;  // successes and failures, to know a waited-for outcome
  std::string lastError_;
  Counters counters_;
  std::thread worker_;  // last: started after every other member exists
};

}  // namespace kinesyslog::aws
