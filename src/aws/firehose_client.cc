#include "aws/firehose_client.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include "aws/crypto.h"
#include "aws/endpoints.h"
#include "aws/sigv4.h"
#include "util/startup_error.h"

namespace kinesyslog::aws {

struct FirehoseClient::Parser {
  simdjson::dom::parser dom;
};

namespace {

constexpr std::string_view kTargetPrefix = "Firehose_20150804.";
constexpr std::string_view kContentType = "application/x-amz-json-1.1";
constexpr size_t kMaxMessageChars = 300;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view headerValue(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return {};
}

// Text from the network made fit for one log line: control bytes become spaces, runs of
// spaces collapse, the length is capped.
std::string oneLine(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessageChars + 3));
  for (char c : text) {
    char mapped = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (mapped == ' ' && (out.empty() || out.back() == ' ')) continue;
    if (out.size() >= kMaxMessageChars) {
      out.append("...");
      break;
    }
    out.push_back(mapped);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// JSON 1.1 error codes come as "ResourceNotFoundException",
// "com.amazonaws.firehose#ResourceNotFoundException" or, from older front ends,
// "ResourceNotFoundException:http://internal.amazon.com/...": the code is what follows the
// last '#', up to a ':' or ','.
std::string errorCode(std::string_view raw) {
  size_t hash = raw.rfind('#');
  if (hash != std::string_view::npos) raw.remove_prefix(hash + 1);
  raw = raw.substr(0, raw.find_first_of(":,"));
  return oneLine(raw);
}

bool isOneOf(std::string_view type, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), type) != names.end();
}

void classify(FirehoseError& error) {
  const std::string& t = error.type;
  using K = FirehoseErrorKind;
  auto set = [&](K kind, bool retryable) {
    error.kind = kind;
    error.retryable = retryable;
  };
  if (isOneOf(
          t, {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "RequestTimeTooSkewed"})) {
    // Refused credentials that time mends: the provider refreshes them, NTP fixes the skew.
    set(K::Auth, true);
  } else if (isOneOf(t, {"UnrecognizedClientException", "InvalidSignatureException",
                         "AccessDeniedException", "AccessDenied", "IncompleteSignature",
                         "IncompleteSignatureException", "MissingAuthenticationToken",
                         "MissingAuthenticationTokenException", "InvalidClientTokenId",
                         "SignatureDoesNotMatch", "NotAuthorized", "NotAuthorizedException",
                         "AuthFailure", "InvalidAccessKeyId", "UnauthorizedOperation"})) {
    set(K::Auth, false);
  } else if (t == "ResourceNotFoundException") {
    set(K::NotFound, false);
  } else if (isOneOf(t, {"ThrottlingException", "Throttling", "ThrottledException",
                         "RequestThrottled", "RequestThrottledException",
                         "TooManyRequestsException", "ProvisionedThroughputExceededException",
                         "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
                         "SlowDown", "ServiceUnavailableException", "ServiceUnavailable"})) {
    // Firehose's ServiceUnavailableException means "back off": throughput limits may have
    // been exceeded (PutRecordBatch API reference).
    set(K::Throttled, true);
  } else if (isOneOf(t, {"InternalFailure", "InternalServerError", "InternalError",
                         "InternalServiceError", "InternalFailureException", "RequestTimeout",
                         "RequestTimeoutException", "PriorRequestNotComplete"})) {
    set(K::ServerError, true);
  } else if (isOneOf(t, {"InvalidArgumentException", "ValidationException",
                         "SerializationException", "InvalidKMSResourceException",
                         "InvalidSourceException", "InvalidParameterValue", "MissingParameter",
                         "UnknownOperationException", "InvalidAction"})) {
    set(K::InvalidRequest, false);
  } else if (t == "ResourceInUseException") {
    set(K::Other, true);  // the stream is being created or updated
  } else if (error.httpStatus == 429) {
    set(K::Throttled, true);
  } else if (error.httpStatus >= 500) {
    set(K::ServerError, true);
  } else if (error.httpStatus == 401 || error.httpStatus == 403) {
    set(K::Auth, false);
  } else {
    set(K::Other, false);
  }
}

// Makes room for simdjson's padding (it may read SIMDJSON_PADDING bytes past the end).
void padForSimdjson(std::string& body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
}

simdjson::dom::element parseBody(simdjson::dom::parser& parser, const std::string& body,
                                 simdjson::error_code& error) {
  simdjson::dom::element document;
  error = parser.parse(body.data(), body.size(), false).get(document);
  return document;
}

// The error of an answer that is not 2xx: __type and message from a JSON body, else the
// x-amzn-ErrorType header and the start of whatever the body is (an HTML page from a proxy).
FirehoseError errorFromAnswer(const HttpResponse& response, simdjson::dom::parser& parser) {
  FirehoseError error;
  error.httpStatus = response.status;
  error.requestId = oneLine(headerValue(response.headers, "x-amzn-RequestId"));
  simdjson::error_code parseError;
  simdjson::dom::element document = parseBody(parser, response.body, parseError);
  bool haveMessage = false;
  if (!parseError && document.is_object()) {
    std::string_view text;
    if (!document["__type"].get(text)) error.type = errorCode(text);
    if (!document["message"].get(text) || !document["Message"].get(text)) {
      error.message = oneLine(text);
      haveMessage = true;
    }
  }
  if (error.type.empty()) error.type = errorCode(headerValue(response.headers, "x-amzn-ErrorType"));
  if (!haveMessage) error.message = oneLine(std::string_view(response.body).substr(0, 200));
  classify(error);
  return error;
}

FirehoseError badResponse(int status, std::string message) {
  FirehoseError error;
  error.kind = FirehoseErrorKind::BadResponse;
  error.retryable = true;
  error.httpStatus = status;
  error.message = std::move(message);
  return error;
}

// JSON string content for a stream name (RFC 8259 §7). Names are [a-zA-Z0-9_.-] in practice;
// anything else is escaped so the request stays well-formed and Firehose names the problem.
void appendJsonString(std::string& out, std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out.append("\\u00");
      out.append(toHex(std::string_view(&c, 1)));
    } else {
      out.push_back(c);
    }
  }
}

size_t jsonStringSize(std::string_view text) {
  size_t size = 0;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    size += (c == '"' || c == '\\') ? 2 : byte < 0x20 ? 6 : 1;
  }
  return size;
}

// A string field that may be absent or null; anything else of the wrong type reads as empty.
std::string stringField(simdjson::dom::element object, std::string_view key) {
  std::string_view value;
  if (object[key].get(value)) return {};
  return std::string(value);
}

}  // namespace

std::string_view toString(FirehoseErrorKind kind) {
  switch (kind) {
    case FirehoseErrorKind::Transport:
      return "transport";
    case FirehoseErrorKind::Credentials:
      return "credentials";
    case FirehoseErrorKind::Auth:
      return "auth";
    case FirehoseErrorKind::NotFound:
      return "not_found";
    case FirehoseErrorKind::Throttled:
      return "throttled";
    case FirehoseErrorKind::ServerError:
      return "server_error";
    case FirehoseErrorKind::InvalidRequest:
      return "invalid_request";
    case FirehoseErrorKind::BadResponse:
      return "bad_response";
    case FirehoseErrorKind::Other:
      return "other";
  }
  return "other";
}

std::string FirehoseError::describe() const {
  switch (kind) {
    case FirehoseErrorKind::Transport:
      return fmt::format("no answer: {}", message);
    case FirehoseErrorKind::Credentials:
      return fmt::format("no credentials: {}", message);
    case FirehoseErrorKind::BadResponse:
      return fmt::format("unreadable answer (HTTP {}): {}", httpStatus, message);
    default:
      break;
  }
  std::string head = type.empty() ? fmt::format("HTTP {}", httpStatus)
                                  : fmt::format("{} (HTTP {})", type, httpStatus);
  return message.empty() ? head : fmt::format("{}: {}", head, message);
}

FirehoseClient::FirehoseClient(HttpClient& http, std::string endpoint, std::string region,
                               CredentialsSource credentials, const Clock& clock)
    : http_(http),
      endpoint_(std::move(endpoint)),
      url_(requestUrl(endpoint_)),
      region_(std::move(region)),
      credentials_(std::move(credentials)),
      clock_(clock),
      parser_(std::make_unique<Parser>()) {}

FirehoseClient::~FirehoseClient() = default;

std::optional<FirehoseError> FirehoseClient::call(std::string_view operation, std::string body,
                                                  std::chrono::milliseconds timeout) {
  Credentials credentials;
  try {
    credentials = credentials_();
  } catch (const std::exception& e) {
    FirehoseError error;
    error.kind = FirehoseErrorKind::Credentials;
    error.retryable = true;  // providers are asked again on the next attempt
    error.message = oneLine(e.what());
    return error;
  }

  HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.headers.reserve(8);
  request.headers.emplace_back("Content-Type", kContentType);
  request.headers.emplace_back("X-Amz-Target", fmt::format("{}{}", kTargetPrefix, operation));
  request.body = std::move(body);
  request.timeout = timeout;
  SigningParams params;
  params.region = region_;
  params.service = "firehose";
  params.epochSeconds = clock_.nowMicros() / 1000000;
  try {
    signRequest(request, credentials, params);
    response_ = http_.send(request);
  } catch (const std::exception& e) {
    // Neither is expected to throw (HttpClient reports transport failures as values); should
    // either do so, the delivery path still gets a value, as DeliveryTarget promises.
    response_ = HttpResponse{};
    response_.error = e.what();
  }
  if (response_.transportFailed()) {
    FirehoseError error;
    error.kind = FirehoseErrorKind::Transport;
    error.retryable = true;
    error.message = oneLine(response_.error.empty() ? "no answer" : response_.error);
    return error;
  }
  padForSimdjson(response_.body);
  if (response_.status < 200 || response_.status > 299) {
    return errorFromAnswer(response_, parser_->dom);
  }
  return std::nullopt;
}

DescribeResult FirehoseClient::describeDeliveryStream(const std::string& streamName) {
  DescribeResult result;
  std::string body = "{\"DeliveryStreamName\":\"";
  appendJsonString(body, streamName);
  body.append("\"}");
  result.error = call("DescribeDeliveryStream", std::move(body), kDescribeTimeout);
  if (result.error) return result;

  simdjson::error_code parseError;
  simdjson::dom::element document = parseBody(parser_->dom, response_.body, parseError);
  std::string_view status;
  if (parseError || document["DeliveryStreamDescription"]["DeliveryStreamStatus"].get(status) ||
      status.empty()) {
    result.error =
        badResponse(response_.status,
                    parseError ? fmt::format("not JSON ({})", simdjson::error_message(parseError))
                               : "no DeliveryStreamDescription.DeliveryStreamStatus");
    return result;
  }
  result.status = oneLine(status);
  std::string_view arn;
  if (!document["DeliveryStreamDescription"]["DeliveryStreamARN"].get(arn)) {
    result.arn = oneLine(arn);
  }
  return result;
}

std::string FirehoseClient::putRecordBatchBody(std::string_view streamName,
                                               std::span<const std::string> records) {
  static constexpr std::string_view kHead = "{\"DeliveryStreamName\":\"";
  static constexpr std::string_view kRecords = "\",\"Records\":[";
  static constexpr std::string_view kRecordHead = "{\"Data\":\"";
  static constexpr std::string_view kRecordTail = "\"}";
  static constexpr std::string_view kTail = "]}";
  size_t size = kHead.size() + jsonStringSize(streamName) + kRecords.size() + kTail.size();
  for (const std::string& record : records) {
    size += kRecordHead.size() + base64EncodedSize(record.size()) + kRecordTail.size();
  }
  if (!records.empty()) size += records.size() - 1;  // commas
  std::string body;
  body.reserve(size);
  body.append(kHead);
  appendJsonString(body, streamName);
  body.append(kRecords);
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append(kRecordHead);
    appendBase64(body, records[i]);
    body.append(kRecordTail);
  }
  body.append(kTail);
  return body;
}

PutBatchResult FirehoseClient::putRecordBatch(const std::string& streamName,
                                              std::span<const std::string> records) {
  PutBatchResult result;
  result.error = call("PutRecordBatch", putRecordBatchBody(streamName, records), kPutTimeout);
  if (result.error) return result;

  simdjson::error_code parseError;
  simdjson::dom::element document = parseBody(parser_->dom, response_.body, parseError);
  if (parseError) {
    result.error = badResponse(response_.status,
                               fmt::format("not JSON ({})", simdjson::error_message(parseError)));
    return result;
  }
  simdjson::dom::array entries;
  if (document["RequestResponses"].get(entries)) {
    result.error = badResponse(response_.status, "no RequestResponses array");
    return result;
  }
  int64_t failed = 0;
  if (!document["FailedPutCount"].get(failed)) result.failedPutCount = failed;
  result.responses.reserve(entries.size());
  for (simdjson::dom::element entry : entries) {
    PutRecordResponse& response = result.responses.emplace_back();
    if (!entry.is_object()) {
      // Neither a RecordId nor an ErrorCode: the record counts as failed.
      response.errorCode = "MalformedResponseEntry";
      continue;
    }
    response.recordId = stringField(entry, "RecordId");
    response.errorCode = oneLine(stringField(entry, "ErrorCode"));
    response.errorMessage = oneLine(stringField(entry, "ErrorMessage"));
  }
  return result;
}

std::string accountOfArn(std::string_view arn) {
  // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
  size_t start = 0;
  for (int field = 0; field < 4; ++field) {
    start = arn.find(':', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  if (!arn.starts_with("arn:")) return {};
  const size_t end = arn.find(':', start);
  if (end == std::string_view::npos) return {};
  return std::string(arn.substr(start, end - start));
}

std::string requireActiveStream(FirehoseClient& client, const std::string& streamName) {
  DescribeResult result = client.describeDeliveryStream(streamName);
  auto fail = [](std::string line) { throw StartupError(kExitConfig, std::move(line)); };
  if (result.error) {
    const FirehoseError& e = *result.error;
    switch (e.kind) {
      case FirehoseErrorKind::NotFound:
        fail(fmt::format("Firehose stream '{}' not found in {} ({}): {}", streamName,
                         client.region(), client.endpoint(), e.describe()));
        break;
      case FirehoseErrorKind::Auth:
        fail(fmt::format("AWS credentials do not work for Firehose at {}: {}", client.endpoint(),
                         e.describe()));
        break;
      case FirehoseErrorKind::Credentials:
        fail(fmt::format("no usable AWS credentials: {}", e.message));
        break;
      case FirehoseErrorKind::Transport:
        fail(fmt::format("cannot reach Firehose at {}: {}", client.endpoint(), e.message));
        break;
      default:
        fail(fmt::format("DescribeDeliveryStream '{}' at {} failed: {}", streamName,
                         client.endpoint(), e.describe()));
    }
  }
  if (result.status != "ACTIVE") {
    fail(fmt::format("Firehose stream '{}' in {} is {}, not ACTIVE", streamName, client.region(),
                     result.status));
  }
  return accountOfArn(result.arn);
}

}  // namespace kinesyslog::aws
