#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/profile_config.h"
#include "aws/sts_client.h"
#include "util/clock.h"

namespace kinesyslog::aws {

struct ChainOptions {
  std::optional<std::string> profile;  // --profile; when set, environment keys are skipped
  HttpClient& http;                    // container and instance metadata calls
  StsClient& sts;                      // AssumeRole, AssumeRoleWithWebIdentity
  const Clock& clock;
  EnvLookup env = processEnvironment();
  // The shared files, when the caller already loaded them (for the region too); null: the
  // chain loads them from `env`.
  std::shared_ptr<const ProfileConfig> profileConfig;
};

// Tries its providers in order and returns the first one's credentials, with `source` set to
// that provider's name. A CredentialsError from a provider stops the chain (rethrown), as
// botocore does. Once a provider has answered, later loads (refreshes) go to that provider
// only, as botocore's refreshable credentials keep their fetcher; if it then has nothing, that
// is a CredentialsError. nullopt: no provider is configured. Not thread-safe (one load at a
// time, which RefreshingCredentials guarantees).
class CredentialChain final : public CredentialsProvider {
 public:
  explicit CredentialChain(std::vector<std::unique_ptr<CredentialsProvider>> providers);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "chain"; }
  // The providers' names in order (tests, the start-up log line).
  std::vector<std::string> providerNames() const;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  std::optional<size_t> answered_;
};

// botocore's default chain (docs/design.md "AWS"), for the profile --profile, else AWS_PROFILE,
// else "default":
//   env (only without --profile), assume-role (role_arn + source_profile/credential_source),
//   assume-role-with-web-identity (its environment variables only without --profile, as
//   botocore), shared-credentials-file, custom-process, config-file, container-role, iam-role.
// A profile named by --profile or AWS_PROFILE that neither file holds makes the first load
// throw CredentialsError (botocore's ProfileNotFound), unless it is "default". Warnings about
// unreadable files are logged once here.
std::unique_ptr<CredentialsProvider> makeDefaultChain(const ChainOptions& options);

}  // namespace kinesyslog::aws
