#include "aws/sigv4.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kinesyslog::aws {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMinimumSuiteCases = 30;

// The AWS suite is kept in the repository (tests/testdata, with its licence). CTest sets
// KINESYSLOG_SOURCE_DIR to the source tree; the build also compiles the path in, so the binary
// finds the suite when run by hand.
fs::path suiteDirectory() {
  const char* source = std::getenv("KINESYSLOG_SOURCE_DIR");
  if (source == nullptr || *source == '\0') source = KINESYSLOG_TEST_SOURCE_DIR;
  return fs::path(source) / "tests" / "testdata" / "aws-sigv4-test-suite";
}

std::vector<std::string> suiteCases() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(suiteDirectory(), error)) {
    if (entry.is_directory() && fs::exists(entry.path() / "context.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int64_t parseTimestamp(std::string_view text) {
  // "2015-08-30T12:36:00Z"
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(std::string(text).c_str(), "%d-%u-%uT%u:%u:%uZ", &y, &mo, &d, &h, &mi, &s) != 6) {
    ADD_FAILURE() << "bad timestamp " << text;
    return 0;
  }
  using namespace std::chrono;
  const sys_seconds time =
      sys_days{year{y} / month{mo} / std::chrono::day{d}} + hours{h} + minutes{mi} + seconds{s};
  return time.time_since_epoch().count();
}

// request.txt is a raw HTTP/1.1 request: the target may hold spaces (get-space-*), header lines
// are "Name:value", a line starting with whitespace continues the previous value (obs-fold,
// RFC 7230 §3.2.4, replaced by a space), and the body follows the first empty line.
HttpRequest parseRawRequest(const std::string& raw) {
  HttpRequest request;
  std::vector<std::string> lines;
  size_t pos = 0;
  size_t bodyStart = raw.size();
  while (pos < raw.size()) {
    size_t end = raw.find('\n', pos);
    if (end == std::string::npos) end = raw.size();
    std::string line = raw.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = end + 1;
    if (line.empty() && !lines.empty()) {
      bodyStart = std::min(pos, raw.size());
      break;
    }
    lines.push_back(std::move(line));
  }
  request.body = raw.substr(bodyStart);
  EXPECT_FALSE(lines.empty());
  if (lines.empty()) return request;

  const std::string& requestLine = lines[0];
  const size_t firstSpace = requestLine.find(' ');
  const size_t lastSpace = requestLine.rfind(' ');
  request.method = requestLine.substr(0, firstSpace);
  const std::string target = requestLine.substr(firstSpace + 1, lastSpace - firstSpace - 1);

  std::string host;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if ((line[0] == ' ' || line[0] == '\t') && !request.headers.empty()) {
      request.headers.back().second += ' ' + line.substr(line.find_first_not_of(" \t"));
      continue;
    }
    const size_t colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    if (request.headers.back().first == "Host") host = request.headers.back().second;
  }
  request.url = "https://" + host + target;
  return request;
}

struct SuiteContext {
  Credentials credentials;
  SigningParams params;
};

SuiteContext parseContext(const std::string& json) {
  SuiteContext context;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "context.json does not parse";
    return context;
  }
  const simdjson::dom::element credentials = root["credentials"];
  context.credentials.accessKeyId = std::string(std::string_view(credentials["access_key_id"]));
  context.credentials.secretAccessKey =
      std::string(std::string_view(credentials["secret_access_key"]));
  std::string_view token;
  if (credentials["token"].get(token) == simdjson::SUCCESS) {
    context.credentials.sessionToken = token;
  }
  // "omit_session_token": the token is added after signing and left out of the signature (a
  // signer option some SDKs have for services that reject signed tokens). We always sign the
  // token; for this case we sign without it and check everything else.
  bool omitToken = false;
  if (root["omit_session_token"].get(omitToken) == simdjson::SUCCESS && omitToken) {
    context.credentials.sessionToken.clear();
  }
  context.params.region = std::string(std::string_view(root["region"]));
  context.params.service = std::string(std::string_view(root["service"]));
  context.params.normalizePath = bool(root["normalize"]);
  context.params.addContentSha256Header = bool(root["sign_body"]);
  context.params.epochSeconds = parseTimestamp(std::string_view(root["timestamp"]));
  return context;
}

class SigV4SuiteCase : public testing::TestWithParam<std::string> {};

TEST_P(SigV4SuiteCase, HeaderSigningMatchesByteForByte) {
  const fs::path dir = suiteDirectory() / GetParam();
  const SuiteContext context = parseContext(readFile(dir / "context.json"));
  HttpRequest request = parseRawRequest(readFile(dir / "request.txt"));

  const SignatureParts parts = signRequest(request, context.credentials, context.params);

  EXPECT_EQ(parts.canonicalRequest, readFile(dir / "header-canonical-request.txt"));
  EXPECT_EQ(parts.stringToSign, readFile(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(parts.signature, readFile(dir / "header-signature.txt"));

  // The Authorization line of the expected signed request, and our header carrying it.
  const std::string signedRequest = readFile(dir / "header-signed-request.txt");
  const size_t at = signedRequest.find("\nAuthorization:");
  ASSERT_NE(at, std::string::npos);
  const size_t valueStart = at + std::string_view("\nAuthorization:").size();
  const std::string expectedAuthorization =
      signedRequest.substr(valueStart, signedRequest.find('\n', valueStart) - valueStart);
  EXPECT_EQ(parts.authorization, expectedAuthorization);
  const auto authorization = std::find_if(request.headers.begin(), request.headers.end(),
                                          [](const auto& h) { return h.first == "Authorization"; });
  ASSERT_NE(authorization, request.headers.end());
  EXPECT_EQ(authorization->second, expectedAuthorization);
}

std::string caseTestName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(AwsSuite, SigV4SuiteCase, testing::ValuesIn(suiteCases()), caseTestName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SigV4SuiteCase);

TEST(SigV4Suite, EveryCaseIsFound) {
  EXPECT_GE(suiteCases().size(), kMinimumSuiteCases) << "suite folder: " << suiteDirectory();
}

// Our own cases, beyond the suite: what the Firehose and STS clients rely on.

Credentials testCredentials() {
  Credentials credentials;
  credentials.accessKeyId = "AKIDEXAMPLE";
  credentials.secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return credentials;
}

SigningParams testParams() {
  SigningParams params;
  params.region = "us-east-1";
  params.service = "service";
  params.epochSeconds = 1440938160;  // 2015-08-30T12:36:00Z
  return params;
}

std::vector<std::string> headerValues(const HttpRequest& request, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : request.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

TEST(SigV4, AddsHostFromUrlWithPortOnlyWhenNotDefault) {
  HttpRequest request;
  request.url = "https://firehose.us-east-1.amazonaws.com";
  signRequest(request, testCredentials(), testParams());
  EXPECT_EQ(headerValues(request, "Host"),
            std::vector<std::string>{"firehose.us-east-1.amazonaws.com"});

  HttpRequest withPort;
  withPort.url = "http://127.0.0.1:8080/x?a=b";
  const SignatureParts parts = signRequest(withPort, testCredentials(), testParams());
  EXPECT_EQ(headerValues(withPort, "Host"), std::vector<std::string>{"127.0.0.1:8080"});
  EXPECT_NE(parts.canonicalRequest.find("\nhost:127.0.0.1:8080\n"), std::string::npos);

  HttpRequest defaultHttp;
  defaultHttp.url = "http://[::1]:80/";
  signRequest(defaultHttp, testCredentials(), testParams());
  EXPECT_EQ(headerValues(defaultHttp, "Host"), std::vector<std::string>{"[::1]"});

  HttpRequest ipv6Port;
  ipv6Port.url = "https://[::1]:4443/";
  signRequest(ipv6Port, testCredentials(), testParams());
  EXPECT_EQ(headerValues(ipv6Port, "Host"), std::vector<std::string>{"[::1]:4443"});
}

TEST(SigV4, EmptyPathIsSlash) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com";
  const SignatureParts parts = signRequest(request, testCredentials(), testParams());
  EXPECT_EQ(parts.canonicalRequest.substr(0, 6), "GET\n/\n");
}

TEST(SigV4, ResigningReplacesEarlierSignature) {
  HttpRequest request;
  request.method = "POST";
  request.url = "https://firehose.us-east-1.amazonaws.com/";
  request.headers.emplace_back("X-Amz-Target", "Firehose_20150804.PutRecordBatch");
  Credentials credentials = testCredentials();
  credentials.sessionToken = "token-one";
  signRequest(request, credentials, testParams());

  credentials.sessionToken.clear();
  SigningParams later = testParams();
  later.epochSeconds += 61;
  const SignatureParts parts = signRequest(request, credentials, later);
  EXPECT_EQ(headerValues(request, "Authorization"), std::vector<std::string>{parts.authorization});
  EXPECT_EQ(headerValues(request, "X-Amz-Date"), std::vector<std::string>{"20150830T123701Z"});
  EXPECT_TRUE(headerValues(request, "X-Amz-Security-Token").empty());
  EXPECT_EQ(headerValues(request, "Host").size(), 1u);
  EXPECT_NE(parts.authorization.find("SignedHeaders=host;x-amz-date;x-amz-target,"),
            std::string::npos);
}

TEST(SigV4, SignsSessionTokenAndContentHash) {
  HttpRequest request;
  request.method = "POST";
  request.url = "https://s3.amazonaws.com/";
  request.body = "abc";
  Credentials credentials = testCredentials();
  credentials.sessionToken = "tok";
  SigningParams params = testParams();
  params.addContentSha256Header = true;
  const SignatureParts parts = signRequest(request, credentials, params);
  EXPECT_EQ(headerValues(request, "X-Amz-Security-Token"), std::vector<std::string>{"tok"});
  const std::string abcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(headerValues(request, "X-Amz-Content-Sha256"), std::vector<std::string>{abcHash});
  EXPECT_NE(parts.canonicalRequest.find("x-amz-security-token:tok\n"), std::string::npos);
  EXPECT_NE(parts.authorization.find(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  EXPECT_TRUE(parts.canonicalRequest.ends_with("\n" + abcHash));
}

TEST(SigV4, TransportHeadersAreNotSigned) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com/";
  request.headers.emplace_back("User-Agent", "kinesyslog/1");
  request.headers.emplace_back("Expect", "100-continue");
  const SignatureParts parts = signRequest(request, testCredentials(), testParams());
  EXPECT_NE(parts.authorization.find("SignedHeaders=host;x-amz-date,"), std::string::npos);
}

TEST(SigV4, EncodedPathIsEncodedAgainAndQueryIsCanonicalised) {
  HttpRequest request;
  request.url =
      "https://example.amazonaws.com/a%20b/c/../d/?b=2&a&a=1&sp=x%20y&plus=1+1&bad=%zz#frag";
  const SignatureParts parts = signRequest(request, testCredentials(), testParams());
  EXPECT_EQ(parts.canonicalRequest.substr(0, parts.canonicalRequest.find("\nhost:")),
            "GET\n/a%2520b/d/\na=&a=1&b=2&bad=%25zz&plus=1%2B1&sp=x%20y");
}

TEST(SigV4, UnnormalizedPathKeepsDotsAndSlashes) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com//a/./b/../";
  SigningParams params = testParams();
  params.normalizePath = false;
  const SignatureParts parts = signRequest(request, testCredentials(), params);
  EXPECT_EQ(parts.canonicalRequest.substr(0, parts.canonicalRequest.find("\n\n")),
            "GET\n//a/./b/../");
}

TEST(SigV4, NormalizationFollowsRfc3986DotSegments) {
  const std::pair<const char*, const char*> cases[] = {
      {"/a/b/..", "/a/"}, {"/a/b/.", "/a/b/"}, {"/../a", "/a"}, {"/a//b", "/a/b"},
      {"/a/b", "/a/b"},   {"/..", "/"},        {"/a/", "/a/"},
  };
  for (const auto& [path, expected] : cases) {
    HttpRequest request;
    request.url = std::string("https://example.amazonaws.com") + path;
    const SignatureParts parts = signRequest(request, testCredentials(), testParams());
    EXPECT_EQ(parts.canonicalRequest.substr(4, parts.canonicalRequest.find("\n\n") - 4), expected)
        << path;
  }
}

TEST(SigV4, DateIsUtcBasicFormat) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com/";
  SigningParams params = testParams();
  params.epochSeconds = 0;
  SignatureParts parts = signRequest(request, testCredentials(), params);
  EXPECT_EQ(headerValues(request, "X-Amz-Date"), std::vector<std::string>{"19700101T000000Z"});
  EXPECT_NE(parts.stringToSign.find("\n19700101/us-east-1/service/aws4_request\n"),
            std::string::npos);
  params.epochSeconds = 1709251199;  // 2024-02-29T23:59:59Z, a leap day
  signRequest(request, testCredentials(), params);
  EXPECT_EQ(headerValues(request, "X-Amz-Date"), std::vector<std::string>{"20240229T235959Z"});
}

}  // namespace
}  // namespace kinesyslog::aws
