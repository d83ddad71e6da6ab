// Covered by tests/integration/test_firehose.py and tests/integration/test_startup.py (region,
// credentials, owner and stream checks against the stand-in).
#include "app/firehose_destination.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
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
    // docs/design.md "Records": the owner is the account of the credentials, from STS.
    aws::HttpStsClient sts(startupHttp_, stsEndpoint, region_, clock);
    try {
      owner_ = sts.getCallerAccount(first);
    } catch (const aws::CredentialsError& e) {
      throw StartupError(kExitConfig,
                         "STS GetCallerIdentity at " + stsEndpoint + " failed: " + e.what());
    }
  }

  firehoseEndpoint_ = firehoseEndpoint;
  streams_ = o.streams;
  lanesPerStream_ = deliver::SendRate::kMaxInFlight;
  openStreams(clock);
  spdlog::info("AWS: region {}, credentials from {}, owner {}, Firehose stream{} {} {} ACTIVE",
               region_, first.source, owner_, streams_.size() > 1 ? "s" : "",
               fmt::join(streams_, ", "), streams_.size() > 1 ? "are" : "is");
}

// One client and target per lane of every stream; each stream must be ACTIVE, and all of them
// in one account.
void FirehoseDestination::openStreams(const Clock& clock) {
  auto credentials = [this] { return credentials_->get(); };
  // The start-up check runs on this thread with the first lane's client, before any lane runs.
  std::string streamsAccount;
  std::string firstStream;
  for (const std::string& stream : streams_) {
    for (size_t lane = 0; lane < lanesPerStream_; ++lane) {
      laneHttp_.push_back(std::make_unique<aws::CurlHttpClient>());
      laneClients_.push_back(std::make_unique<aws::FirehoseClient>(
          *laneHttp_.back(), firehoseEndpoint_, region_, credentials, clock));
      targets_.push_back(std::make_unique<deliver::FirehoseTarget>(*laneClients_.back(), stream));
    }
    const std::string account =
        aws::requireActiveStream(*laneClients_[laneClients_.size() - lanesPerStream_], stream);
    // DescribeDeliveryStream only finds streams of the credentials' own account, so this holds
    // for AWS itself; it guards against an endpoint (a proxy, --endpoint-url) that answers for
    // several accounts, which would spread one relay's records over accounts.
    if (!account.empty()) {
      if (streamsAccount.empty()) {
        streamsAccount = account;
        firstStream = stream;
      } else if (account != streamsAccount) {
        throw StartupError(kExitConfig,
                           fmt::format("Firehose streams '{}' (account {}) and '{}' (account {}) "
                                       "are in different accounts; give streams of one account",
                                       firstStream, streamsAccount, stream, account));
      }
    }
  }
}

std::vector<deliver::UploadStream> FirehoseDestination::uploadStreams() const {
  std::vector<deliver::UploadStream> out;
  for (size_t s = 0; s < streams_.size(); ++s) {
    deliver::UploadStream stream{streams_[s], {}, true};
    for (size_t lane = 0; lane < lanesPerStream_; ++lane) {
      stream.lanes.push_back(targets_[s * lanesPerStream_ + lane].get());
    }
    out.push_back(std::move(stream));
  }
  return out;
}

std::string FirehoseDestination::describe() const {
  if (streams_.size() == 1) return targets_.front()->describe();
  return fmt::format("Firehose streams {} in {} ({})", fmt::join(streams_, ", "), region_,
                     firehoseEndpoint_);
}

FirehoseDestination::~FirehoseDestination() = default;

}  // namespace kinesyslog::app
