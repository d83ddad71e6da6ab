#include "metrics/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kinesyslog::metrics {
namespace {

struct Parsed {
  HttpParseOutcome outcome;
  HttpRequestError error;
  std::string method;
  std::string target;
  size_t consumed;
  bool operator==(const Parsed&) const = default;
};

Parsed parse(std::string_view bytes) {
  HttpRequestParser parser;
  (void)parser.feed(bytes);  // outcome() is read after
  return {parser.outcome(), parser.error(), parser.request().method, parser.request().target,
          parser.consumed()};
}

Parsed parseSplit(std::string_view bytes, size_t at) {
  HttpRequestParser parser;
  (void)parser.feed(bytes.substr(0, at));  // outcome() is read after
  (void)parser.feed(bytes.substr(at));     // outcome() is read after
  return {parser.outcome(), parser.error(), parser.request().method, parser.request().target,
          parser.consumed()};
}

Parsed parseBytewise(std::string_view bytes) {
  HttpRequestParser parser;
  for (char c : bytes) (void)parser.feed(std::string_view(&c, 1));  // outcome() is read after
  return {parser.outcome(), parser.error(), parser.request().method, parser.request().target,
          parser.consumed()};
}

const std::string kPrometheusScrape =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9100\r\n"
    "User-Agent: Prometheus/2.42.0\r\n"
    "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

TEST(HttpRequestParser, ReadsPrometheusScrape) {
  const Parsed p = parse(kPrometheusScrape);
  EXPECT_EQ(p.outcome, HttpParseOutcome::kDone);
  EXPECT_EQ(p.error, HttpRequestError::kNone);
  EXPECT_EQ(p.method, "GET");
  EXPECT_EQ(p.target, "/metrics");
  EXPECT_EQ(p.consumed, kPrometheusScrape.size());
}

TEST(HttpRequestParser, EverySplitPointGivesTheSameAnswer) {
  const std::vector<std::string> requests = {
      kPrometheusScrape,
      "HEAD /readyz HTTP/1.0\n\n",
      "GET /healthz?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
      "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
      "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET /metrics HTTP/2.0\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET /metrics HTTP/1.1\r\n folded\r\n\r\n",
  };
  for (const auto& request : requests) {
    const Parsed whole = parse(request);
    EXPECT_NE(whole.outcome, HttpParseOutcome::kNeedMore) << request;
    for (size_t at = 0; at <= request.size(); ++at) {
      EXPECT_EQ(parseSplit(request, at), whole) << request << " split at " << at;
    }
    EXPECT_EQ(parseBytewise(request), whole) << request;
  }
}

TEST(HttpRequestParser, EveryPrefixNeedsMore) {
  for (size_t n = 0; n < kPrometheusScrape.size(); ++n) {
    EXPECT_EQ(parse(kPrometheusScrape.substr(0, n)).outcome, HttpParseOutcome::kNeedMore) << n;
  }
}

// Control bytes and DEL are refused wherever they stand (the line ends excepted where a line may
// end); nothing else of the head is read after them.
TEST(HttpRequestParser, EveryBadByteAtEveryPositionIsRefused) {
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string bad = std::string("\0\x01\x08\x0b\x0c\x1b\x7f", 7);
  for (size_t at = 0; at < request.size(); ++at) {
    for (char b : bad) {
      std::string mutated = request;
      mutated[at] = b;
      const Parsed p = parse(mutated);
      EXPECT_EQ(p.outcome, HttpParseOutcome::kError) << "byte " << int(b) << " at " << at;
      EXPECT_EQ(p.error, HttpRequestError::kMalformed) << "byte " << int(b) << " at " << at;
      EXPECT_EQ(p.consumed, at + 1);
    }
  }
}

TEST(HttpRequestParser, BareCrIsMalformed) {
  EXPECT_EQ(parse("GET / HTTP/1.1\rHost: a\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\rX").error, HttpRequestError::kMalformed);
}

TEST(HttpRequestParser, RequestLineShapes) {
  EXPECT_EQ(parse(" GET / HTTP/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1 \r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET http://a/ HTTP/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET * HTTP/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET /\r\n\r\n").error, HttpRequestError::kMalformed);  // HTTP/0.9
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n").outcome, HttpParseOutcome::kDone);
  EXPECT_EQ(parse("GET / http/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.10\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/3.0\r\n\r\n").error, HttpRequestError::kVersionNotSupported);
  EXPECT_EQ(parse("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n").error, HttpRequestError::kMalformed);
  // Methods are not judged here: the server answers 405.
  EXPECT_EQ(parse("DELETE / HTTP/1.1\r\n\r\n").method, "DELETE");
}

TEST(HttpRequestParser, FieldShapes) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n: a\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n").outcome, HttpParseOutcome::kDone);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX:\r\n\r\n").outcome, HttpParseOutcome::kDone);
}

TEST(HttpRequestParser, BodiesAreRefused) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\n").error,
            HttpRequestError::kBodyNotAccepted);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\ncontent-length:99999999999999999999999\r\n").error,
            HttpRequestError::kBodyNotAccepted);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n").error,
            HttpRequestError::kBodyNotAccepted);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1x\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length:\r\n").error, HttpRequestError::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 00\r\n\r\n").outcome,
            HttpParseOutcome::kDone);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 1\r\n").outcome,
            HttpParseOutcome::kError);
}

TEST(HttpRequestParser, HeadIsBounded) {
  std::string huge = "GET /" + std::string(HttpRequestParser::kMaxHeadBytes, 'a');
  const Parsed p = parse(huge);
  EXPECT_EQ(p.error, HttpRequestError::kHeadTooLarge);
  EXPECT_EQ(p.consumed, HttpRequestParser::kMaxHeadBytes);

  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= HttpRequestParser::kMaxHeaders; ++i) many += "X: y\r\n";
  EXPECT_EQ(parse(many).error, HttpRequestError::kHeadTooLarge);
}

TEST(HttpRequestParser, StopsAtTheEndOfTheHead) {
  HttpRequestParser parser;
  const std::string head = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parser.feed(head + "GET /again HTTP/1.1\r\n\r\n"), HttpParseOutcome::kDone);
  EXPECT_EQ(parser.consumed(), head.size());
  EXPECT_EQ(parser.feed("garbage\0"), HttpParseOutcome::kDone);
  EXPECT_EQ(parser.request().target, "/");
}

TEST(HttpRequestParser, StatusCodes) {
  EXPECT_EQ(httpStatusFor(HttpRequestError::kMalformed), 400);
  EXPECT_EQ(httpStatusFor(HttpRequestError::kHeadTooLarge), 431);
  EXPECT_EQ(httpStatusFor(HttpRequestError::kBodyNotAccepted), 413);
  EXPECT_EQ(httpStatusFor(HttpRequestError::kVersionNotSupported), 505);
}

}  // namespace
}  // namespace kinesyslog::metrics
