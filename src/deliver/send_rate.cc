#include "deliver/send_rate.h"

#include <algorithm>
#include <cmath>

namespace kinesyslog::deliver {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

}  // namespace

SendRate::SendRate(const Clock& clock, unsigned maxInFlight)
    : clock_(clock),
      maxInFlight_(std::max(1u, maxInFlight)),
      lastRefill_(clock.monotonicMicros()),
      lastIncrease_(lastRefill_),
      window_(maxInFlight_) {}

bool SendRate::windowOpen() {
  if (inFlight_ < window_) return true;
  windowLimited_ = true;
  return false;
}

void SendRate::refill(int64_t now) {
  if (rate_ > 0) {
    const double seconds = static_cast<double>(now - lastRefill_) / kMicrosPerSecond;
    tokens_ = std::min(tokens_ + seconds * rate_, rate_ * kBurstSeconds);
  }
  lastRefill_ = now;
}

int64_t SendRate::microsUntilSend() {
  if (rate_ <= 0) return 0;
  refill(clock_.monotonicMicros());
  if (tokens_ >= 0) return 0;
  rateLimited_ = true;
  heldBackSinceCut_ = true;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(-tokens_ / rate_ * kMicrosPerSecond)));
}

uint64_t SendRate::maxRequestBytes() const {
  if (rate_ <= 0) return kMaxRequestBytes;
  return std::clamp<uint64_t>(static_cast<uint64_t>(rate_ * kRequestSeconds), 1, kMaxRequestBytes);
}

void SendRate::forgetOldSends(int64_t now) {
  while (!sends_.empty() && now - sends_.front().first >= kMicrosPerSecond) {
    sendsBytes_ -= sends_.front().second;
    sends_.pop_front();
  }
}

uint64_t SendRate::sentLastSecond() {
  forgetOldSends(clock_.monotonicMicros());
  return sendsBytes_;
}

uint64_t SendRate::started(uint64_t bytes) {
  const int64_t now = clock_.monotonicMicros();
  refill(now);
  if (rate_ > 0) tokens_ -= static_cast<double>(bytes);
  forgetOldSends(now);
  sends_.emplace_back(now, bytes);
  sendsBytes_ += bytes;
  ++inFlight_;
  return epoch_;
}

void SendRate::finished(uint64_t ticket, SendOutcome outcome) {
  if (inFlight_ > 0) --inFlight_;
  const int64_t now = clock_.monotonicMicros();
  if (outcome == SendOutcome::kFailed) return;

  if (outcome == SendOutcome::kThrottled) {
    if (ticket != epoch_) return;  // sent at a rate already cut
    // Cut from what was really sent, when that is less than the rate allowed (a sender held
    // back by the window or by its input): a cut below the allowance must bite at once. A
    // sender the rate held back since the last cut sent at the allowance: its last second can
    // hold one small request alone (records come a second or more apart at low rates), which
    // says nothing about the rate, so it is cut from the rate.
    const double sent = static_cast<double>(sentLastSecond());
    double base = rate_ > 0 ? rate_ : std::max(sent, kFirstCutFloor);
    if (rate_ > 0 && !heldBackSinceCut_ && sent > 0 && sent < base) base = sent;
    refill(now);
    const bool fresh = acceptedSinceCut_ || epoch_ == 0;
    const double factor = fresh ? kDecrease : kDeepDecrease;
    rate_ = std::max(kMinBytesPerSecond, base * factor);
    if (fresh) {
      comeback_ = rate_;
      step_ = base * kIncreasePerSecond;
    }
    acceptedSinceCut_ = false;
    heldBackSinceCut_ = false;
    tokens_ = std::min(tokens_, 0.0);
    window_ = std::max(1u, static_cast<unsigned>(std::floor(window_ * factor)));
    successesInWindow_ = 0;
    windowLimited_ = false;
    rateLimited_ = false;
    lastIncrease_ = now;
    ++epoch_;
    return;
  }

  // Accepted: grow what held the sender back; fast up to the level of the last cut, then
  // linearly.
  acceptedSinceCut_ = true;
  if (rate_ > 0 && rate_ < comeback_) {
    rate_ = std::min(comeback_, rate_ * 2);
    if (window_ < maxInFlight_) ++window_;
    rateLimited_ = false;
  } else if (rate_ > 0 && rateLimited_) {
    // At most a second counts: a gap between requests (idle input, a slow answer) is not time
    // spent held back.
    const double seconds =
        std::min(1.0, static_cast<double>(now - lastIncrease_) / kMicrosPerSecond);
    rate_ += step_ * seconds;
    rateLimited_ = false;
  }
  lastIncrease_ = now;
  if (windowLimited_ && window_ < maxInFlight_ && ++successesInWindow_ >= window_) {
    ++window_;
    successesInWindow_ = 0;
    windowLimited_ = false;
  }
}

}  // namespace kinesyslog::deliver
