#include "proto/gelf/gelf_event.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "proto/gelf/gelf_timestamp.h"
#include "proto/syslog/datagram.h"
#include "proto/syslog/event_time.h"

namespace kinesyslog::gelf {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

namespace {

// GELF 1.1 payload specification: these three fields are required ("MUST be set"), as strings.
enum RequiredField : unsigned { kVersion = 1, kHost = 2, kShortMessage = 4, kAllRequired = 7 };

// A number token as simdjson hands it out runs up to the next structural character, so it may
// carry the whitespace that follows it (RFC 8259 §2: space, tab, LF, CR).
std::string_view trimJsonWhitespace(std::string_view token) {
  while (!token.empty()) {
    const char c = token.front();
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    token.remove_prefix(1);
  }
  while (!token.empty()) {
    const char c = token.back();
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    token.remove_suffix(1);
  }
  return token;
}

// True when nothing but whitespace follows the root value (RFC 8259 §2: one value per text).
// simdjson 3.0 answers OUT_OF_BOUNDS for the location past the last token.
bool atEnd(ondemand::document& doc) noexcept {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// Visits `value` and everything inside it, so that On-Demand validates all of it.
error_code visit(ondemand::value value, size_t depth) noexcept {
  if (depth > GelfParser::kMaxDepth) return simdjson::DEPTH_ERROR;
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case ondemand::json_type::array: {
      ondemand::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        ondemand::value inner;
        if (auto error = element.get(inner)) return error;
        if (auto error = visit(inner, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::object: {
      ondemand::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto result : object) {
        ondemand::field field;
        if (auto error = std::move(result).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        if (auto error = visit(field.value(), depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      double number;
      return value.get_double().get(number);
    }
    case ondemand::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case ondemand::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag);
    }
    case ondemand::json_type::null: {
      bool isNull = false;
      if (auto error = value.is_null().get(isNull)) return error;
      return isNull ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// A root that is not an object: valid JSON perhaps, but not a GELF message.
error_code visitNonObjectRoot(ondemand::document& doc, ondemand::json_type type) noexcept {
  switch (type) {
    case ondemand::json_type::array: {
      ondemand::array array;
      if (auto error = doc.get_array().get(array)) return error;
      for (auto element : array) {
        ondemand::value inner;
        if (auto error = element.get(inner)) return error;
        if (auto error = visit(inner, 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      double number;
      return doc.get_double().get(number);
    }
    case ondemand::json_type::string: {
      std::string_view text;
      return doc.get_string().get(text);
    }
    case ondemand::json_type::boolean:
    case ondemand::json_type::null:
      break;  // GelfParser::check compares the whole text
    case ondemand::json_type::object:
      break;
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

struct GelfParser::Impl {
  explicit Impl(size_t maxMessageSize) : parser(maxMessageSize) {}
  ondemand::parser parser;
};

GelfParser::GelfParser(size_t maxMessageSize)
    : impl_(std::make_unique<Impl>(std::max<size_t>(maxMessageSize, 1))) {}

GelfParser::~GelfParser() = default;

GelfFindings GelfParser::check(std::string_view json, size_t capacity) noexcept {
  GelfFindings findings;
  if (capacity < json.size() + simdjson::SIMDJSON_PADDING) return findings;
  ondemand::document doc;
  if (impl_->parser.iterate(json.data(), json.size(), capacity).get(doc)) return findings;
  ondemand::json_type rootType;
  if (doc.type().get(rootType)) return findings;
  if (rootType == ondemand::json_type::boolean || rootType == ondemand::json_type::null) {
    // simdjson's On-Demand root atoms are judged by their first bytes ("false0" passed, " false "
    // failed); RFC 8259 §2 and §3 allow the literal alone between whitespace.
    const std::string_view text = trimJsonWhitespace(json);
    const bool literal =
        rootType == ondemand::json_type::null ? text == "null" : text == "true" || text == "false";
    if (!literal) return findings;
    findings.validJson = true;
    findings.missingFields = true;
    return findings;
  }
  if (rootType != ondemand::json_type::object) {
    if (visitNonObjectRoot(doc, rootType) || !atEnd(doc)) return findings;
    findings.validJson = true;
    findings.missingFields = true;  // no object, so none of the required fields
    return findings;
  }

  ondemand::object object;
  if (doc.get_object().get(object)) return findings;
  unsigned present = 0;
  bool timestampSeen = false;
  bool timestampUsable = false;
  int64_t timestampMs = 0;
  for (auto result : object) {
    ondemand::field field;
    if (std::move(result).get(field)) return findings;
    std::string_view key;
    if (field.unescaped_key().get(key)) return findings;
    ondemand::value value = field.value();
    ondemand::json_type type;
    if (value.type().get(type)) return findings;
    // RFC 8259 §4 leaves repeated names to the implementation; the first one counts here.
    if (key == "timestamp" && !timestampSeen) {
      timestampSeen = true;
      std::string_view text;
      if (type == ondemand::json_type::number) {
        text = trimJsonWhitespace(value.raw_json_token());
        double number;
        if (value.get_double().get(number)) return findings;  // validates the token
      } else if (type == ondemand::json_type::string) {
        if (value.get_string().get(text)) return findings;
      } else {
        if (visit(value, 1)) return findings;
        continue;
      }
      if (auto ms = parseGelfTimestampMillis(text)) {
        timestampUsable = true;
        timestampMs = *ms;
      }
      continue;
    }
    if (type == ondemand::json_type::string) {
      if (key == "version") present |= kVersion;
      if (key == "host") present |= kHost;
      if (key == "short_message") present |= kShortMessage;
    }
    if (visit(value, 1)) return findings;
  }
  if (!atEnd(doc)) return findings;
  findings.validJson = true;
  findings.missingFields = present != kAllRequired;
  findings.invalidTimestamp = timestampSeen && !timestampUsable;
  if (timestampUsable) findings.timestampMs = timestampMs;
  return findings;
}

AppendedGelfEvent appendGelfEvent(record::SourceBatch& batch, std::string_view message,
                                  int64_t receiveMicros, GelfParser& parser,
                                  size_t maxMessageSize) {
  AppendedGelfEvent result;
  message = syslog::stripTrailingNewlines(message);
  if (message.size() > maxMessageSize) {
    result.oversize = true;
    return result;
  }
  if (message.empty()) return result;

  std::string& arena = batch.arena;
  const size_t offset = arena.size();
  // The one copy (docs/design.md "Threads and memory"). Reserving the padding first means simdjson
  // parses the message where it now lives; reserve() grows geometrically, so this costs no extra
  // reallocations.
  arena.reserve(offset + message.size() + simdjson::SIMDJSON_PADDING);
  arena.append(message);
  result.bytes = message.size();
  result.findings = parser.check(std::string_view(arena.data() + offset, message.size()),
                                 arena.capacity() - offset);
  const int64_t timestampMs = result.findings.timestampMs
                                  ? *result.findings.timestampMs
                                  : syslog::roundMicrosToMillis(receiveMicros);
  batch.events.push_back(record::EventRef{timestampMs, static_cast<uint32_t>(offset),
                                          static_cast<uint32_t>(result.bytes)});
  return result;
}

}  // namespace kinesyslog::gelf
