#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesyslog::metrics {

// How far the request head has got.
enum class HttpParseOutcome : uint8_t { kNeedMore, kDone, kError };

// Why a request head was refused; each maps to one status code (httpStatusFor).
enum class HttpRequestError : uint8_t {
  kNone,
  kMalformed,            // 400: not an HTTP/1.x request head (RFC 9112 §3, §5)
  kHeadTooLarge,         // 431: head longer than kMaxHeadBytes or more than kMaxHeaders fields
  kBodyNotAccepted,      // 413: Content-Length above 0, or any Transfer-Encoding
  kVersionNotSupported,  // 505: HTTP/2.0, HTTP/0.9-style, anything but 1.0 and 1.1
};

// The status code answering `error` (200 for kNone).
int httpStatusFor(HttpRequestError error);

// The request line; the metrics endpoint needs nothing else.
struct HttpRequest {
  std::string method;
  std::string target;  // origin-form: starts with '/', the query kept
  int minorVersion = 1;
};

// Reads one HTTP/1.x request head (RFC 9112 §2-§6) from the bytes of a connection, fed in any
// pieces: a pure, incremental state machine (no I/O, no clock, no allocation past kMaxHeadBytes).
// The endpoint serves only bodiless GET and HEAD, so a request announcing a body is refused as
// soon as its header field is complete. Lines end with CRLF; a bare LF is accepted as RFC 9112
// §2.2 allows, a bare CR is malformed. Obsolete line folding is refused (RFC 9112 §5.2).
// After kDone or kError the parser takes no more bytes; bytes after the head are not read.
class HttpRequestParser {
 public:
  static constexpr size_t kMaxHeadBytes = 8192;
  static constexpr size_t kMaxHeaders = 64;
  static constexpr size_t kMaxMethodLength = 16;

  // Feeds the next bytes; returns outcome(). Bytes past the end of the head are not consumed.
  [[nodiscard]] HttpParseOutcome feed(std::string_view bytes);

  HttpParseOutcome outcome() const { return outcome_; }
  HttpRequestError error() const { return error_; }
  const HttpRequest& request() const { return request_; }
  // Bytes of the head consumed so far (all of it once kDone).
  size_t consumed() const { return consumed_; }

 private:
  enum class State : uint8_t {
    kMethod,
    kTarget,
    kVersion,
    kRequestLineCr,
    kFieldStart,  // start of a field line or of the empty line ending the head
    kFieldName,
    kFieldValue,
    kFieldCr,
    kEndCr,  // CR of the empty line seen
  };

  // Each step returns false to stop (done or failed); fail() and done() set the outcome and
  // return false.
  bool fail(HttpRequestError error);
  bool done();
  [[nodiscard]] bool step(char c);
  [[nodiscard]] bool stepMethod(char c);
  [[nodiscard]] bool stepTarget(char c);
  [[nodiscard]] bool stepVersion(char c);
  [[nodiscard]] bool stepFieldStart(char c);
  [[nodiscard]] bool stepFieldName(char c);
  [[nodiscard]] bool stepFieldValue(char c);
  [[nodiscard]] bool endRequestLine();
  [[nodiscard]] bool endField();

  State state_ = State::kMethod;
  HttpParseOutcome outcome_ = HttpParseOutcome::kNeedMore;
  HttpRequestError error_ = HttpRequestError::kNone;
  HttpRequest request_;
  std::string version_;
  std::string fieldName_;
  std::string fieldValue_;
  size_t consumed_ = 0;
  size_t fields_ = 0;
  bool sawContentLength_ = false;
  uint64_t contentLength_ = 0;
};

}  // namespace kinesyslog::metrics
