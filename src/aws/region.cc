#include "aws/region.h"

#include <string_view>

namespace kinesyslog::aws {

namespace {

// A region name is lowercase letters, digits and dashes (us-east-1, us-gov-west-1); anything
// else from the metadata service (an HTML error page behind a proxy) is not a region.
bool looksLikeRegion(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (const char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> resolveRegion(
    const std::optional<std::string>& explicitRegion, const EnvLookup& env,
    const ProfileConfig& config, const std::string& profile,
    const std::function<std::optional<std::string>()>& imdsRegion) {
  if (explicitRegion && !explicitRegion->empty()) return explicitRegion;
  if (std::optional<std::string> region = envValue(env, "AWS_REGION")) return region;
  if (std::optional<std::string> region = envValue(env, "AWS_DEFAULT_REGION")) return region;
  if (std::optional<std::string> region = config.merged(profile).get("region")) return region;
  if (imdsRegion) {
    std::optional<std::string> region = imdsRegion();
    if (region && !region->empty()) return region;
  }
  return std::nullopt;
}

std::optional<std::string> imdsRegion(HttpClient& http, const ImdsSettings& settings) {
  if (settings.disabled) return std::nullopt;
  ImdsClient imds(http, settings);
  std::optional<std::string> body = imds.get("latest/meta-data/placement/region");
  if (!body) return std::nullopt;
  const size_t begin = body->find_first_not_of(" \t\r\n");
  const size_t end = body->find_last_not_of(" \t\r\n");
  if (begin == std::string::npos) return std::nullopt;
  std::string region = body->substr(begin, end - begin + 1);
  if (!looksLikeRegion(region)) return std::nullopt;
  return region;
}

}  // namespace kinesyslog::aws
