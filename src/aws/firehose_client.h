#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "util/clock.h"

namespace kinesyslog::aws {

// Why a whole Firehose request failed. The kind is for logs and metrics: the uploader retries
// every failure, because it never drops a spooled record on its own (docs/design.md "Spool and
// delivery").
enum class FirehoseErrorKind {
  Transport,       // no HTTP answer: refused, reset, timeout, TLS
  Credentials,     // no credentials to sign with (the provider failed)
  Auth,            // credentials refused: UnrecognizedClientException, AccessDenied...
  NotFound,        // ResourceNotFoundException: no such stream
  Throttled,       // ThrottlingException, ServiceUnavailableException, LimitExceeded, HTTP 429
  ServerError,     // HTTP 5xx, InternalFailure
  InvalidRequest,  // InvalidArgumentException, ValidationException, SerializationException...
  BadResponse,     // a 2xx answer that is not the JSON the operation returns
  Other,           // any other HTTP error
};

std::string_view toString(FirehoseErrorKind kind);

struct FirehoseError {
  FirehoseErrorKind kind = FirehoseErrorKind::Other;
  // Whether retrying the same request may succeed (throttling, 5xx, transport, expired
  // tokens). Informational: records are retried either way.
  bool retryable = true;
  int httpStatus = 0;     // 0 when no answer arrived
  std::string type;       // AWS error code without namespace, e.g. "ThrottlingException"
  std::string message;    // one line, capped
  std::string requestId;  // x-amzn-RequestId, when the service answered

  // One line, e.g. "ThrottlingException (HTTP 400): Rate exceeded".
  std::string describe() const;
};

struct [[nodiscard]] DescribeResult {
  std::optional<FirehoseError> error;
  std::string status;  // DeliveryStreamStatus (ACTIVE, CREATING, ...) when there is no error
  std::string arn;     // DeliveryStreamARN, when the answer has one
  bool ok() const { return !error; }
};

// One entry of PutRecordBatch's RequestResponses: a RecordId, or an ErrorCode and message.
struct PutRecordResponse {
  std::string recordId;
  std::string errorCode;
  std::string errorMessage;
};

struct [[nodiscard]] PutBatchResult {
  // Set when the whole request failed; then no record was accepted and `responses` is empty.
  std::optional<FirehoseError> error;
  int64_t failedPutCount = 0;
  // RequestResponses as returned, in order. Their number is not checked against the request
  // here: the caller decides what a mismatch means.
  std::vector<PutRecordResponse> responses;
};

// The two Firehose calls the relay makes, over the JSON 1.1 protocol (POST /, X-Amz-Target
// Firehose_20150804.<Operation>, Content-Type application/x-amz-json-1.1), SigV4-signed for
// service "firehose". Neither call throws: every failure comes back as a FirehoseError.
//
// `http` and `clock` must outlive the client. `credentials` is called before every request,
// so refreshed credentials are picked up; it may throw CredentialsError. Not thread-safe: one
// client per thread (the uploader's), like HttpClient; the start-up check runs before the
// uploader starts.
class FirehoseClient {
 public:
  using CredentialsSource = std::function<Credentials()>;

  FirehoseClient(HttpClient& http, std::string endpoint, std::string region,
                 CredentialsSource credentials, const Clock& clock);
  ~FirehoseClient();
  FirehoseClient(const FirehoseClient&) = delete;
  FirehoseClient& operator=(const FirehoseClient&) = delete;

  DescribeResult describeDeliveryStream(const std::string& streamName);
  // `records` are raw bytes (base64-encoded here): at most 500 and 4 MiB, which the caller
  // enforces (Firehose answers InvalidArgumentException past them).
  PutBatchResult putRecordBatch(const std::string& streamName,
                                std::span<const std::string> records);

  const std::string& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }

  // The PutRecordBatch request body, built in one allocation:
  // {"DeliveryStreamName":"NAME","Records":[{"Data":"<base64>"},...]}.
  static std::string putRecordBatchBody(std::string_view streamName,
                                        std::span<const std::string> records);

  static constexpr std::chrono::milliseconds kPutTimeout{30000};
  static constexpr std::chrono::milliseconds kDescribeTimeout{15000};

 private:
  struct Parser;  // simdjson's, kept out of this header

  // Signs and sends; returns the error, or nullopt for a 2xx answer, which is then in
  // response_ with its body padded for simdjson.
  [[nodiscard]] std::optional<FirehoseError> call(std::string_view operation, std::string body,
                                                  std::chrono::milliseconds timeout);

  HttpClient& http_;
  std::string endpoint_;
  std::string url_;
  std::string region_;
  CredentialsSource credentials_;
  const Clock& clock_;
  HttpResponse response_;           // the last answer
  std::unique_ptr<Parser> parser_;  // reused: keeps its buffers between calls
};

// Start-up check of docs/design.md "AWS": the stream must be ACTIVE and the credentials must work.
// Throws StartupError(kExitConfig) with one clear line otherwise (unknown stream, refused or
// missing credentials, unreachable endpoint, stream not ACTIVE). Returns the stream's account
// (from its ARN; empty when the answer has no ARN).
std::string requireActiveStream(FirehoseClient& client, const std::string& streamName);

// "arn:aws:firehose:us-east-1:123456789012:deliverystream/name" -> "123456789012"; empty when
// the text is not such an ARN.
std::string accountOfArn(std::string_view arn);

}  // namespace kinesyslog::aws
