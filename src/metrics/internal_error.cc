#include "metrics/internal_error.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "util/clock.h"

namespace kinesyslog::metrics {

namespace {

std::atomic<int> continuing{0};

// __FILE__ is the path the compiler was given (absolute, or relative to the build directory):
// from src/ on, it names the same file in every build.
std::string_view sourcePath(std::string_view file) {
  const size_t at = file.rfind("src/");
  return at == std::string_view::npos ? file : file.substr(at);
}

}  // namespace

bool reportInternalError(std::string_view file, int line, std::string_view what) {
  counters().add(Counter::kInternalErrors);
  const std::string detail = fmt::format("{}:{}: {}", sourcePath(file), line, what);
  problems().report(Problem::kInternalError, SystemClock::instance().monotonicMicros(), detail);
#if !defined(NDEBUG) || defined(KINESYSLOG_FUZZING)
  if (continuing.load(std::memory_order_relaxed) == 0) {
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "kinesyslog: internal error at %s (Debug build: aborting)\n",
                 detail.c_str());
    std::abort();
  }
#endif
  return true;
}

InternalErrorsContinue::InternalErrorsContinue() {
  continuing.fetch_add(1, std::memory_order_relaxed);
}

InternalErrorsContinue::~InternalErrorsContinue() {
  continuing.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace kinesyslog::metrics
