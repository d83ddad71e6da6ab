#pragma once

#include <string_view>

namespace kinesyslog::metrics {

// A state the code holds impossible was met: a bug in kinesyslog, not bad input. Counted in
// `internal_errors` (kinesyslog_internal_errors_total) and logged as one error line naming the
// file, line and `what`, at most once every 10 s (ProblemLog). Builds without NDEBUG (Debug:
// the sanitizer builds) and the fuzz build then abort, so a test or a fuzzer that reaches the
// state fails; release builds go on, and the caller takes its safe path (docs/contributing.md,
// "Errors"). Thread-safe. Returns true, so that it can guard that path:
//   if (KINESYSLOG_BUG_IF(index >= size, "slot index past the heap")) return;
bool reportInternalError(std::string_view file, int line, std::string_view what);

// While one lives, reportInternalError() does not abort in any build: for the unit tests that
// reach a guarded state on purpose to show the safe path. Not nestable across threads.
class InternalErrorsContinue {
 public:
  InternalErrorsContinue();
  ~InternalErrorsContinue();
  InternalErrorsContinue(const InternalErrorsContinue&) = delete;
  InternalErrorsContinue& operator=(const InternalErrorsContinue&) = delete;
};

}  // namespace kinesyslog::metrics

// True (after counting, logging and, in Debug builds, aborting) when `condition` holds.
#define KINESYSLOG_BUG_IF(condition, what)                                      \
  (__builtin_expect(static_cast<bool>(condition), 0)                            \
       ? ::kinesyslog::metrics::reportInternalError(__FILE__, __LINE__, (what)) \
       : false)
