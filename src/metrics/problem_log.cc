#include "metrics/problem_log.h"

#include <spdlog/spdlog.h>

namespace kinesyslog::metrics {

namespace {
constexpr std::array<std::string_view, static_cast<size_t>(Problem::kCount)> kKindNames = {
    "message truncated",
    "frame incomplete",
    "GELF chunk invalid",
    "GELF chunk duplicate",
    "GELF chunk set expired",
    "GELF chunk set evicted",
    "GELF decompression failed",
    "GELF message over --max-message-size dropped",
    "GELF message not valid JSON",
    "GELF message missing required fields",
    "GELF timestamp not usable",
    "UDP datagram dropped (spool full)",
    "UDP datagram dropped by the kernel",
    "TCP reading paused (spool full)",
    "partial-message budget full",
    "connection error",
    "accept error",
    "connection limit reached",
    "TLS client rejected",
    "TLS handshake failed",
    "TLS handshake timed out",
    "bad PROXY header",
    "PROXY header timeout",
    "PROXY port connection from an untrusted address",
    "spool write failed",
    "delivery failed",
    "journal write failed",
    "internal error (a bug in kinesyslog: please report this line)",
};
}  // namespace

bool ProblemLog::report(Problem kind, int64_t monotonicMicros, std::string_view detail) {
  Slot& slot = slots_[static_cast<size_t>(kind)];
  slot.total.fetch_add(1, std::memory_order_relaxed);
  int64_t last = slot.lastLogged.load(std::memory_order_relaxed);
  if (monotonicMicros - last < intervalMicros_ ||
      !slot.lastLogged.compare_exchange_strong(last, monotonicMicros, std::memory_order_relaxed)) {
    slot.suppressed.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  uint64_t suppressed = slot.suppressed.exchange(0, std::memory_order_relaxed);
  // Bad input and failing disks are warnings; our own bug is an error.
  const auto level = kind == Problem::kInternalError ? spdlog::level::err : spdlog::level::warn;
  if (suppressed > 0) {
    spdlog::log(level, "{}: {} ({} more suppressed since last report)",
                kKindNames[static_cast<size_t>(kind)], detail, suppressed);
  } else {
    spdlog::log(level, "{}: {}", kKindNames[static_cast<size_t>(kind)], detail);
  }
  return true;
}

ProblemLog& problems() {
  static ProblemLog instance;
  return instance;
}

}  // namespace kinesyslog::metrics
