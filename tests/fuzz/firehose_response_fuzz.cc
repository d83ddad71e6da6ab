// Fuzz target for the Firehose answers the relay reads (src/aws/firehose_client.h): the whole
// client is driven through the fake HTTP client, which answers with a fuzzed status, headers
// and body. Byte 0 chooses the call (DescribeDeliveryStream or PutRecordBatch of 1 to 8
// records) and whether the body is raw bytes or a PutRecordBatch answer built from the input.
// Invariants:
//  - never an exception; an error result for a transport failure (kind Transport, HTTP 0), for
//    any status outside 2xx (that status, never BadResponse) and for a 2xx body that is not the
//    operation's JSON (BadResponse);
//  - every text taken from the answer (type, message, request id, stream status, error codes)
//    is one line: no control characters, at most 300 characters and an ellipsis;
//  - a built PutRecordBatch answer is read exactly: one response per entry, in order, with the
//    record id or the error code and message sent, and FailedPutCount;
//  - the request is the operation asked for, signed, with the records base64-encoded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aws/fake_http_client.h"
#include "aws/firehose_client.h"
#include "record/backslash_replace_oracle.h"
#include "record/json_escape.h"
#include "util/clock.h"

namespace {

using kinesyslog::aws::FirehoseClient;
using kinesyslog::aws::FirehoseError;
using kinesyslog::aws::FirehoseErrorKind;
using kinesyslog::aws::HttpResponse;
using kinesyslog::aws::testing::FakeHttpClient;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  std::string_view bytes(size_t n) {
    n = std::min<size_t>(n, static_cast<size_t>(end_ - p_));
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }
  std::string_view rest() { return bytes(static_cast<size_t>(end_ - p_)); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void checkLine(std::string_view text) {
  if (text.size() > 303) __builtin_trap();
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
  }
}

void checkError(const FirehoseError& error, const HttpResponse& answer) {
  checkLine(error.type);
  checkLine(error.message);
  checkLine(error.requestId);
  if (answer.status == 0) {
    if (error.kind != FirehoseErrorKind::Transport || error.httpStatus != 0) __builtin_trap();
  } else if (answer.status < 200 || answer.status > 299) {
    if (error.kind == FirehoseErrorKind::BadResponse ||
        error.kind == FirehoseErrorKind::Transport || error.httpStatus != answer.status) {
      __builtin_trap();
    }
  } else if (error.kind != FirehoseErrorKind::BadResponse) {
    __builtin_trap();
  }
  (void)error.describe();
}

std::string jsonString(std::string_view bytes) {
  std::string out = "\"";
  kinesyslog::record::appendJsonEscaped(out, bytes);
  return out + "\"";
}

struct Entry {
  std::string recordId;
  std::string errorCode;
  std::string errorMessage;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Input in(data, size);
  const unsigned mode = in.byte();
  const bool describe = (mode & 1) != 0;
  const bool built = !describe && (mode & 2) != 0;
  const size_t recordCount = 1 + (mode >> 2) % 8;

  static constexpr int kStatuses[] = {200, 200, 200, 0, 400, 403, 404, 413, 429, 500, 503, 302};
  HttpResponse answer;
  answer.status = kStatuses[in.byte() % 12];
  if (answer.status == 0) answer.error = "connection reset\r\nby peer";
  std::vector<Entry> entries;
  int64_t failed = 0;
  if (built) {
    // A PutRecordBatch answer: FailedPutCount and one entry per record (or another number).
    const size_t n = in.byte() % 10;
    std::string body = "{\"FailedPutCount\":";
    failed = static_cast<int64_t>(in.byte());
    body += std::to_string(failed) + ",\"Encrypted\":false,\"RequestResponses\":[";
    for (size_t i = 0; i < n; ++i) {
      Entry& e = entries.emplace_back();
      if (i > 0) body += ',';
      const unsigned kind = in.byte();
      if (kind & 1) {
        const std::string_view id = in.bytes(in.byte() % 48);
        body += "{\"RecordId\":" + jsonString(id) + "}";
        e.recordId = kinesyslog::record::oracle::backslashReplace(id);  // as JSON decodes it
      } else {
        // Plain printable text, so the one-line form of it is itself.
        for (unsigned k = in.byte() % 40; k > 0; --k)
          e.errorCode += static_cast<char>('A' + in.byte() % 26);
        for (unsigned k = in.byte() % 60; k > 0; --k)
          e.errorMessage += static_cast<char>('a' + in.byte() % 26);
        body += "{\"ErrorCode\":" + jsonString(e.errorCode) +
                ",\"ErrorMessage\":" + jsonString(e.errorMessage) + "}";
      }
    }
    body += "]}";
    answer.body = std::move(body);
  } else {
    const unsigned headers = in.byte();
    if (headers & 1) answer.headers.emplace_back("x-amzn-RequestId", std::string(in.bytes(40)));
    if (headers & 2) answer.headers.emplace_back("X-Amzn-ErrorType", std::string(in.bytes(60)));
    answer.body = std::string(in.rest());
  }

  FakeHttpClient http;
  http.responses.push_back(answer);
  kinesyslog::ManualClock clock(1'781'524'800'000'000);
  FirehoseClient client(
      http, "https://firehose.us-east-1.amazonaws.com", "us-east-1",
      [] {
        kinesyslog::aws::Credentials c;
        c.accessKeyId = "AKIDEXAMPLE";
        c.secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        return c;
      },
      clock);

  try {
    if (describe) {
      const auto result = client.describeDeliveryStream("kinesyslog-stream");
      if (result.error) {
        checkError(*result.error, answer);
      } else {
        if (answer.status < 200 || answer.status > 299 || result.status.empty()) __builtin_trap();
        checkLine(result.status);
        checkLine(result.arn);
      }
    } else {
      std::vector<std::string> records;
      for (size_t i = 0; i < recordCount; ++i) records.push_back(std::string(i * 7, 'r'));
      const auto result = client.putRecordBatch("kinesyslog-stream", records);
      const std::string& body = http.requests.at(0).body;
      if (body != FirehoseClient::putRecordBatchBody("kinesyslog-stream", records)) {
        __builtin_trap();
      }
      if (result.error) {
        if (!result.responses.empty() || (built && answer.status / 100 == 2)) __builtin_trap();
        checkError(*result.error, answer);
      } else {
        if (answer.status < 200 || answer.status > 299) __builtin_trap();
        for (const auto& r : result.responses) {
          checkLine(r.errorCode);
          checkLine(r.errorMessage);
        }
        if (built) {
          if (result.responses.size() != entries.size() || result.failedPutCount != failed) {
            __builtin_trap();
          }
          for (size_t i = 0; i < entries.size(); ++i) {
            const auto& r = result.responses[i];
            if (r.recordId != entries[i].recordId || r.errorCode != entries[i].errorCode ||
                r.errorMessage != entries[i].errorMessage) {
              __builtin_trap();
            }
          }
        }
      }
    }
  } catch (...) {
    __builtin_trap();  // neither call throws: every failure is a value
  }
  if (http.requests.size() != 1) __builtin_trap();
  const auto& request = http.requests[0];
  if (request.method != "POST" || !kinesyslog::aws::testing::headerOf(request, "Authorization") ||
      kinesyslog::aws::testing::headerOf(request, "X-Amz-Target") !=
          std::string("Firehose_20150804.") +
              (describe ? "DescribeDeliveryStream" : "PutRecordBatch")) {
    __builtin_trap();
  }
  return 0;
}
