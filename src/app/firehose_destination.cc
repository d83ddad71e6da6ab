#include "app/firehose_destination.h"

#include <spdlog/spdlog.h>

#include "aws/credential_chain.h"
#include "aws/credential_providers.h"
#include "aws/endpoints.h"
#include "aws/region.h"
#include "util/startup_error.h"

namespace kinesyslog::app {

namespace {

std::optional<std::string> nonEmpty(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

}  // namespace

FirehoseDestination::FirehoseDestination(const ListenOptions& o, const Clock& clock)
    : env_(aws::processEnvironment()) {
  auto profiles = std::make_shared<const aws::ProfileConfig>(aws::loadProfileConfig(env_));
  for (const auto& warning : profiles->warnings) spdlog::warn("AWS configuration: {}", warning);
  const std::optional<std::string> explicitProfile = nonEmpty(o.profile);
  const std::string profile = aws::selectProfile(explicitProfile, env_);
  if (explicitProfile && !profiles->hasProfile(profile)) {
    throw StartupError(kExitConfig, "AWS profile '" + profile + "' is not in " +
                                        profiles->configPath + " or " + profiles->credentialsPath);
  }

  const auto imdsSettings = aws::imdsSettings(env_, profiles->merged(profile));
  auto region = aws::resolveRegion(nonEmpty(o.region), env_, *profiles, profile,
                                   [&] { return aws::imdsRegion(startupHttp_, imdsSettings); });
  if (!region) {
    throw StartupError(kExitConfig,
                       "no AWS region: give --region, set AWS_REGION, or set region in the "
                       "profile '" +
                           profile + "'");
  }
  region_ = *region;

  const auto endpointEnv = aws::processEndpointEnv();
  const std::string stsEndpoint = aws::stsEndpoint(region_, o.stsEndpointUrl, endpointEnv);
  const std::string firehoseEndpoint = aws::firehoseEndpoint(region_, o.endpointUrl, endpointEnv);

  credentialsSts_ =
      std::make_unique<aws::HttpStsClient>(credentialsHttp_, stsEndpoint, region_, clock);
  aws::ChainOptions chainOptions{explicitProfile, credentialsHttp_, *credentialsSts_, clock, env_,
                                 profiles};
  credentials_ =
      std::make_unique<aws::RefreshingCredentials>(aws::makeDefaultChain(chainOptions), clock);
  aws::Credentials first;
  try {
    first = credentials_->get();
  } catch (const aws::CredentialsError& e) {
    throw StartupError(kExitConfig, std::string("no usable AWS credentials: ") + e.what());
  }

  if (!o.owner.empty()) {
    owner_ = o.owner;
  } else {
    // DESIGN §1 Record: the owner is the account of the credentials, from STS.
    aws::HttpStsClient sts(startupHttp_, stsEndpoint, region_, clock);
    try {
      owner_ = sts.getCallerAccount(first);
    } catch (const aws::CredentialsError& e) {
      throw StartupError(kExitConfig,
                         "STS GetCallerIdentity at " + stsEndpoint + " failed: " + e.what());
    }
  }

  firehose_ = std::make_unique<aws::FirehoseClient>(
      firehoseHttp_, firehoseEndpoint, region_, [this] { return credentials_->get(); }, clock);
  aws::requireActiveStream(*firehose_, o.stream);
  target_ = std::make_unique<deliver::FirehoseTarget>(*firehose_, o.stream);
  spdlog::info("AWS: region {}, credentials from {}, owner {}, Firehose stream {} is ACTIVE",
               region_, first.source, owner_, o.stream);
}

FirehoseDestination::~FirehoseDestination() = default;

}  // namespace kinesyslog::app
