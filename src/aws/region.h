#pragma once

#include <functional>
#include <optional>
#include <string>

#include "aws/http_client.h"
#include "aws/imds_client.h"
#include "aws/profile_config.h"

namespace kinesyslog::aws {

// The region as docs/design.md "AWS" orders its sources: --region, AWS_REGION, AWS_DEFAULT_REGION,
// the profile's `region` (botocore's full config: credentials file over config file), then the
// instance metadata service. Empty values count as unset. `imdsRegion` is only called when
// nothing else answered (it may block on the network); it may be empty. nullopt: no region.
[[nodiscard]] std::optional<std::string> resolveRegion(
    const std::optional<std::string>& explicitRegion, const EnvLookup& env,
    const ProfileConfig& config, const std::string& profile,
    const std::function<std::optional<std::string>()>& imdsRegion);

// The instance's region over IMDSv2: token PUT, then GET latest/meta-data/placement/region
// (exact for Local Zones, unlike botocore's availability zone minus its last letter). nullopt
// when IMDS is disabled, unreachable or answers nonsense.
[[nodiscard]] std::optional<std::string> imdsRegion(HttpClient& http, const ImdsSettings& settings);

}  // namespace kinesyslog::aws
