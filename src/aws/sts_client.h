#pragma once

#include <optional>
#include <string>

#include "aws/credentials.h"

namespace kinesyslog::aws {

// The STS calls the relay makes. An interface so credential providers are tested with fakes.
class StsClient {
 public:
  virtual ~StsClient() = default;
  // AssumeRole signed with `source` credentials (profile role_arn + source_profile).
  virtual Credentials assumeRole(const Credentials& source, const std::string& roleArn,
                                 const std::string& sessionName,
                                 const std::optional<std::string>& externalId,
                                 int durationSeconds) = 0;
  // AssumeRoleWithWebIdentity, unsigned (EKS IRSA, AWS_WEB_IDENTITY_TOKEN_FILE).
  virtual Credentials assumeRoleWithWebIdentity(const std::string& roleArn,
                                                const std::string& sessionName,
                                                const std::string& webIdentityToken) = 0;
  // GetCallerIdentity: the account id of `credentials` (the records' owner).
  virtual std::string getCallerAccount(const Credentials& credentials) = 0;
};

}  // namespace kinesyslog::aws
