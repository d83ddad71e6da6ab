#pragma once

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

#include <memory>
#include <string_view>

namespace kinesyslog::app {

// How the relay writes its log lines to stderr (`--log-format`).
enum class LogFormat {
  kText,  // `2026-01-02T03:04:05.678Z [info] message`, for people and journald
  kJson,  // `{"time":"2026-01-02T03:04:05.678Z","level":"info","message":"..."}`, for shippers
};

// "text" or "json"; the option parser has already refused anything else.
LogFormat logFormatNamed(std::string_view name);

// One JSON object per line with the fields of the text line: time (UTC, milliseconds, the same
// text as the text format), level (spdlog's name: debug, info, warning, error, critical) and
// message. The message is escaped by record::appendJsonEscaped, so any bytes a log line quotes
// (a sender's name, a bad frame) still give one valid JSON line.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  JsonLogFormatter();
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  spdlog::pattern_formatter time_;  // the text format's time stamp, nothing else
};

// The process's logger on stderr in the given format; debug adds debug lines.
void setUpLogging(LogFormat format, bool debug);

// The one line a start-up error prints before the relay exits (exit 77/78): the text format's
// `kinesyslog: error: ...`, or a JSON line of level "error" so that every line a shipper reads
// from a JSON-logging relay parses.
void logStartupError(LogFormat format, std::string_view what);

}  // namespace kinesyslog::app
