#include "aws/credential_chain.h"

#include <spdlog/spdlog.h>

#include "aws/credential_providers.h"

namespace kinesyslog::aws {

namespace {

// Stands first in the chain when the selected profile does not exist: botocore refuses such a
// session outright (ProfileNotFound) rather than silently using other credentials.
class MissingProfile final : public CredentialsProvider {
 public:
  explicit MissingProfile(std::string message) : message_(std::move(message)) {}
  std::optional<Credentials> load() override { throw CredentialsError(message_); }
  std::string name() const override { return "profile-check"; }

 private:
  std::string message_;
};

}  // namespace

CredentialChain::CredentialChain(std::vector<std::unique_ptr<CredentialsProvider>> providers)
    : providers_(std::move(providers)) {}

std::optional<Credentials> CredentialChain::load() {
  if (answered_) {
    CredentialsProvider& provider = *providers_[*answered_];
    std::optional<Credentials> credentials = provider.load();
    if (!credentials) {
      throw CredentialsError("credential provider " + provider.name() +
                             " no longer provides credentials");
    }
    credentials->source = provider.name();
    return credentials;
  }
  for (size_t i = 0; i < providers_.size(); ++i) {
    std::optional<Credentials> credentials = providers_[i]->load();
    if (!credentials) continue;
    credentials->source = providers_[i]->name();
    answered_ = i;
    return credentials;
  }
  return std::nullopt;
}

std::vector<std::string> CredentialChain::providerNames() const {
  std::vector<std::string> names;
  names.reserve(providers_.size());
  for (const auto& provider : providers_) names.push_back(provider->name());
  return names;
}

std::unique_ptr<CredentialsProvider> makeDefaultChain(const ChainOptions& options) {
  std::shared_ptr<const ProfileConfig> config = options.profileConfig;
  if (!config) {
    auto loaded = std::make_shared<ProfileConfig>(loadProfileConfig(options.env));
    for (const std::string& warning : loaded->warnings) {
      spdlog::warn("AWS shared file ignored: {}", warning);
    }
    config = std::move(loaded);
  }
  const bool explicitProfile = options.profile && !options.profile->empty();
  const std::string profile = selectProfile(options.profile, options.env);
  const ProviderContext context{config, options.env, options.http, options.sts, options.clock, {}};

  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  if (profile != "default" && !config->hasProfile(profile)) {
    providers.push_back(std::make_unique<MissingProfile>(
        "AWS profile '" + profile + "' (" + (explicitProfile ? "--profile" : "AWS_PROFILE") +
        ") is in neither " + config->configPath + " nor " + config->credentialsPath));
  }
  if (!explicitProfile) providers.push_back(std::make_unique<EnvironmentProvider>(options.env));
  providers.push_back(std::make_unique<AssumeRoleProvider>(context, profile));
  providers.push_back(std::make_unique<WebIdentityProvider>(context, profile, !explicitProfile));
  providers.push_back(std::make_unique<SharedCredentialsFileProvider>(config, profile));
  providers.push_back(std::make_unique<ProcessProvider>(config, profile));
  providers.push_back(std::make_unique<ConfigFileProvider>(config, profile));
  providers.push_back(std::make_unique<ContainerProvider>(context));
  providers.push_back(std::make_unique<InstanceMetadataProvider>(
      options.http, imdsSettings(options.env, config->merged(profile))));
  return std::make_unique<CredentialChain>(std::move(providers));
}

}  // namespace kinesyslog::aws
