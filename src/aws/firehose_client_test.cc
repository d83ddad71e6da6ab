#include "aws/firehose_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <random>

#include "aws/fake_http_client.h"
#include "util/startup_error.h"

namespace kinesyslog::aws {
namespace {

using testing::FakeHttpClient;
using testing::headerOf;

// OpenSSL's decoder, independent of the encoder under test.
std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// The records a PutRecordBatch body carries, decoded back.
std::vector<std::string> recordsOf(const std::string& body, std::string* streamName) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS);
  std::string_view name;
  EXPECT_EQ(doc["DeliveryStreamName"].get(name), simdjson::SUCCESS);
  *streamName = std::string(name);
  std::vector<std::string> records;
  for (simdjson::dom::element record : doc["Records"].get_array()) {
    std::string_view data;
    EXPECT_EQ(record["Data"].get(data), simdjson::SUCCESS);
    auto decoded = decodeBase64(data);
    EXPECT_TRUE(decoded) << data;
    records.push_back(decoded.value_or("<bad base64>"));
  }
  return records;
}

class FirehoseClientTest : public ::testing::Test {
 protected:
  FakeHttpClient http;
  ManualClock clock{1700000000LL * 1000000};
  int credentialCalls = 0;
  FirehoseClient client{
      http, "https://firehose.eu-west-1.amazonaws.com", "eu-west-1",
      [this] {
        ++credentialCalls;
        return Credentials{"AKIDEXAMPLE", "secret", "session-token", std::nullopt, "test"};
      },
      clock};

  FirehoseError putError(int status, std::string body, HttpHeaders headers = {}) {
    http.answer(status, std::move(body), std::move(headers));
    PutBatchResult result = client.putRecordBatch("s", std::vector<std::string>{"a"});
    EXPECT_TRUE(result.error);
    EXPECT_TRUE(result.responses.empty());
    return result.error.value_or(FirehoseError{});
  }
};

TEST_F(FirehoseClientTest, PutRecordBatchSendsASignedJson11Request) {
  std::vector<std::string> records = {"", "a", "ab", "abc", std::string("\0\xff\x1f\"\\", 5)};
  std::mt19937 random(7);
  std::string big(1024000, '\0');
  for (char& c : big) c = static_cast<char>(random());
  records.push_back(big);

  http.answer(200, R"({"Encrypted":false,"FailedPutCount":0,"RequestResponses":[
    {"RecordId":"r0"},{"RecordId":"r1"},{"RecordId":"r2"},{"RecordId":"r3"},{"RecordId":"r4"},
    {"RecordId":"r5"}]})");
  PutBatchResult result = client.putRecordBatch("my-stream", records);
  ASSERT_FALSE(result.error) << result.error->describe();
  EXPECT_EQ(result.failedPutCount, 0);
  ASSERT_EQ(result.responses.size(), 6u);
  EXPECT_EQ(result.responses[5].recordId, "r5");
  EXPECT_EQ(result.responses[5].errorCode, "");

  ASSERT_EQ(http.requests.size(), 1u);
  const HttpRequest& r = http.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://firehose.eu-west-1.amazonaws.com/");
  EXPECT_EQ(headerOf(r, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(headerOf(r, "X-Amz-Target"), "Firehose_20150804.PutRecordBatch");
  EXPECT_EQ(headerOf(r, "X-Amz-Security-Token"), "session-token");
  std::string auth = headerOf(r, "Authorization").value_or("");
  EXPECT_NE(auth.find("Credential=AKIDEXAMPLE/"), std::string::npos) << auth;
  EXPECT_NE(auth.find("/eu-west-1/firehose/aws4_request"), std::string::npos) << auth;
  EXPECT_EQ(r.timeout, FirehoseClient::kPutTimeout);

  std::string name;
  EXPECT_EQ(recordsOf(r.body, &name), records);
  EXPECT_EQ(name, "my-stream");
  EXPECT_EQ(credentialCalls, 1);
}

TEST_F(FirehoseClientTest, BodyIsExactAndSizedUpFront) {
  std::string body =
      FirehoseClient::putRecordBatchBody("s\"\x01", std::vector<std::string>{"hi", "\xfb\xff"});
  EXPECT_EQ(body,
            R"({"DeliveryStreamName":"s\"\u0001","Records":[{"Data":"aGk="},{"Data":"+/8="}]})");
  EXPECT_EQ(FirehoseClient::putRecordBatchBody("s", std::vector<std::string>{}),
            R"({"DeliveryStreamName":"s","Records":[]})");
  // One allocation: the reserved size is exact.
  std::vector<std::string> records(500, std::string(8000, 'x'));
  std::string large = FirehoseClient::putRecordBatchBody("stream", records);
  EXPECT_EQ(large.size(), 44u + 500 * (12 + 10668) - 1);
  EXPECT_EQ(large.capacity(), large.size());  // libstdc++ reserves exactly
}

TEST_F(FirehoseClientTest, PerRecordResultsIncludingErrorsAndOddEntries) {
  http.answer(200, R"({"FailedPutCount":3,"RequestResponses":[
    {"RecordId":"r0"},
    {"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow\ndown."},
    {"RecordId":null,"ErrorCode":"InternalFailure","ErrorMessage":null},
    7,
    {}]})");
  PutBatchResult result =
      client.putRecordBatch("s", std::vector<std::string>{"a", "b", "c", "d", "e"});
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.failedPutCount, 3);
  ASSERT_EQ(result.responses.size(), 5u);
  EXPECT_EQ(result.responses[0].recordId, "r0");
  EXPECT_EQ(result.responses[1].recordId, "");
  EXPECT_EQ(result.responses[1].errorCode, "ServiceUnavailableException");
  EXPECT_EQ(result.responses[1].errorMessage, "Slow down.");
  EXPECT_EQ(result.responses[2].errorCode, "InternalFailure");
  EXPECT_EQ(result.responses[3].errorCode, "MalformedResponseEntry");
  EXPECT_EQ(result.responses[4].recordId, "");
  EXPECT_EQ(result.responses[4].errorCode, "");
}

TEST_F(FirehoseClientTest, UnreadableSuccessfulAnswers) {
  for (const char* body : {"", "{", "[1,2]", "null", R"({"FailedPutCount":0})",
                           R"({"RequestResponses":{}})", "<html>ok</html>"}) {
    FirehoseError e = putError(200, body);
    EXPECT_EQ(e.kind, FirehoseErrorKind::BadResponse) << body;
    EXPECT_TRUE(e.retryable);
    EXPECT_EQ(e.httpStatus, 200);
  }
}

TEST_F(FirehoseClientTest, ServerErrorWithHtmlBody) {
  FirehoseError e = putError(500, "<html>\n<body>Internal Server Error</body>\n</html>",
                             {{"x-amzn-RequestId", "req-1"}});
  EXPECT_EQ(e.kind, FirehoseErrorKind::ServerError);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.type, "");
  EXPECT_EQ(e.requestId, "req-1");
  EXPECT_EQ(e.describe(), "HTTP 500: <html> <body>Internal Server Error</body> </html>");
}

TEST_F(FirehoseClientTest, ClassifiesJsonErrors) {
  struct Case {
    int status;
    const char* body;
    FirehoseErrorKind kind;
    bool retryable;
    const char* type;
  };
  using K = FirehoseErrorKind;
  for (const Case& c : std::vector<Case>{
           {400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})", K::Throttled,
            true, "ThrottlingException"},
           {400, R"({"__type":"ServiceUnavailableException","message":"Slow down."})", K::Throttled,
            true, "ServiceUnavailableException"},
           {500, R"({"__type":"ServiceUnavailableException"})", K::Throttled, true,
            "ServiceUnavailableException"},
           {400, R"({"__type":"com.amazonaws.firehose#ResourceNotFoundException","message":"no"})",
            K::NotFound, false, "ResourceNotFoundException"},
           {400,
            R"({"__type":"InvalidArgumentException:http://internal.amazon.com/coral/x/",)"
            R"("Message":"bad"})",
            K::InvalidRequest, false, "InvalidArgumentException"},
           {400, R"({"__type":"UnrecognizedClientException","message":"bad token"})", K::Auth,
            false, "UnrecognizedClientException"},
           {400, R"({"__type":"InvalidSignatureException"})", K::Auth, false,
            "InvalidSignatureException"},
           {400, R"({"__type":"AccessDeniedException"})", K::Auth, false, "AccessDeniedException"},
           {400, R"({"__type":"ExpiredTokenException"})", K::Auth, true, "ExpiredTokenException"},
           {400, R"({"__type":"InternalFailure"})", K::ServerError, true, "InternalFailure"},
           {400, R"({"__type":"SomethingNew"})", K::Other, false, "SomethingNew"},
           {503, R"({"__type":"SomethingNew"})", K::ServerError, true, "SomethingNew"},
           {429, "", K::Throttled, true, ""},
           {403, "Forbidden", K::Auth, false, ""},
           {413, "too large", K::Other, false, ""},
           {502, "", K::ServerError, true, ""},
       }) {
    FirehoseError e = putError(c.status, c.body);
    EXPECT_EQ(e.kind, c.kind) << c.body;
    EXPECT_EQ(e.retryable, c.retryable) << c.body;
    EXPECT_EQ(e.type, c.type) << c.body;
    EXPECT_EQ(e.httpStatus, c.status);
  }
}

TEST_F(FirehoseClientTest, ErrorLinesAndHeaderFallback) {
  FirehoseError e = putError(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})");
  EXPECT_EQ(e.describe(), "ThrottlingException (HTTP 400): Rate exceeded");
  e = putError(400, R"({"__type":"InvalidArgumentException","Message":"Records size exceeds"})");
  EXPECT_EQ(e.message, "Records size exceeds");
  e = putError(400, "", {{"X-Amzn-ErrorType", "ResourceNotFoundException:http://x/"}});
  EXPECT_EQ(e.kind, FirehoseErrorKind::NotFound);
  EXPECT_EQ(e.describe(), "ResourceNotFoundException (HTTP 400)");
  e = putError(400, std::string(1000, 'x'));
  EXPECT_EQ(e.message, std::string(200, 'x'));
}

TEST_F(FirehoseClientTest, TransportAndCredentialFailures) {
  http.responses.push_back({0, {}, {}, "Connection refused"});
  PutBatchResult result = client.putRecordBatch("s", std::vector<std::string>{"a"});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, FirehoseErrorKind::Transport);
  EXPECT_TRUE(result.error->retryable);
  EXPECT_EQ(result.error->describe(), "no answer: Connection refused");

  FirehoseClient noCredentials(
      http, "http://localhost:1", "us-east-1",
      []() -> Credentials { throw CredentialsError("credential_process exited 1"); }, clock);
  size_t sent = http.requests.size();
  result = noCredentials.putRecordBatch("s", std::vector<std::string>{"a"});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, FirehoseErrorKind::Credentials);
  EXPECT_EQ(result.error->describe(), "no credentials: credential_process exited 1");
  EXPECT_EQ(http.requests.size(), sent);
}

TEST_F(FirehoseClientTest, CredentialsAreAskedForEveryRequest) {
  http.answer(200, R"({"FailedPutCount":0,"RequestResponses":[{"RecordId":"1"}]})");
  http.answer(200, R"({"FailedPutCount":0,"RequestResponses":[{"RecordId":"1"}]})");
  (void)client.putRecordBatch("s",
                              std::vector<std::string>{"a"});  // only the credential calls count
  (void)client.putRecordBatch("s",
                              std::vector<std::string>{"a"});  // only the credential calls count
  EXPECT_EQ(credentialCalls, 2);
}

TEST_F(FirehoseClientTest, DescribeDeliveryStream) {
  http.answer(200, R"({"DeliveryStreamDescription":{"DeliveryStreamName":"s",
    "DeliveryStreamARN":"arn:aws:firehose:eu-west-1:123456789012:deliverystream/s",
    "DeliveryStreamStatus":"ACTIVE","DeliveryStreamType":"DirectPut","VersionId":"1",
    "Destinations":[],"HasMoreDestinations":false}})");
  DescribeResult result = client.describeDeliveryStream("s");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.status, "ACTIVE");
  const HttpRequest& r = http.requests[0];
  EXPECT_EQ(headerOf(r, "X-Amz-Target"), "Firehose_20150804.DescribeDeliveryStream");
  EXPECT_EQ(headerOf(r, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(r.body, R"({"DeliveryStreamName":"s"})");
  EXPECT_NE(headerOf(r, "Authorization").value_or(""), "");
  EXPECT_EQ(r.timeout, FirehoseClient::kDescribeTimeout);

  http.answer(200, R"({"DeliveryStreamDescription":{}})");
  result = client.describeDeliveryStream("s");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, FirehoseErrorKind::BadResponse);

  http.answer(400, R"({"__type":"ResourceNotFoundException","message":"Firehose s not found"})");
  result = client.describeDeliveryStream("s");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, FirehoseErrorKind::NotFound);
}

std::string startupLine(FirehoseClient& client, int* code) {
  try {
    requireActiveStream(client, "logs");
  } catch (const StartupError& e) {
    *code = e.exitCode();
    return e.what();
  }
  *code = 0;
  return "";
}

TEST_F(FirehoseClientTest, RequireActiveStreamExplainsInOneLine) {
  int code = -1;
  http.answer(200, R"({"DeliveryStreamDescription":{"DeliveryStreamStatus":"ACTIVE"}})");
  EXPECT_EQ(startupLine(client, &code), "");
  EXPECT_EQ(code, 0);

  http.answer(200, R"({"DeliveryStreamDescription":{"DeliveryStreamStatus":"CREATING"}})");
  EXPECT_EQ(startupLine(client, &code),
            "Firehose stream 'logs' in eu-west-1 is CREATING, not ACTIVE");
  EXPECT_EQ(code, kExitConfig);

  http.answer(400, R"({"__type":"ResourceNotFoundException",)"
                   R"("message":"Firehose logs under account 1 not found."})");
  EXPECT_EQ(
      startupLine(client, &code),
      "Firehose stream 'logs' not found in eu-west-1 (https://firehose.eu-west-1.amazonaws.com): "
      "ResourceNotFoundException (HTTP 400): Firehose logs under account 1 not found.");
  EXPECT_EQ(code, kExitConfig);

  http.answer(400, R"({"__type":"UnrecognizedClientException",)"
                   R"("message":"The security token included in the request is invalid."})");
  EXPECT_EQ(startupLine(client, &code),
            "AWS credentials do not work for Firehose at https://firehose.eu-west-1.amazonaws.com: "
            "UnrecognizedClientException (HTTP 400): The security token included in the request "
            "is invalid.");

  http.responses.push_back({0, {}, {}, "Could not resolve host"});
  EXPECT_EQ(
      startupLine(client, &code),
      "cannot reach Firehose at https://firehose.eu-west-1.amazonaws.com: Could not resolve host");

  http.answer(500, "");
  EXPECT_EQ(
      startupLine(client, &code),
      "DescribeDeliveryStream 'logs' at https://firehose.eu-west-1.amazonaws.com failed: HTTP 500");
  EXPECT_EQ(code, kExitConfig);
}

TEST_F(FirehoseClientTest, RequireActiveStreamReturnsTheStreamsAccount) {
  http.answer(200, R"({"DeliveryStreamDescription":{"DeliveryStreamStatus":"ACTIVE",)"
                   R"("DeliveryStreamARN":"arn:aws:firehose:eu-west-1:210987654321:)"
                   R"(deliverystream/logs"}})");
  EXPECT_EQ(requireActiveStream(client, "logs"), "210987654321");
  http.answer(200, R"({"DeliveryStreamDescription":{"DeliveryStreamStatus":"ACTIVE"}})");
  EXPECT_EQ(requireActiveStream(client, "logs"), "");
}

TEST(AccountOfArn, TakesTheFifthField) {
  EXPECT_EQ(accountOfArn("arn:aws:firehose:us-east-1:123456789012:deliverystream/a"),
            "123456789012");
  EXPECT_EQ(accountOfArn("arn:aws-cn:firehose:cn-north-1:1:deliverystream/a:b"), "1");
  EXPECT_EQ(accountOfArn("arn:aws:firehose:us-east-1"), "");
  EXPECT_EQ(accountOfArn("not:an:arn:at:all:x"), "");
  EXPECT_EQ(accountOfArn(""), "");
}

TEST(FirehoseErrorKind, Names) {
  EXPECT_EQ(toString(FirehoseErrorKind::Throttled), "throttled");
  EXPECT_EQ(toString(FirehoseErrorKind::NotFound), "not_found");
  EXPECT_EQ(toString(FirehoseErrorKind::Transport), "transport");
}

}  // namespace
}  // namespace kinesyslog::aws
