#include "app/log_format.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "record/json_escape.h"

namespace kinesyslog::app {

namespace {

constexpr const char* kTimePattern = "%Y-%m-%dT%H:%M:%S.%eZ";

void appendJsonField(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += "\":\"";
  record::appendJsonEscaped(out, value);
  out += '"';
}

}  // namespace

LogFormat logFormatNamed(std::string_view name) {
  return name == "json" ? LogFormat::kJson : LogFormat::kText;
}

JsonLogFormatter::JsonLogFormatter()
    : time_(kTimePattern, spdlog::pattern_time_type::utc, /*eol=*/"") {}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  spdlog::memory_buf_t time;
  time_.format(msg, time);
  const auto level = spdlog::level::to_string_view(msg.level);
  std::string line = "{";
  appendJsonField(line, "time", std::string_view(time.data(), time.size()));
  line += ',';
  appendJsonField(line, "level", std::string_view(level.data(), level.size()));
  line += ',';
  appendJsonField(line, "message", std::string_view(msg.payload.data(), msg.payload.size()));
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

void setUpLogging(LogFormat format, bool debug) {
  auto logger = spdlog::stderr_logger_mt("kinesyslog");
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern(std::string(kTimePattern) + " [%l] %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);
}

void logStartupError(LogFormat format, std::string_view what) {
  if (format == LogFormat::kText) {
    std::fprintf(stderr, "kinesyslog: error: %.*s\n", static_cast<int>(what.size()), what.data());
    return;
  }
  const spdlog::details::log_msg msg("kinesyslog", spdlog::level::err,
                                     spdlog::string_view_t(what.data(), what.size()));
  spdlog::memory_buf_t line;
  JsonLogFormatter().format(msg, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace kinesyslog::app
