#include "metrics/http_request_parser.h"

namespace kinesyslog::metrics {

namespace {

// RFC 9110 §5.6.2 token characters.
bool isTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 9110 §5.5 field-value characters: VCHAR, obs-text, SP and HTAB.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == ' ' || u == '\t' || (u >= 0x21 && u != 0x7f);
}

// The request target: visible ASCII, no spaces (RFC 9112 §3.2, RFC 3986).
bool isTargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

constexpr size_t kVersionLength = 8;  // "HTTP/1.1"

}  // namespace

int httpStatusFor(HttpRequestError error) {
  switch (error) {
    case HttpRequestError::kNone:
      return 200;
    case HttpRequestError::kMalformed:
      return 400;
    case HttpRequestError::kHeadTooLarge:
      return 431;
    case HttpRequestError::kBodyNotAccepted:
      return 413;
    case HttpRequestError::kVersionNotSupported:
      return 505;
  }
  return 400;
}

bool HttpRequestParser::fail(HttpRequestError error) {
  error_ = error;
  outcome_ = HttpParseOutcome::kError;
  return false;
}

bool HttpRequestParser::done() {
  outcome_ = HttpParseOutcome::kDone;
  return false;
}

HttpParseOutcome HttpRequestParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (outcome_ != HttpParseOutcome::kNeedMore) break;
    if (consumed_ >= kMaxHeadBytes) {
      fail(HttpRequestError::kHeadTooLarge);
      break;
    }
    ++consumed_;
    if (!step(c)) break;
  }
  return outcome_;
}

bool HttpRequestParser::step(char c) {
  switch (state_) {
    case State::kMethod:
      return stepMethod(c);
    case State::kTarget:
      return stepTarget(c);
    case State::kVersion:
      return stepVersion(c);
    case State::kRequestLineCr:
    case State::kFieldCr:
      if (c != '\n') return fail(HttpRequestError::kMalformed);  // a bare CR (RFC 9112 §2.2)
      state_ = State::kFieldStart;
      return true;
    case State::kFieldStart:
      return stepFieldStart(c);
    case State::kFieldName:
      return stepFieldName(c);
    case State::kFieldValue:
      return stepFieldValue(c);
    case State::kEndCr:
      if (c != '\n') return fail(HttpRequestError::kMalformed);
      return done();
  }
  return false;
}

bool HttpRequestParser::stepMethod(char c) {
  if (c == ' ' && !request_.method.empty()) {
    state_ = State::kTarget;
    return true;
  }
  if (!isTchar(c) || request_.method.size() >= kMaxMethodLength) {
    return fail(HttpRequestError::kMalformed);
  }
  request_.method.push_back(c);
  return true;
}

bool HttpRequestParser::stepTarget(char c) {
  if (c == ' ' && !request_.target.empty()) {
    state_ = State::kVersion;
    return true;
  }
  // Origin-form only (RFC 9112 §3.2.1): absolute-form and '*' have no use here.
  if (!isTargetChar(c) || (request_.target.empty() && c != '/')) {
    return fail(HttpRequestError::kMalformed);
  }
  request_.target.push_back(c);
  return true;
}

bool HttpRequestParser::stepVersion(char c) {
  if (c == '\r' || c == '\n') {
    if (!endRequestLine()) return false;
    state_ = c == '\r' ? State::kRequestLineCr : State::kFieldStart;
    return true;
  }
  if (!isTargetChar(c) || version_.size() >= kVersionLength) {
    return fail(HttpRequestError::kMalformed);
  }
  version_.push_back(c);
  return true;
}

bool HttpRequestParser::stepFieldStart(char c) {
  if (c == '\r') {
    state_ = State::kEndCr;
    return true;
  }
  if (c == '\n') return done();
  // A field line starting with whitespace is obsolete line folding (RFC 9112 §5.2).
  if (!isTchar(c)) return fail(HttpRequestError::kMalformed);
  if (++fields_ > kMaxHeaders) return fail(HttpRequestError::kHeadTooLarge);
  fieldName_.assign(1, lower(c));
  fieldValue_.clear();
  state_ = State::kFieldName;
  return true;
}

bool HttpRequestParser::stepFieldName(char c) {
  if (c == ':') {
    state_ = State::kFieldValue;
    return true;
  }
  // Whitespace between the name and the colon must be refused (RFC 9112 §5.1).
  if (!isTchar(c)) return fail(HttpRequestError::kMalformed);
  fieldName_.push_back(lower(c));
  return true;
}

bool HttpRequestParser::stepFieldValue(char c) {
  if (c == '\r' || c == '\n') {
    if (!endField()) return false;
    state_ = c == '\r' ? State::kFieldCr : State::kFieldStart;
    return true;
  }
  if (!isFieldValueChar(c)) return fail(HttpRequestError::kMalformed);
  fieldValue_.push_back(c);
  return true;
}

bool HttpRequestParser::endRequestLine() {
  if (version_ == "HTTP/1.1" || version_ == "HTTP/1.0") {
    request_.minorVersion = version_[7] - '0';
    return true;
  }
  // "HTTP/" DIGIT "." DIGIT is a version we do not speak; anything else is not HTTP.
  const bool wellFormed = version_.size() == kVersionLength && version_.starts_with("HTTP/") &&
                          version_[5] >= '0' && version_[5] <= '9' && version_[6] == '.' &&
                          version_[7] >= '0' && version_[7] <= '9';
  return fail(wellFormed ? HttpRequestError::kVersionNotSupported : HttpRequestError::kMalformed);
}

bool HttpRequestParser::endField() {
  const std::string_view value = trimOws(fieldValue_);
  if (fieldName_ == "transfer-encoding") {
    return fail(HttpRequestError::kBodyNotAccepted);
  }
  if (fieldName_ == "content-length") {
    // RFC 9112 §6.3: an invalid Content-Length, or differing repeats, is unrecoverable.
    if (value.empty()) {
      return fail(HttpRequestError::kMalformed);
    }
    uint64_t length = 0;
    for (char c : value) {
      if (c < '0' || c > '9') {
        return fail(HttpRequestError::kMalformed);
      }
      // Past 18 digits the value could overflow; it is a body either way.
      if (length < 100'000'000'000'000'000ull)
        length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (sawContentLength_ && length != contentLength_) {
      return fail(HttpRequestError::kMalformed);
    }
    sawContentLength_ = true;
    contentLength_ = length;
    if (length > 0) {
      return fail(HttpRequestError::kBodyNotAccepted);
    }
  }
  return true;
}

}  // namespace kinesyslog::metrics
