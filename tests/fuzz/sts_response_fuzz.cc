// Fuzz target for the STS answers the relay reads (src/aws/sts_client_impl.h): AssumeRole,
// AssumeRoleWithWebIdentity and GetCallerIdentity through the fake HTTP client, and the small
// XML extractor under them. Byte 0 chooses the call and whether the body is raw bytes or an
// STS answer built from the input. Invariants:
//  - a call returns or throws CredentialsError, nothing else; its message is one line;
//  - returned credentials have a key id, secret and session token and an expiration that
//    parseIso8601Micros reads from the answer; an account is non-empty;
//  - a built answer (AssumeRoleResponse, AssumeRoleWithWebIdentityResponse, or an
//    ErrorResponse), its values written with the five predefined entities and character
//    references (XML 1.0 §4.1, §4.6), is read back exactly; an ErrorResponse's code is in the
//    error message;
//  - xmlText never reads outside the text and, for a raw body, gives the same as for the body
//    with anything appended after the first match's closing tag.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aws/fake_http_client.h"
#include "aws/iso8601.h"
#include "aws/sts_client_impl.h"
#include "util/clock.h"

namespace {

using kinesyslog::aws::Credentials;
using kinesyslog::aws::CredentialsError;
using kinesyslog::aws::HttpStsClient;
using kinesyslog::aws::testing::FakeHttpClient;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
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

// A value of printable ASCII and spaces from the input, and its XML form: letters and digits
// as they are, the rest as entities or character references (so surrounding spaces survive
// the extractor's trimming of the element's text).
struct XmlValue {
  std::string text;
  std::string xml;
};

XmlValue xmlValue(Input& in, size_t maxLength) {
  XmlValue v;
  for (size_t n = in.byte() % (maxLength + 1); n > 0; --n) {
    const char c = static_cast<char>(0x20 + in.byte() % 95);
    v.text += c;
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (plain) {
      v.xml += c;
    } else if (c == '&') {
      v.xml += "&amp;";
    } else if (c == '<') {
      v.xml += "&lt;";
    } else if (c == '>') {
      v.xml += "&gt;";
    } else if (c == '"') {
      v.xml += "&quot;";
    } else if (c == '\'') {
      v.xml += "&apos;";
    } else if (in.byte() & 1) {
      v.xml += fmt::format("&#{};", static_cast<int>(c));
    } else {
      v.xml += fmt::format("&#x{:X};", static_cast<int>(c));
    }
  }
  return v;
}

void checkLine(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Input in(data, size);
  const unsigned mode = in.byte();
  const unsigned call = mode % 3;  // AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity
  const bool built = (mode & 4) != 0;
  const bool errorAnswer = (mode & 8) != 0;
  static constexpr int kStatuses[] = {200, 200, 0, 400, 403, 500};
  const int status = built ? (errorAnswer ? 400 + (mode >> 4) % 4 : 200) : kStatuses[in.byte() % 6];

  std::string body;
  XmlValue keyId, secret, token, account, code, message;
  std::string expiration;
  if (built && errorAnswer) {
    code = xmlValue(in, 40);
    message = xmlValue(in, 80);
    body =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n"
        "    <Type>Sender</Type>\n    <Code>" +
        code.xml + "</Code>\n    <Message>" + message.xml +
        "</Message>\n  </Error>\n  <RequestId>c6104cbe</RequestId>\n"
        "</ErrorResponse>\n";
  } else if (built) {
    keyId = xmlValue(in, 24);
    secret = xmlValue(in, 48);
    token = xmlValue(in, 96);
    account = xmlValue(in, 16);
    expiration =
        fmt::format("20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}Z", in.byte() % 100, 1 + in.byte() % 12,
                    1 + in.byte() % 28, in.byte() % 24, in.byte() % 60, in.byte() % 60);
    const std::string_view action = call == 1 ? "AssumeRoleWithWebIdentity" : "AssumeRole";
    if (call == 2) {
      body =
          "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
          "  <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::123456789012:user/relay</Arn>\n"
          "    <UserId>AIDAEXAMPLE</UserId>\n    <Account>" +
          account.xml + "</Account>\n  </GetCallerIdentityResult>\n</GetCallerIdentityResponse>\n";
    } else {
      body = fmt::format(
          "<{0}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <{0}Result>\n"
          "    <AssumedRoleUser>\n      <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\n"
          "    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{1}</AccessKeyId>\n"
          "      <SecretAccessKey>{2}</SecretAccessKey>\n      <SessionToken>{3}</SessionToken>\n"
          "      <Expiration>{4}</Expiration>\n    </Credentials>\n  "
          "</{0}Result>\n</{0}Response>\n",
          action, keyId.xml, secret.xml, token.xml, expiration);
    }
  } else {
    body = std::string(in.rest());
  }

  FakeHttpClient http;
  if (status == 0) {
    http.unanswered.error = "connection refused\nagain";
  } else {
    http.answer(status, body);
  }
  kinesyslog::ManualClock clock(1'781'524'800'000'000);
  HttpStsClient sts(http, "https://sts.us-east-1.amazonaws.com", "us-east-1", clock);
  Credentials source;
  source.accessKeyId = "AKIDEXAMPLE";
  source.secretAccessKey = "secret";

  std::optional<Credentials> credentials;
  std::optional<std::string> gotAccount;
  std::optional<std::string> failure;
  try {
    if (call == 0) {
      credentials = sts.assumeRole(source, "arn:aws:iam::123456789012:role/relay", "kinesyslog",
                                   std::string("external"), 900);
    } else if (call == 1) {
      credentials = sts.assumeRoleWithWebIdentity("arn:aws:iam::123456789012:role/relay",
                                                  "kinesyslog", "eyJhbGciOi.token");
    } else {
      gotAccount = sts.getCallerAccount(source);
    }
  } catch (const CredentialsError& e) {
    failure = e.what();
  } catch (...) {
    __builtin_trap();
  }
  if (failure) checkLine(*failure);
  if (credentials) {
    if (credentials->accessKeyId.empty() || credentials->secretAccessKey.empty() ||
        credentials->sessionToken.empty() || !credentials->expiresMicros) {
      __builtin_trap();
    }
  }
  if (gotAccount && gotAccount->empty()) __builtin_trap();
  if (status != 0 && (status < 200 || status > 299) && !failure) __builtin_trap();

  if (built && errorAnswer) {
    // Trimmed and non-empty, the code is named in the message (as one line).
    std::string_view trimmedCode = code.text;
    if (!failure) __builtin_trap();
    if (kinesyslog::aws::xmlText(body, {"Error", "Code"}) != code.text) __builtin_trap();
    if (!trimmedCode.empty() && trimmedCode.find("  ") == std::string_view::npos &&
        trimmedCode.front() != ' ' && trimmedCode.back() != ' ' &&
        failure->find(trimmedCode) == std::string::npos) {
      __builtin_trap();
    }
  } else if (built) {
    if (call == 2) {
      if (account.text.empty() != !gotAccount) __builtin_trap();
      if (gotAccount && *gotAccount != account.text) __builtin_trap();
    } else {
      const bool complete = !keyId.text.empty() && !secret.text.empty() && !token.text.empty();
      if (complete != credentials.has_value()) __builtin_trap();
      if (credentials &&
          (credentials->accessKeyId != keyId.text || credentials->secretAccessKey != secret.text ||
           credentials->sessionToken != token.text ||
           credentials->expiresMicros != kinesyslog::aws::parseIso8601Micros(expiration))) {
        __builtin_trap();
      }
    }
  } else {
    if (credentials && kinesyslog::aws::xmlText(body, {"Credentials", "AccessKeyId"}) !=
                           credentials->accessKeyId) {
      __builtin_trap();
    }
    // The extractor stops at the first match: what follows its closing tag cannot change it.
    const auto first = kinesyslog::aws::xmlText(body, {"Credentials", "AccessKeyId"});
    if (first && kinesyslog::aws::xmlText(body + "</AccessKeyId></Credentials>junk",
                                          {"Credentials", "AccessKeyId"}) != first) {
      __builtin_trap();
    }
  }
  return 0;
}
