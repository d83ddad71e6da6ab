#include "aws/sigv4.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/crypto.h"
#include "aws/uri_encode.h"

// AWS Signature Version 4, header form, as specified in "Create a signed AWS API request"
// (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) and checked against the
// aws-c-auth v4 test suite (tests/testdata/aws-sigv4-test-suite).
namespace kinesyslog::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Headers botocore never signs (auth.SIGNED_HEADERS_BLACKLIST) because proxies and the transport
// may rewrite them, plus Authorization itself.
constexpr std::string_view kUnsignedHeaders[] = {"authorization", "expect", "user-agent",
                                                 "x-amzn-trace-id"};

char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes %XX escapes so that a query given encoded or raw canonicalises the same way; a '%' not
// followed by two hex digits stays literal (and is then encoded as %25). '+' is kept as a plus:
// AWS query strings encode a space as %20.
std::string percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int high = hexValue(in[i + 1]);
      const int low = hexValue(in[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

struct UrlParts {
  std::string_view scheme;
  std::string_view host;  // as written, with brackets for IPv6 literals
  std::string_view port;  // empty when absent
  std::string_view path;  // empty when absent
  std::string_view query;
};

// Splits scheme://[userinfo@]host[:port][/path][?query][#fragment] (RFC 3986 §3). The URL is
// ours (endpoint configuration), so a malformed one just yields empty parts.
UrlParts splitUrl(std::string_view url) {
  UrlParts parts;
  if (const size_t hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  std::string_view rest = url;
  if (const size_t colon = url.find("://"); colon != std::string_view::npos) {
    parts.scheme = url.substr(0, colon);
    rest = url.substr(colon + 3);
  }
  const size_t authorityEnd = std::min(rest.find_first_of("/?"), rest.size());
  std::string_view authority = rest.substr(0, authorityEnd);
  rest.remove_prefix(authorityEnd);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    parts.host = authority.substr(0, colon);
    parts.port = authority.substr(colon + 1);
  } else {
    parts.host = authority;
  }
  const size_t question = rest.find('?');
  parts.path = rest.substr(0, question);
  if (question != std::string_view::npos) parts.query = rest.substr(question + 1);
  return parts;
}

std::string hostHeaderValue(const UrlParts& url) {
  const bool defaultPort = url.port.empty() ||
                           (equalsIgnoreCase(url.scheme, "https") && url.port == "443") ||
                           (equalsIgnoreCase(url.scheme, "http") && url.port == "80");
  std::string host(url.host);
  if (!defaultPort) {
    host.push_back(':');
    host.append(url.port);
  }
  return host;
}

// RFC 3986 §5.2.4 remove_dot_segments, plus dropping empty segments (duplicate slashes), as the
// SigV4 spec asks of every service but S3. A path that ends in '/', "/." or "/.." keeps a
// trailing slash.
std::vector<std::string_view> normalizedSegments(std::string_view path, bool& trailingSlash) {
  std::vector<std::string_view> segments;
  trailingSlash = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      trailingSlash = last;
    } else if (segment == "." || segment.empty()) {
      trailingSlash = last;
    } else {
      segments.push_back(segment);
      trailingSlash = false;
    }
    start = end + 1;
  }
  return segments;
}

std::string canonicalUri(std::string_view path, bool normalize) {
  // The path is taken as sent on the wire and URI-encoded once more, segment by segment
  // (SigV4's double encoding for every service but S3); '/' separates segments and stays.
  std::string out;
  if (path.empty()) return "/";
  if (!normalize) {
    size_t start = 0;
    while (true) {
      const size_t slash = path.find('/', start);
      appendUriEncoded(out, path.substr(start, slash - start));
      if (slash == std::string_view::npos) break;
      out.push_back('/');
      start = slash + 1;
    }
    return out;
  }
  bool trailingSlash = false;
  const std::vector<std::string_view> segments = normalizedSegments(path, trailingSlash);
  for (std::string_view segment : segments) {
    out.push_back('/');
    appendUriEncoded(out, segment);
  }
  if (segments.empty() || trailingSlash) out.push_back('/');
  return out;
}

// Parameters sorted by encoded name, then encoded value; a parameter without '=' has an empty
// value ("name=").
std::string canonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view param = query.substr(start, end - start);
    start = end + 1;
    if (param.empty()) continue;
    const size_t equals = param.find('=');
    std::pair<std::string, std::string> encoded;
    appendUriEncoded(encoded.first, percentDecode(param.substr(0, equals)));
    if (equals != std::string_view::npos) {
      appendUriEncoded(encoded.second, percentDecode(param.substr(equals + 1)));
    }
    params.push_back(std::move(encoded));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(name);
    out.push_back('=');
    out.append(value);
  }
  return out;
}

// Trims the value and collapses each run of spaces and tabs into one space (SigV4 "Trimall").
void appendTrimmedValue(std::string_view value, std::string& out) {
  bool pendingSpace = false;
  bool any = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pendingSpace = any;
      continue;
    }
    if (pendingSpace) out.push_back(' ');
    pendingSpace = false;
    any = true;
    out.push_back(c);
  }
}

bool isUnsignedHeader(std::string_view lowerName) {
  return std::find(std::begin(kUnsignedHeaders), std::end(kUnsignedHeaders), lowerName) !=
         std::end(kUnsignedHeaders);
}

void removeHeader(HttpHeaders& headers, std::string_view name) {
  std::erase_if(headers,
                [name](const auto& header) { return equalsIgnoreCase(header.first, name); });
}

bool hasHeader(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& header) { return equalsIgnoreCase(header.first, name); });
}

// YYYYMMDD'T'HHMMSS'Z' in UTC (ISO 8601 basic format), as X-Amz-Date wants.
std::string amzDate(int64_t epochSeconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds(epochSeconds)};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

// Adds the headers the signature covers (Host, X-Amz-Date, the session token, the payload hash)
// after removing what an earlier signing added.
void addSigningHeaders(HttpRequest& request, const Credentials& credentials,
                       const SigningParams& params, const UrlParts& url,
                       const std::string& timestamp, const std::string& payloadHash) {
  // Re-signing (a retry with fresh time or credentials) replaces what an earlier signing added.
  removeHeader(request.headers, "Authorization");
  removeHeader(request.headers, "X-Amz-Date");
  removeHeader(request.headers, "X-Amz-Security-Token");
  if (params.addContentSha256Header) removeHeader(request.headers, "X-Amz-Content-Sha256");
  if (!hasHeader(request.headers, "Host")) {
    request.headers.emplace_back("Host", hostHeaderValue(url));
  }
  request.headers.emplace_back("X-Amz-Date", timestamp);
  // The session token is signed, as botocore does (and the suite's session-token cases expect).
  if (!credentials.sessionToken.empty()) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.sessionToken);
  }
  if (params.addContentSha256Header) {
    request.headers.emplace_back("X-Amz-Content-Sha256", payloadHash);
  }
}

struct CanonicalHeaders {
  std::string signedHeaders;  // "host;x-amz-date"
  std::string canonical;      // "host:example.com\nx-amz-date:...\n"
};

CanonicalHeaders canonicalHeaders(const HttpHeaders& requestHeaders) {
  // Canonical headers: lowercase names sorted; the values of a repeated header joined with ','
  // in the order they appear.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : requestHeaders) {
    std::string lowerName = lowercase(name);
    if (isUnsignedHeader(lowerName)) continue;
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& header) { return header.first == lowerName; });
    if (it == headers.end()) {
      headers.emplace_back(std::move(lowerName), std::string());
      it = std::prev(headers.end());
    } else {
      it->second.push_back(',');
    }
    appendTrimmedValue(value, it->second);
  }
  std::sort(headers.begin(), headers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  CanonicalHeaders out;
  for (const auto& [name, value] : headers) {
    if (!out.signedHeaders.empty()) out.signedHeaders.push_back(';');
    out.signedHeaders.append(name);
    out.canonical.append(name);
    out.canonical.push_back(':');
    out.canonical.append(value);
    out.canonical.push_back('\n');
  }
  return out;
}

}  // namespace

SignatureParts signRequest(HttpRequest& request, const Credentials& credentials,
                           const SigningParams& params) {
  const UrlParts url = splitUrl(request.url);
  const std::string timestamp = amzDate(params.epochSeconds);
  const std::string_view date = std::string_view(timestamp).substr(0, 8);
  const std::string payloadHash = sha256Hex(request.body);

  addSigningHeaders(request, credentials, params, url, timestamp, payloadHash);
  const auto [signedHeaders, canonical] = canonicalHeaders(request.headers);

  SignatureParts parts;
  parts.canonicalRequest.append(request.method);
  parts.canonicalRequest.push_back('\n');
  parts.canonicalRequest.append(canonicalUri(url.path, params.normalizePath));
  parts.canonicalRequest.push_back('\n');
  parts.canonicalRequest.append(canonicalQuery(url.query));
  parts.canonicalRequest.push_back('\n');
  parts.canonicalRequest.append(canonical);
  parts.canonicalRequest.push_back('\n');
  parts.canonicalRequest.append(signedHeaders);
  parts.canonicalRequest.push_back('\n');
  parts.canonicalRequest.append(payloadHash);

  std::string scope(date);
  scope.append("/").append(params.region).append("/").append(params.service);
  scope.append("/aws4_request");

  parts.stringToSign.append(kAlgorithm).append("\n");
  parts.stringToSign.append(timestamp).append("\n");
  parts.stringToSign.append(scope).append("\n");
  parts.stringToSign.append(sha256Hex(parts.canonicalRequest));

  // Signing key: HMAC chain over date, region, service and the terminator.
  std::string key = hmacSha256("AWS4" + credentials.secretAccessKey, date);
  key = hmacSha256(key, params.region);
  key = hmacSha256(key, params.service);
  key = hmacSha256(key, "aws4_request");
  parts.signature = toHex(hmacSha256(key, parts.stringToSign));

  parts.authorization.append(kAlgorithm);
  parts.authorization.append(" Credential=").append(credentials.accessKeyId).append("/");
  parts.authorization.append(scope);
  parts.authorization.append(", SignedHeaders=").append(signedHeaders);
  parts.authorization.append(", Signature=").append(parts.signature);
  request.headers.emplace_back("Authorization", parts.authorization);
  return parts;
}

}  // namespace kinesyslog::aws
