#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace kinesyslog::deliver {

// Capped exponential backoff with full jitter: the n-th delay since the last reset() is drawn
// uniformly from [0, min(cap, base * 2^n)], so retrying senders spread out instead of retrying
// in step ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015; the AWS SDKs' scheme).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed);

  // The next delay; each call doubles the ceiling until it reaches the cap.
  std::chrono::milliseconds next();
  // After a success: the next delay is drawn from [0, base] again.
  void reset() { attempt_ = 0; }
  // Delays handed out since the last reset().
  int attempt() const { return attempt_; }
  // The upper bound of the delay the next call to next() can return.
  std::chrono::milliseconds ceiling() const;

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  std::mt19937_64 random_;
  int attempt_ = 0;
};

}  // namespace kinesyslog::deliver
