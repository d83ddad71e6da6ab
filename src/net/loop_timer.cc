// Covered by net/loop_timer_test.cc and by every net/ handler test that advances a ManualClock.
#include "net/loop_timer.h"

#include <asio/error.hpp>
#include <asio/post.hpp>

namespace kinesyslog::net {

uint64_t ManualTimers::arm(asio::io_context& io, int64_t deadlineMicros, Handler handler) {
  const uint64_t id = nextId_++;
  waits_.emplace(id, Wait{&io, deadlineMicros, std::move(handler)});
  return id;
}

void ManualTimers::cancel(uint64_t id) {
  auto it = waits_.find(id);
  if (it == waits_.end()) return;  // already fired
  Wait wait = std::move(it->second);
  waits_.erase(it);
  asio::post(*wait.io,
             [handler = std::move(wait.handler)] { handler(asio::error::operation_aborted); });
}

void ManualTimers::advance(std::chrono::microseconds delta) {
  clock_.advanceMicros(delta.count());
  const int64_t now = clock_.monotonicMicros();
  for (;;) {
    auto due = waits_.end();
    for (auto it = waits_.begin(); it != waits_.end(); ++it) {
      if (it->second.deadline <= now &&
          (due == waits_.end() || it->second.deadline < due->second.deadline)) {
        due = it;
      }
    }
    if (due == waits_.end()) return;
    Wait wait = std::move(due->second);
    waits_.erase(due);
    asio::post(*wait.io, [handler = std::move(wait.handler)] { handler(std::error_code()); });
  }
}

bool ManualTimers::nextDeadline(int64_t& deadlineMicros) const {
  bool any = false;
  for (const auto& [id, wait] : waits_) {
    if (!any || wait.deadline < deadlineMicros) deadlineMicros = wait.deadline;
    any = true;
  }
  return any;
}

}  // namespace kinesyslog::net
