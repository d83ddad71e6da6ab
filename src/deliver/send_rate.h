#pragma once

#include <cstdint>
#include <deque>
#include <utility>

#include "util/clock.h"

namespace kinesyslog::deliver {

// How one request to a stream ended, as the send rate sees it.
enum class SendOutcome {
  kAccepted,   // every record accepted
  kThrottled,  // the stream's quota said no: records with ServiceUnavailableException, or the
               // whole request throttled
  kFailed,     // anything else (transport, 5xx, credentials): the uploader's backoff handles it
};

// The adaptive send rate of one Firehose stream (AIMD, as TCP's congestion control but driven
// by the stream's throttling answers instead of packet loss). It bounds two things:
//   - bytes per second, as a token bucket that may go into debt by one request (a request is
//     started once the bucket is not in debt, and charged in full);
//   - requests in flight (the window).
// Before the first throttling answer nothing is limited except the window's ceiling: a relay
// that never reaches its quota pays nothing. On a throttling answer to a request sent since
// the last cut, both are cut multiplicatively (answers to requests sent before the cut were
// sent at the old rate and say nothing new, so they cut nothing). While requests succeed and
// the rate or the window is what holds the sender back, the rate grows linearly in time and
// the window by one per window of successes. The send rate over time is a sawtooth just under
// the quota.
//
// Cuts that follow each other without a request accepted in between (an outage, or the first
// overshoot) keep cutting the rate but not the level it comes back to: once requests are
// accepted again the rate doubles per accepted request up to that level (TCP's slow start up
// to its threshold), then grows linearly again.
//
// Pure and not thread-safe: the caller serialises; time comes from the injected clock.
class SendRate {
 public:
  // Kept after a cut. TCP halves, leaving its average at 3/4 of the limit; Firehose meters a
  // stream with a hard quota (not a shared queue that must drain), so a gentle cut is enough
  // to stop the throttling, and the sawtooth between 85 % and 100 % averages above 90 %.
  static constexpr double kDecrease = 0.85;
  // A cut that follows a cut with no request accepted in between (a gross overshoot: the first
  // burst of a relay with a backlog, a stream whose quota was lowered or is shared, an outage)
  // halves the rate instead, as TCP does, so the rate finds the quota in a few round trips, not
  // dozens. A one-record request refused whole says no more than that the quota was reached,
  // so how much of a request was refused does not choose the cut.
  static constexpr double kDeepDecrease = 0.5;
  // Added per second while the rate is what holds the sender back, as a share of the rate at
  // the last cut (so it scales with the stream's quota: 1 MiB/s or 500 MiB/s alike). 2 %/s
  // climbs from a cut back to the quota in 7.5 s: about one throttled request per 7.5 s, a
  // few percent of the requests at a quota's usual request rate.
  static constexpr double kIncreasePerSecond = 0.02;
  // Unused rate is saved up to this long, so a pause does not become a burst over the quota.
  static constexpr double kBurstSeconds = 0.1;
  // A request carries at most this long of the current rate (at least one record): one larger
  // than the stream's per-second bucket could never pass whole.
  static constexpr double kRequestSeconds = 0.2;
  // Below this the rate is not cut further: a stream that throttles everything still gets a
  // probe now and then.
  static constexpr double kMinBytesPerSecond = 16 * 1024;
  // Requests in flight at most, and at the start. 8 requests of at most 4 MiB (what one
  // PutRecordBatch carries) bound the record data held by one stream's uploads at 32 MiB; at
  // 100 ms round trip they carry a default 5 MiB/s quota with batches of 64 KiB and more.
  static constexpr unsigned kMaxInFlight = 8;
  static constexpr uint64_t kMaxRequestBytes = 4 * 1024 * 1024;
  // The first cut starts from what was sent in the last second, but not below the smallest
  // default quota of a Firehose stream: a relay that sent little when the first throttle came
  // (an outage, another sender using up the stream) must not remember a tiny rate as the level
  // to come back to.
  static constexpr double kFirstCutFloor = 1024 * 1024;

  explicit SendRate(const Clock& clock, unsigned maxInFlight = kMaxInFlight);

  // Whether one more request may be in flight; notes that the window held the sender back when
  // it does not.
  bool windowOpen();
  // Microseconds until the next request may start by the rate (0: now). Notes that the rate
  // held the sender back when it is not 0.
  int64_t microsUntilSend();
  // The most record bytes the next request should carry.
  uint64_t maxRequestBytes() const;
  // A request of `bytes` starts now. Returns its ticket for finished().
  uint64_t started(uint64_t bytes);
  void finished(uint64_t ticket, SendOutcome outcome);

  // Bytes per second allowed; 0 while unlimited (no throttling seen yet).
  double bytesPerSecond() const { return rate_; }
  unsigned window() const { return window_; }
  unsigned inFlight() const { return inFlight_; }
  uint64_t cuts() const { return epoch_; }
  // Bytes started within the last second.
  uint64_t sentLastSecond();

 private:
  void refill(int64_t now);
  void forgetOldSends(int64_t now);

  const Clock& clock_;
  const unsigned maxInFlight_;
  double rate_ = 0;      // 0: unlimited
  double step_ = 0;      // bytes/s added per second since the last cut
  double comeback_ = 0;  // the rate after the last cut that followed an accepted request
  bool acceptedSinceCut_ = false;
  double tokens_ = 0;
  int64_t lastRefill_;
  int64_t lastIncrease_;
  bool rateLimited_ = false;       // the rate held a request back since the last increase
  bool heldBackSinceCut_ = false;  // the rate held a request back since the last cut
  bool windowLimited_ = false;     // the window held a request back since it last grew
  unsigned window_;
  unsigned inFlight_ = 0;
  unsigned successesInWindow_ = 0;
  uint64_t epoch_ = 0;  // cuts so far; a ticket is the epoch its request started in
  std::deque<std::pair<int64_t, uint64_t>> sends_;  // (time, bytes) of the last second
  uint64_t sendsBytes_ = 0;
};

}  // namespace kinesyslog::deliver
