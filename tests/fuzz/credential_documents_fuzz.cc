// Fuzz target for the credential answers the relay reads (src/aws/credential_providers.h): the
// JSON of the ECS/EKS container endpoint and of an IMDS role, the stdout of a
// credential_process, the IMDS role listing, and the IMDS and container providers driven
// through the fake HTTP client with fuzzed answers. Byte 0 chooses the mode:
//  0: raw container/IMDS JSON; 1: raw credential_process output; 2: raw role listing. Never a
//     crash or an exception; credentials only with both keys non-empty (and, for the container
//     and IMDS, a token and a valid expiration); a JSON object without them always says why;
//     the same text read twice gives the same answer;
//  3: a document built from the input (members present or not, in any order, with any bytes in
//     their values, a valid or broken Expiration, Version 1 or not) must be read exactly as
//     built: the keys are the values as JSON decodes them, the expiration the ISO 8601 time;
//  4: InstanceMetadataProvider over a fake IMDS (token PUT, role listing, role document, each
//     answered with a fuzzed status and body) never throws, asks at most three requests, and
//     gives credentials exactly when the listing names a role and the document is complete;
//  5: ContainerProvider over a fake endpoint (three fuzzed answers, no pauses) gives the
//     document's credentials or throws CredentialsError, nothing else, after at most three
//     requests.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_test_support.h"
#include "aws/credential_providers.h"
#include "aws/fake_http_client.h"
#include "aws/iso8601.h"
#include "proto/syslog/event_time.h"
#include "record/backslash_replace_oracle.h"
#include "record/json_escape.h"
#include "util/clock.h"

namespace {

using kinesyslog::aws::Credentials;
using kinesyslog::aws::CredentialsError;
using kinesyslog::aws::ParsedCredentials;
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

bool same(const ParsedCredentials& a, const ParsedCredentials& b) {
  if (a.jsonObject != b.jsonObject || a.error != b.error ||
      a.credentials.has_value() != b.credentials.has_value()) {
    return false;
  }
  if (!a.credentials) return true;
  return a.credentials->accessKeyId == b.credentials->accessKeyId &&
         a.credentials->secretAccessKey == b.credentials->secretAccessKey &&
         a.credentials->sessionToken == b.credentials->sessionToken &&
         a.credentials->expiresMicros == b.credentials->expiresMicros;
}

void checkParsed(const ParsedCredentials& parsed, bool container) {
  if (parsed.credentials) {
    const Credentials& c = *parsed.credentials;
    if (!parsed.jsonObject || c.accessKeyId.empty() || c.secretAccessKey.empty()) __builtin_trap();
    if (container && !c.expiresMicros) __builtin_trap();
  } else if (parsed.jsonObject && parsed.error.empty()) {
    __builtin_trap();
  }
}

void checkRaw(unsigned mode, std::string_view text) {
  if (mode == 2) {
    const std::optional<std::string> role = kinesyslog::aws::imdsRoleName(text);
    if (!role) return;
    if (role->empty() || role->find_first_of("/\n") != std::string::npos) __builtin_trap();
    if (text.find(*role) == std::string_view::npos) __builtin_trap();
    const char first = role->front();
    const char last = role->back();
    if (first == ' ' || first == '\t' || last == ' ' || last == '\t' || last == '\r') {
      __builtin_trap();
    }
    return;
  }
  const bool container = mode == 0;
  const auto parse = container ? kinesyslog::aws::parseContainerCredentials
                               : kinesyslog::aws::parseProcessCredentials;
  const ParsedCredentials parsed = parse(text);
  checkParsed(parsed, container);
  if (!same(parsed, parse(text))) __builtin_trap();
}

// A JSON string for `bytes`, and what JSON decodes it to.
std::string jsonString(std::string_view bytes) {
  std::string out = "\"";
  kinesyslog::record::appendJsonEscaped(out, bytes);
  return out + "\"";
}

void checkBuilt(Input& in) {
  const unsigned shape = in.byte();
  const bool container = (shape & 1) != 0;
  const std::string_view tokenKey = container ? "Token" : "SessionToken";
  std::string accessKey(in.bytes(in.byte() % 24));
  std::string secretKey(in.bytes(in.byte() % 48));
  std::string token(in.bytes(in.byte() % 64));
  const int64_t expiresSeconds = 1'700'000'000 + static_cast<int64_t>(in.byte() << 16 | in.byte());
  char expiration[kinesyslog::syslog::kRfc3339MicrosLength];
  kinesyslog::syslog::formatRfc3339Micros(expiresSeconds * 1'000'000, expiration);
  std::string expirationText(expiration, kinesyslog::syslog::kRfc3339MicrosLength);
  if (shape & 0x40) expirationText = "2026-02-30T00:00:00Z";  // not a calendar date
  const unsigned present = in.byte();                         // bit per member
  const unsigned order = in.byte();

  struct Member {
    std::string_view key;
    std::string value;  // JSON text
    bool present;
  };
  Member members[] = {
      {"Version", (shape & 2) ? "2" : "1", (present & 1) != 0},
      {"AccessKeyId", jsonString(accessKey), (present & 2) != 0},
      {"SecretAccessKey", jsonString(secretKey), (present & 4) != 0},
      {tokenKey, jsonString(token), (present & 8) != 0},
      {"Expiration", jsonString(expirationText), (present & 16) != 0},
      {"Code", "\"Success\"", (present & 32) != 0},
      {"LastUpdated", "[1, {\"x\": null}]", (present & 64) != 0},
  };
  std::string json = "{";
  bool first = true;
  for (size_t k = 0; k < std::size(members); ++k) {
    const Member& m = members[(k + order) % std::size(members)];
    if (!m.present) continue;
    if (!first) json += (order & 0x80) ? " ,\n " : ",";
    first = false;
    json += '"';
    json += m.key;
    json += "\":";
    json += m.value;
  }
  json += '}';

  const ParsedCredentials parsed = container ? kinesyslog::aws::parseContainerCredentials(json)
                                             : kinesyslog::aws::parseProcessCredentials(json);
  if (!parsed.jsonObject) __builtin_trap();
  using kinesyslog::record::oracle::backslashReplace;
  const std::string decodedAccess = backslashReplace(accessKey);
  const std::string decodedSecret = backslashReplace(secretKey);
  const bool versionOk = container || (members[0].present && !(shape & 2));
  const bool keysOk =
      members[1].present && !decodedAccess.empty() && members[2].present && !decodedSecret.empty();
  const bool tokenOk = !container || members[3].present;
  const bool expirationPresent = members[4].present;
  const bool expirationOk = expirationPresent ? !(shape & 0x40) : !container;
  const bool complete = versionOk && keysOk && tokenOk && expirationOk;
  if (parsed.credentials.has_value() != complete) __builtin_trap();
  if (!complete) return;
  const Credentials& c = *parsed.credentials;
  if (c.accessKeyId != decodedAccess || c.secretAccessKey != decodedSecret) __builtin_trap();
  if (c.sessionToken != (members[3].present ? backslashReplace(token) : std::string())) {
    __builtin_trap();
  }
  const std::optional<int64_t> expected =
      expirationPresent ? std::optional<int64_t>(expiresSeconds * 1'000'000) : std::nullopt;
  if (c.expiresMicros != expected) __builtin_trap();
}

// A fuzzed HTTP answer: status (transport failure, 200 or an error) and a body.
kinesyslog::aws::HttpResponse answer(Input& in) {
  static constexpr int kStatuses[] = {200, 200, 200, 0, 400, 403, 404, 405, 500, 503};
  kinesyslog::aws::HttpResponse response;
  response.status = kStatuses[in.byte() % 10];
  if (response.status == 0) response.error = "connection refused";
  response.body = std::string(in.bytes(in.byte() | (in.byte() & 3) << 8));
  return response;
}

void checkImds(Input& in) {
  FakeHttpClient http;
  kinesyslog::aws::ImdsSettings settings;
  settings.v1Disabled = (in.byte() & 1) != 0;
  http.on("PUT", settings.endpoint + "/latest/api/token", answer(in));
  const kinesyslog::aws::HttpResponse listing = answer(in);
  const kinesyslog::aws::HttpResponse document = answer(in);
  http.responses.push_back(listing);
  http.responses.push_back(document);
  kinesyslog::aws::InstanceMetadataProvider provider(http, settings);
  std::optional<Credentials> credentials;
  try {
    credentials = provider.load();
  } catch (...) {
    __builtin_trap();  // the last provider of the chain never stops it
  }
  if (http.requests.size() > 3) __builtin_trap();
  if (!credentials) return;
  // Credentials only from a 200 listing naming a role and a 200 document that is complete.
  if (listing.status != 200 || document.status != 200) __builtin_trap();
  const std::optional<std::string> role = kinesyslog::aws::imdsRoleName(listing.body);
  if (!role || http.requests.back().url !=
                   settings.endpoint + "/" + std::string(provider.kRolePath) + *role) {
    __builtin_trap();
  }
  const ParsedCredentials parsed = kinesyslog::aws::parseContainerCredentials(document.body);
  if (!parsed.credentials || parsed.credentials->accessKeyId != credentials->accessKeyId ||
      credentials->source != "iam-role") {
    __builtin_trap();
  }
}

void checkContainer(Input& in) {
  FakeHttpClient http;
  for (int i = 0; i < 3; ++i) http.responses.push_back(answer(in));
  const auto answers = http.responses;
  // The container provider never asks STS.
  struct NoSts final : kinesyslog::aws::StsClient {
    Credentials assumeRole(const Credentials&, const std::string&, const std::string&,
                           const std::optional<std::string>&, int) override {
      __builtin_trap();
    }
    Credentials assumeRoleWithWebIdentity(const std::string&, const std::string&,
                                          const std::string&) override {
      __builtin_trap();
    }
    std::string getCallerAccount(const Credentials&) override { __builtin_trap(); }
  } sts;
  kinesyslog::ManualClock clock(1'781'524'800'000'000);
  kinesyslog::aws::ProviderContext context{
      nullptr,
      kinesyslog::aws::testing::envOf({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds"}}),
      http,
      sts,
      clock,
      [](std::chrono::milliseconds) {}};
  kinesyslog::aws::ContainerProvider provider(context);
  std::optional<Credentials> credentials;
  try {
    credentials = provider.load();
  } catch (const CredentialsError&) {
    if (http.requests.empty() || http.requests.size() > 3) __builtin_trap();
    return;
  } catch (...) {
    __builtin_trap();
  }
  if (!credentials || http.requests.size() > 3) __builtin_trap();
  // The answer taken is the last one asked for: a 200 with a complete document.
  const auto& taken = answers[http.requests.size() - 1];
  const ParsedCredentials parsed = kinesyslog::aws::parseContainerCredentials(taken.body);
  if (taken.status != 200 || !parsed.credentials ||
      parsed.credentials->secretAccessKey != credentials->secretAccessKey) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Input in(data + 1, size - 1);
  const unsigned mode = data[0] % 6;
  switch (mode) {
    case 0:
    case 1:
    case 2:
      checkRaw(mode, in.rest());
      break;
    case 3:
      checkBuilt(in);
      break;
    case 4:
      checkImds(in);
      break;
    default:
      checkContainer(in);
      break;
  }
  return 0;
}
