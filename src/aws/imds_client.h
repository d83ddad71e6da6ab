#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "aws/http_client.h"
#include "aws/profile_config.h"

namespace kinesyslog::aws {

// The EC2 instance metadata service (IMDS) client, shared by the instance role credentials
// (aws/credential_providers.h) and the region (aws/region.h). Covered by
// aws/credential_providers_test.cc and aws/region_test.cc.

// Where and how to reach the EC2 instance metadata service (IMDS).
struct ImdsSettings {
  bool disabled = false;    // AWS_EC2_METADATA_DISABLED=true (any case)
  bool v1Disabled = false;  // AWS_EC2_METADATA_V1_DISABLED / ec2_metadata_v1_disabled
  std::string endpoint = "http://169.254.169.254";
  std::chrono::milliseconds timeout{1000};  // AWS_METADATA_SERVICE_TIMEOUT (seconds)
  int attempts = 1;                         // AWS_METADATA_SERVICE_NUM_ATTEMPTS
};

// From the environment, then the profile's config keys (ec2_metadata_service_endpoint,
// ec2_metadata_service_endpoint_mode = IPv6 → http://[fd00:ec2::254], metadata_service_timeout,
// metadata_service_num_attempts), as botocore's config chain resolves them.
ImdsSettings imdsSettings(const EnvLookup& env, const Profile& profile);

// One IMDS conversation: the first get() asks for a session token (PUT /latest/api/token with
// X-aws-ec2-metadata-token-ttl-seconds: 21600) and sends it with every GET as
// X-aws-ec2-metadata-token. As botocore, a 403/404/405 or a transport failure on the token PUT
// falls back to IMDSv1 (no token) unless v1 is disabled; a 400 ends the conversation.
class ImdsClient {
 public:
  static constexpr std::string_view kTokenTtlSeconds = "21600";

  ImdsClient(HttpClient& http, ImdsSettings settings);
  // The body of a 200 answer with a non-empty body to GET `path` (no leading slash, e.g.
  // "latest/meta-data/placement/region"); nullopt otherwise (disabled, failed, retries spent).
  [[nodiscard]] std::optional<std::string> get(std::string_view path);

 private:
  std::string url(std::string_view path) const;
  HttpResponse send(HttpRequest request);

  HttpClient& http_;
  ImdsSettings settings_;
  bool tokenTried_ = false;
  bool usable_ = true;
  std::optional<std::string> token_;
};

}  // namespace kinesyslog::aws
