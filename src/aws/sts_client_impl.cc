#include "aws/sts_client_impl.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "aws/endpoints.h"
#include "aws/iso8601.h"
#include "aws/sigv4.h"
#include "aws/uri_encode.h"

namespace kinesyslog::aws {
namespace {

constexpr std::string_view kApiVersion = "2011-06-15";
constexpr size_t kMaxReasonChars = 300;

bool isXmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isXmlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isXmlSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Text from the network made fit for one log line: control bytes become spaces, runs of
// spaces collapse, and the length is capped.
std::string oneLine(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxReasonChars));
  for (char c : trim(text)) {
    char mapped = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (mapped == ' ' && !out.empty() && out.back() == ' ') continue;
    if (out.size() >= kMaxReasonChars) {
      out.append("...");
      break;
    }
    out.push_back(mapped);
  }
  return out;
}

bool isNameEnd(char c) {
  return c == '>' || c == '/' || isXmlSpace(c);
}

// The raw content of the first element called `name` in `xml`; nullopt when there is none or
// it is not closed. `<name/>` has empty content.
std::optional<std::string_view> elementContent(std::string_view xml, std::string_view name) {
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    size_t nameEnd = pos + 1 + name.size();
    if (xml.substr(pos + 1, name.size()) != name || nameEnd >= xml.size() ||
        !isNameEnd(xml[nameEnd])) {
      ++pos;
      continue;
    }
    size_t gt = xml.find('>', nameEnd);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return std::string_view();
    size_t contentStart = gt + 1;
    for (size_t close = xml.find("</", contentStart); close != std::string_view::npos;
         close = xml.find("</", close + 2)) {
      size_t k = close + 2;
      if (xml.substr(k, name.size()) != name) continue;
      k += name.size();
      while (k < xml.size() && isXmlSpace(xml[k])) ++k;
      if (k < xml.size() && xml[k] == '>') return xml.substr(contentStart, close - contentStart);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// A character reference body (`#123` or `#x1F`, without & and ;), XML 1.0 §4.1.
std::optional<uint32_t> characterReference(std::string_view ref) {
  if (ref.size() < 2 || ref.front() != '#') return std::nullopt;
  ref.remove_prefix(1);
  int base = 10;
  if (ref.front() == 'x') {
    base = 16;
    ref.remove_prefix(1);
  }
  if (ref.empty() || ref.size() > 8) return std::nullopt;
  uint32_t cp = 0;
  for (char c : ref) {
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    cp = cp * static_cast<uint32_t>(base) + digit;
  }
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  return cp;
}

// XML 1.0 §4.6 predefined entities and character references; anything else is kept as is.
std::string decodeEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t amp = text.find('&');
    out.append(text.substr(0, amp));
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp);
    size_t semi = text.find(';');
    std::string_view ref =
        semi == std::string_view::npos ? std::string_view() : text.substr(1, semi - 1);
    std::optional<uint32_t> cp;
    if (ref == "amp") {
      cp = '&';
    } else if (ref == "lt") {
      cp = '<';
    } else if (ref == "gt") {
      cp = '>';
    } else if (ref == "quot") {
      cp = '"';
    } else if (ref == "apos") {
      cp = '\'';
    } else {
      cp = characterReference(ref);
    }
    if (!cp) {
      out.push_back('&');
      text.remove_prefix(1);
      continue;
    }
    appendUtf8(out, *cp);
    text.remove_prefix(semi + 1);
  }
  return out;
}

}  // namespace

std::optional<std::string> xmlText(std::string_view xml,
                                   std::initializer_list<std::string_view> path) {
  std::string_view scope = xml;
  for (std::string_view name : path) {
    std::optional<std::string_view> content = elementContent(scope, name);
    if (!content) return std::nullopt;
    scope = *content;
  }
  return decodeEntities(trim(scope));
}

HttpStsClient::HttpStsClient(HttpClient& http, std::string endpoint, std::string region,
                             const Clock& clock)
    : http_(http),
      endpoint_(std::move(endpoint)),
      region_(region.empty() ? "us-east-1" : std::move(region)),
      clock_(clock) {}

std::string HttpStsClient::call(std::string_view action, const std::string& form,
                                const Credentials* signWith) {
  HttpRequest request;
  request.method = "POST";
  request.url = requestUrl(endpoint_);
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = fmt::format("Action={}&Version={}{}", action, kApiVersion, form);
  request.timeout = kTimeout;
  if (signWith != nullptr) {
    SigningParams params;
    params.region = region_;
    params.service = "sts";
    params.epochSeconds = clock_.nowMicros() / 1000000;
    signRequest(request, *signWith, params);
  }

  HttpResponse response = http_.send(request);
  if (response.transportFailed()) {
    throw CredentialsError(
        fmt::format("STS {} at {}: {}", action, endpoint_, oneLine(response.error)));
  }
  if (response.status < 200 || response.status > 299) {
    // Query protocol errors: <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>.
    std::optional<std::string> code = xmlText(response.body, {"Error", "Code"});
    std::optional<std::string> message = xmlText(response.body, {"Error", "Message"});
    if (code && !code->empty()) {
      throw CredentialsError(fmt::format("STS {} failed: {}: {} (HTTP {})", action, oneLine(*code),
                                         oneLine(message.value_or("")), response.status));
    }
    throw CredentialsError(fmt::format("STS {} at {} failed: HTTP {} {}", action, endpoint_,
                                       response.status, oneLine(response.body.substr(0, 200))));
  }
  return std::move(response.body);
}

Credentials HttpStsClient::credentialsFrom(std::string_view action, const std::string& body) const {
  Credentials credentials;
  std::optional<std::string> keyId = xmlText(body, {"Credentials", "AccessKeyId"});
  std::optional<std::string> secret = xmlText(body, {"Credentials", "SecretAccessKey"});
  std::optional<std::string> token = xmlText(body, {"Credentials", "SessionToken"});
  std::optional<std::string> expiration = xmlText(body, {"Credentials", "Expiration"});
  if (!keyId || keyId->empty() || !secret || secret->empty() || !token || token->empty()) {
    throw CredentialsError(
        fmt::format("STS {} at {}: the answer holds no complete Credentials", action, endpoint_));
  }
  std::optional<int64_t> expires = expiration ? parseIso8601Micros(*expiration) : std::nullopt;
  if (!expires) {
    throw CredentialsError(fmt::format("STS {} at {}: Expiration '{}' is not an ISO 8601 time",
                                       action, endpoint_, oneLine(expiration.value_or(""))));
  }
  credentials.accessKeyId = std::move(*keyId);
  credentials.secretAccessKey = std::move(*secret);
  credentials.sessionToken = std::move(*token);
  credentials.expiresMicros = *expires;
  return credentials;
}

Credentials HttpStsClient::assumeRole(const Credentials& source, const std::string& roleArn,
                                      const std::string& sessionName,
                                      const std::optional<std::string>& externalId,
                                      int durationSeconds) {
  std::string form = "&RoleArn=" + uriEncode(roleArn);
  form += "&RoleSessionName=" + uriEncode(sessionName);
  if (externalId) form += "&ExternalId=" + uriEncode(*externalId);
  // Zero or less: let STS apply its default (one hour), as botocore does when
  // duration_seconds is not configured.
  if (durationSeconds > 0) form += fmt::format("&DurationSeconds={}", durationSeconds);
  Credentials credentials = credentialsFrom("AssumeRole", call("AssumeRole", form, &source));
  credentials.source = "assume-role";
  return credentials;
}

Credentials HttpStsClient::assumeRoleWithWebIdentity(const std::string& roleArn,
                                                     const std::string& sessionName,
                                                     const std::string& webIdentityToken) {
  std::string form = "&RoleArn=" + uriEncode(roleArn);
  form += "&RoleSessionName=" + uriEncode(sessionName);
  form += "&WebIdentityToken=" + uriEncode(webIdentityToken);
  Credentials credentials = credentialsFrom("AssumeRoleWithWebIdentity",
                                            call("AssumeRoleWithWebIdentity", form, nullptr));
  credentials.source = "assume-role-with-web-identity";
  return credentials;
}

std::string HttpStsClient::getCallerAccount(const Credentials& credentials) {
  std::string body = call("GetCallerIdentity", "", &credentials);
  std::optional<std::string> account = xmlText(body, {"GetCallerIdentityResult", "Account"});
  if (!account || account->empty()) {
    throw CredentialsError(
        fmt::format("STS GetCallerIdentity at {}: the answer holds no Account", endpoint_));
  }
  return std::move(*account);
}

}  // namespace kinesyslog::aws
