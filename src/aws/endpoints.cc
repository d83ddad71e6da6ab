#include "aws/endpoints.h"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <utility>

#include "util/startup_error.h"

namespace kinesyslog::aws {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// reg-name of RFC 3986 §3.2.2 restricted to what DNS names and IPv4 literals use.
bool isHostChar(char c) {
  return isAlnum(c) || c == '-' || c == '.' || c == '_';
}

// Visible ASCII only: a space or control byte in an endpoint is a typo, not a path.
bool isPathChar(char c) {
  return c > 0x20 && c < 0x7f;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Region names are lowercase letters, digits and dashes (us-east-1, cn-northwest-1); anything
// else would change the meaning of the host name we build from it.
bool isValidRegion(std::string_view region) {
  if (region.empty() || region.size() > 64) return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// One overridden endpoint: the explicit option first, then the service variable, then the
// global one (the order botocore 1.31+ uses for AWS_ENDPOINT_URL_<SERVICE>).
std::string overrideEndpoint(std::string_view explicitUrl, std::string_view optionName,
                             const std::string& serviceVariable, const EndpointEnvLookup& env) {
  if (!explicitUrl.empty()) {
    if (!parseUrl(explicitUrl)) {
      throw StartupError(kExitUsage,
                         fmt::format("{} '{}' is not an http(s) URL", optionName, explicitUrl));
    }
    return std::string(explicitUrl);
  }
  for (const std::string& name : {serviceVariable, std::string("AWS_ENDPOINT_URL")}) {
    std::optional<std::string> value = env ? env(name) : std::nullopt;
    if (!value || value->empty()) continue;
    if (!parseUrl(*value)) {
      throw StartupError(kExitConfig, fmt::format("{} '{}' is not an http(s) URL", name, *value));
    }
    return *value;
  }
  return {};
}

std::string regionalEndpoint(std::string_view service, std::string_view region) {
  if (!isValidRegion(region)) {
    throw StartupError(kExitConfig, fmt::format("'{}' is not a valid AWS region name", region));
  }
  return fmt::format("https://{}.{}.{}", service, region, partitionDnsSuffix(region));
}

}  // namespace

std::optional<ParsedUrl> parseUrl(std::string_view url) {
  ParsedUrl parsed;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  for (char c : url.substr(0, colon)) parsed.scheme.push_back(lower(c));
  if (parsed.scheme != "http" && parsed.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  if (rest.find('#') != std::string_view::npos) return std::nullopt;

  size_t authorityEnd = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authorityEnd);
  std::string_view path =
      authorityEnd == std::string_view::npos ? std::string_view() : rest.substr(authorityEnd);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    // IP-literal, RFC 3986 §3.2.2.
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    std::string_view literal = authority.substr(1, close - 1);
    for (char c : literal) {
      if (!isHexDigit(c) && c != ':' && c != '.') return std::nullopt;
    }
    parsed.host = std::string(literal);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      portText = after.substr(1);
      if (portText.empty()) return std::nullopt;
    }
  } else {
    size_t portColon = authority.find(':');
    std::string_view host = authority.substr(0, portColon);
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!isHostChar(c)) return std::nullopt;
      parsed.host.push_back(lower(c));
    }
    if (portColon != std::string_view::npos) {
      portText = authority.substr(portColon + 1);
      if (portText.empty()) return std::nullopt;
    }
  }

  if (portText.empty()) {
    parsed.port = parsed.scheme == "https" ? 443 : 80;
  } else {
    if (portText.size() > 5) return std::nullopt;
    uint32_t port = 0;
    for (char c : portText) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
    parsed.port = static_cast<uint16_t>(port);
  }

  for (char c : path) {
    if (!isPathChar(c)) return std::nullopt;
  }
  // push_back rather than assigning "/": GCC 12's -Wrestrict misfires on the latter at -O2.
  if (!path.empty() && path.front() == '?') parsed.path.push_back('/');
  parsed.path.append(path);
  return parsed;
}

std::string_view partitionDnsSuffix(std::string_view region) {
  // Longest prefixes first: us-isob- must not be taken for us-iso-.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kPartitions{{
      {"us-isob-", "sc2s.sgov.gov"},   // aws-iso-b
      {"us-isof-", "csp.hci.ic.gov"},  // aws-iso-f
      {"us-iso-", "c2s.ic.gov"},       // aws-iso
      {"eu-isoe-", "cloud.adc-e.uk"},  // aws-iso-e
      {"cn-", "amazonaws.com.cn"},     // aws-cn
  }};
  for (const auto& [prefix, suffix] : kPartitions) {
    if (startsWith(region, prefix)) return suffix;
  }
  return "amazonaws.com";  // aws and aws-us-gov
}

EndpointEnvLookup processEndpointEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string firehoseEndpoint(std::string_view region, std::string_view explicitUrl,
                             const EndpointEnvLookup& env) {
  std::string endpoint =
      overrideEndpoint(explicitUrl, "--endpoint-url", "AWS_ENDPOINT_URL_FIREHOSE", env);
  if (!endpoint.empty()) return endpoint;
  if (region.empty()) return {};
  return regionalEndpoint("firehose", region);
}

std::string stsEndpoint(std::string_view region, std::string_view explicitUrl,
                        const EndpointEnvLookup& env) {
  std::string endpoint =
      overrideEndpoint(explicitUrl, "--sts-endpoint-url", "AWS_ENDPOINT_URL_STS", env);
  if (!endpoint.empty()) return endpoint;
  if (region.empty()) return "https://sts.amazonaws.com";
  return regionalEndpoint("sts", region);
}

std::string requestUrl(std::string_view endpoint) {
  std::optional<ParsedUrl> parsed = parseUrl(endpoint);
  std::string url(endpoint);
  if (parsed && parsed->path.empty()) url.push_back('/');
  return url;
}

}  // namespace kinesyslog::aws
