#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kinesyslog::aws {

// An absolute http(s) URL split into the parts the clients need. `port` is the explicit port
// or the scheme's default (443, 80); `path` is empty or starts with '/' and keeps any query.
struct ParsedUrl {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // without brackets for an IPv6 literal
  uint16_t port = 0;
  std::string path;
};

// Parses `http[s]://host[:port][/path]` (RFC 3986 §3). Userinfo, fragments, other schemes and
// empty hosts are refused (nullopt): an endpoint URL is configuration, so a typo must fail at
// start rather than send requests somewhere unexpected.
[[nodiscard]] std::optional<ParsedUrl> parseUrl(std::string_view url);

// The DNS suffix of the AWS partition a region belongs to: amazonaws.com (aws, aws-us-gov),
// amazonaws.com.cn (cn-*), c2s.ic.gov (us-iso-*), sc2s.sgov.gov (us-isob-*), cloud.adc-e.uk
// (eu-isoe-*), csp.hci.ic.gov (us-isof-*). Unknown prefixes fall in the aws partition, as the
// SDKs' partition table does for regions it does not list.
std::string_view partitionDnsSuffix(std::string_view region);

// Looks up an environment variable; nullopt when it is unset. Injected so tests do not touch the
// process environment.
using EndpointEnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// getenv(3).
EndpointEnvLookup processEndpointEnv();

// The Firehose endpoint (docs/design.md "AWS"): `explicitUrl` (--endpoint-url) when not empty, else
// AWS_ENDPOINT_URL_FIREHOSE, else AWS_ENDPOINT_URL (empty variables count as unset), else
// https://firehose.REGION.<partition suffix>. Returns an empty string when there is neither an
// override nor a region. Throws StartupError: kExitUsage for a malformed --endpoint-url,
// kExitConfig for a malformed variable or a region that cannot be part of a host name.
std::string firehoseEndpoint(std::string_view region, std::string_view explicitUrl,
                             const EndpointEnvLookup& env);

// The STS endpoint, regional: `explicitUrl` (--sts-endpoint-url), else AWS_ENDPOINT_URL_STS,
// else AWS_ENDPOINT_URL, else https://sts.REGION.<partition suffix>; without a region the
// global https://sts.amazonaws.com (signed for us-east-1). Throws as firehoseEndpoint().
std::string stsEndpoint(std::string_view region, std::string_view explicitUrl,
                        const EndpointEnvLookup& env);

// The URL a JSON or query protocol request is sent to: the endpoint itself when it has a path,
// else the endpoint with "/" appended (as botocore joins an endpoint with the request URI "/").
std::string requestUrl(std::string_view endpoint);

}  // namespace kinesyslog::aws
