#include "deliver/backoff.h"

#include <algorithm>
#include <limits>

namespace kinesyslog::deliver {

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed)
    : base_(std::max(base, std::chrono::milliseconds(0))),
      cap_(std::max(cap, std::chrono::milliseconds(0))),
      random_(seed) {}

std::chrono::milliseconds Backoff::ceiling() const {
  // Doubling stops at the cap, so the shift never overflows however many attempts there were.
  int64_t ceiling = std::min(base_.count(), cap_.count());
  for (int i = 0; i < attempt_ && ceiling > 0 && ceiling < cap_.count(); ++i) {
    ceiling = ceiling > cap_.count() / 2 ? cap_.count() : ceiling * 2;
  }
  return std::chrono::milliseconds(ceiling);
}

std::chrono::milliseconds Backoff::next() {
  std::uniform_int_distribution<int64_t> uniform(0, ceiling().count());
  if (attempt_ < std::numeric_limits<int>::max()) ++attempt_;
  return std::chrono::milliseconds(uniform(random_));
}

}  // namespace kinesyslog::deliver
