#include "deliver/firehose_target.h"

#include <gtest/gtest.h>

#include "aws/fake_http_client.h"

namespace kinesyslog::deliver {
namespace {

using aws::testing::FakeHttpClient;

// A PutRecordBatch answer: each entry is a RecordId or, starting with '!', an ErrorCode.
std::string answerWith(const std::vector<std::string>& entries) {
  std::string body = R"({"FailedPutCount":0,"RequestResponses":[)";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) body += ",";
    if (entries[i].starts_with("!")) {
      body += R"({"ErrorCode":")" + entries[i].substr(1) + R"(","ErrorMessage":"msg )" +
              entries[i].substr(1) + R"("})";
    } else {
      body += R"({"RecordId":")" + entries[i] + R"("})";
    }
  }
  return body + "]}";
}

class FirehoseTargetTest : public ::testing::Test {
 protected:
  FakeHttpClient http;
  ManualClock clock{1700000000LL * 1000000};
  aws::FirehoseClient client{http, "https://firehose.us-east-1.amazonaws.com", "us-east-1",
                             [] {
                               return aws::Credentials{"AKID", "secret", "", {}, "test"};
                             },
                             clock};
  FirehoseTarget target{client, "syslog-stream"};
  std::vector<std::string> records{"r0", "r1", "r2", "r3"};
};

TEST_F(FirehoseTargetTest, AllAccepted) {
  http.answer(200, answerWith({"id0", "id1", "id2", "id3"}));
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, true));
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(result.retryable);
  EXPECT_TRUE(target.recordErrorCounts().empty());
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_NE(http.requests[0].body.find("\"syslog-stream\""), std::string::npos);
}

TEST_F(FirehoseTargetTest, Describe) {
  EXPECT_EQ(
      target.describe(),
      "Firehose stream syslog-stream in us-east-1 (https://firehose.us-east-1.amazonaws.com)");
}

TEST_F(FirehoseTargetTest, PerRecordErrorsAreSummarisedAndCounted) {
  http.answer(200, answerWith({"id0", "!ServiceUnavailableException", "!InternalFailure",
                               "!ServiceUnavailableException"}));
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, (std::vector<bool>{true, false, false, false}));
  EXPECT_TRUE(result.retryable);
  EXPECT_EQ(result.error,
            "3 of 4 records failed: ServiceUnavailableException x2, InternalFailure x1 "
            "(first: msg ServiceUnavailableException)");
  EXPECT_EQ(result.throttledRecords, 2u);  // ServiceUnavailableException: the stream's quota
  EXPECT_TRUE(result.throttled());
  EXPECT_FALSE(result.requestThrottled);
  http.answer(200, answerWith({"!InternalFailure", "id1", "id2", "id3"}));
  (void)target.put(records);  // counted in recordErrorCounts()
  auto counts = target.recordErrorCounts();
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts["ServiceUnavailableException"], 2u);
  EXPECT_EQ(counts["InternalFailure"], 2u);
  // Firehose throttles records one by one with ServiceUnavailableException: the first request.
  EXPECT_EQ(target.throttledRequests(), 1u);
}

TEST_F(FirehoseTargetTest, AnEntryWithoutRecordIdIsNotAccepted) {
  http.answer(200, R"({"FailedPutCount":0,"RequestResponses":[{"RecordId":"a"},{},
    {"RecordId":""},{"RecordId":"d","ErrorCode":"InternalFailure"}]})");
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(result.error, "3 of 4 records failed: NoRecordId x2, InternalFailure x1");
  EXPECT_EQ(target.recordErrorCounts()["NoRecordId"], 2u);
}

TEST_F(FirehoseTargetTest, FewerOrMoreResponsesThanRecordsMeansAllFailed) {
  http.answer(200, answerWith({"id0", "id1", "id2"}));
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, false));
  EXPECT_EQ(result.error, "PutRecordBatch answered 3 results for 4 records; all treated as failed");
  http.answer(200, answerWith({"id0", "id1", "id2", "id3", "id4"}));
  result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, false));
  EXPECT_EQ(target.mismatchedResponses(), 2u);
}

TEST_F(FirehoseTargetTest, WholeRequestFailures) {
  http.answer(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})");
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, false));
  EXPECT_TRUE(result.retryable);
  EXPECT_EQ(result.error,
            "PutRecordBatch of 4 records failed: ThrottlingException (HTTP 400): Rate exceeded");

  http.answer(400, R"({"__type":"ResourceNotFoundException","message":"gone"})");
  result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, false));
  EXPECT_FALSE(result.retryable);

  http.answer(500, "<html>oops</html>");
  (void)target.put(records);  // counted in requestErrorCounts()
  http.answer(200, "not json");
  result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(4, false));
  EXPECT_NE(result.error.find("unreadable answer (HTTP 200)"), std::string::npos) << result.error;
  http.answer(200, "");
  (void)target.put(records);  // counted in requestErrorCounts()
  (void)target.put(
      records);  // counted in requestErrorCounts()  // no canned answer: transport failure

  auto counts = target.requestErrorCounts();
  EXPECT_EQ(counts["ThrottlingException"], 1u);
  EXPECT_EQ(counts["ResourceNotFoundException"], 1u);
  EXPECT_EQ(counts["server_error"], 1u);
  EXPECT_EQ(counts["bad_response"], 2u);
  EXPECT_EQ(counts["transport"], 1u);
  EXPECT_TRUE(target.recordErrorCounts().empty());
  EXPECT_EQ(target.throttledRequests(), 1u);  // the ThrottlingException
}

TEST_F(FirehoseTargetTest, WhichWholeRequestFailuresAreThrottling) {
  struct Case {
    int status;
    const char* body;
    bool throttled;
  };
  const Case cases[] = {
      {500, R"({"__type":"ServiceUnavailableException","message":"Slow down."})", true},
      {400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})", true},
      {400, R"({"__type":"LimitExceededException","message":"Rate exceeded for stream"})", true},
      // An outage of the endpoint, not the stream's quota.
      {503, R"({"__type":"ServiceUnavailableException","message":"Service Unavailable"})", false},
      {500, R"({"__type":"InternalFailure","message":"oops"})", false},
      {400, R"({"__type":"ResourceNotFoundException","message":"gone"})", false},
  };
  for (const Case& c : cases) {
    http.answer(c.status, c.body);
    PutResult result = target.put(records);
    EXPECT_EQ(result.requestThrottled, c.throttled) << c.status << " " << c.body;
    EXPECT_EQ(result.throttledRecords, 0u);
  }
}

TEST_F(FirehoseTargetTest, NoRecordsNoRequest) {
  PutResult result = target.put(std::vector<std::string>{});
  EXPECT_TRUE(result.accepted.empty());
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(FirehoseTargetTest, DistinctCodesAreBounded) {
  for (size_t i = 0; i < FirehoseTarget::kMaxDistinctCodes + 10; ++i) {
    std::string code = "!Code" + std::to_string(i);
    http.answer(200, answerWith({code}));
    (void)target.put(std::vector<std::string>{"x"});  // counted in recordErrorCounts()
  }
  auto counts = target.recordErrorCounts();
  EXPECT_EQ(counts.size(), FirehoseTarget::kMaxDistinctCodes + 1);
  EXPECT_EQ(counts["other"], 10u);
}

TEST_F(FirehoseTargetTest, LongErrorSummariesStayShort) {
  http.answer(200, answerWith({"!A", "!B", "!C", "!D", "!E", "!F"}));
  PutResult result = target.put(std::vector<std::string>{"1", "2", "3", "4", "5", "6"});
  EXPECT_EQ(result.error,
            "6 of 6 records failed: A x1, B x1, C x1, D x1 and 2 more codes (first: msg A)");
}

}  // namespace
}  // namespace kinesyslog::deliver
