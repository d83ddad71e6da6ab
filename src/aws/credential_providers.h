#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/imds_client.h"
#include "aws/profile_config.h"
#include "aws/sts_client.h"
#include "util/clock.h"

namespace kinesyslog::aws {

// The credential providers of botocore's default chain (botocore/credentials.py), one class
// each. They follow botocore's split between "not configured" (load() returns nullopt, the
// chain moves on) and "configured but failing" (CredentialsError, the chain stops), and name
// themselves with botocore's method names so logs read the same.
//
// None of them is thread-safe; the chain and RefreshingCredentials call load() from one thread
// at a time. Every provider re-reads what can change (token files, the process output, the
// endpoints) on each load(), so a load() is also a refresh.

// The answers the providers read, as pure functions (no I/O; never throw), so that each can be
// tested and fuzzed on its own (tests/fuzz/credential_documents_fuzz.cc).

// A credential document read: the credentials (without `source`), or why not. `jsonObject` is
// false when the text is not a JSON object at all (the container provider retries then, while
// an object without a required member is an answer, and an error).
struct ParsedCredentials {
  std::optional<Credentials> credentials;
  bool jsonObject = false;
  std::string error;  // set when credentials is empty and jsonObject is true
};

// The JSON of the container endpoint and of an IMDS role: AccessKeyId, SecretAccessKey, Token
// and an ISO 8601 Expiration are all required.
[[nodiscard]] ParsedCredentials parseContainerCredentials(std::string_view json);

// The stdout of a credential_process (version 1): Version 1, AccessKeyId and SecretAccessKey
// required; SessionToken and Expiration optional, the Expiration ISO 8601 when given.
[[nodiscard]] ParsedCredentials parseProcessCredentials(std::string_view json);

// The role of an IMDS latest/meta-data/iam/security-credentials/ listing: its first line,
// trimmed. nullopt when that is empty or holds a '/' (it becomes part of the next URL).
[[nodiscard]] std::optional<std::string> imdsRoleName(std::string_view listing);

// What the providers need from the outside. References must outlive the providers.
struct ProviderContext {
  std::shared_ptr<const ProfileConfig> config;
  EnvLookup env;
  HttpClient& http;
  StsClient& sts;
  const Clock& clock;
  // Pause between container-endpoint attempts; empty: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SECURITY_TOKEN or AWS_SESSION_TOKEN (the first
// set, botocore's order), AWS_CREDENTIAL_EXPIRATION. An access key without a secret key is a
// CredentialsError.
class EnvironmentProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentProvider(EnvLookup env);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "env"; }

 private:
  EnvLookup env_;
};

// The profile's keys in the shared credentials file (aws_access_key_id, aws_secret_access_key,
// aws_security_token or aws_session_token).
class SharedCredentialsFileProvider final : public CredentialsProvider {
 public:
  SharedCredentialsFileProvider(std::shared_ptr<const ProfileConfig> config, std::string profile);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "shared-credentials-file"; }

 private:
  std::shared_ptr<const ProfileConfig> config_;
  std::string profile_;
};

// The same keys in the profile's section of the shared config file.
class ConfigFileProvider final : public CredentialsProvider {
 public:
  ConfigFileProvider(std::shared_ptr<const ProfileConfig> config, std::string profile);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "config-file"; }

 private:
  std::shared_ptr<const ProfileConfig> config_;
  std::string profile_;
};

// The profile's credential_process (either file), run with /bin/sh -c, stdin from /dev/null,
// stdout parsed as the version 1 JSON document (AccessKeyId, SecretAccessKey, optional
// SessionToken and Expiration). A non-zero exit (its stderr quoted), a timeout, bad JSON or a
// missing key is a CredentialsError naming the profile.
class ProcessProvider final : public CredentialsProvider {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{60000};
  static constexpr size_t kMaxOutputBytes = 1 << 20;

  ProcessProvider(std::shared_ptr<const ProfileConfig> config, std::string profile,
                  std::chrono::milliseconds timeout = kDefaultTimeout);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "custom-process"; }

 private:
  std::shared_ptr<const ProfileConfig> config_;
  std::string profile_;
  std::chrono::milliseconds timeout_;
};

// AssumeRoleWithWebIdentity: web_identity_token_file, role_arn and role_session_name from the
// environment (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME; each wins over
// the profile's key) unless `useEnvironment` is false, else from the profile. The token file is
// read on every load (EKS rotates it). A token file without a role ARN, or an unreadable token
// file, is a CredentialsError.
class WebIdentityProvider final : public CredentialsProvider {
 public:
  WebIdentityProvider(const ProviderContext& context, std::string profile, bool useEnvironment);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "assume-role-with-web-identity"; }

 private:
  std::optional<std::string> setting(const Profile& profile, const std::string& key,
                                     const std::string& envName) const;

  ProviderContext context_;
  std::string profile_;
  bool useEnvironment_;
};

// The profile's role_arn (not combined with web_identity_token_file): AssumeRole with the
// credentials of source_profile — itself resolved through its own role_arn (role chaining) or
// its web identity, credentials file, credential_process or config file keys — or of
// credential_source (Environment, Ec2InstanceMetadata, EcsContainer). Session name:
// role_session_name, else botocore's `botocore-session-<epoch seconds>`; external_id and
// duration_seconds (default 3600, STS's own default) are passed on. Loops between profiles,
// both or neither of source_profile/credential_source, a missing source profile, a source
// without credentials and mfa_serial (a service cannot prompt) are CredentialsErrors.
class AssumeRoleProvider final : public CredentialsProvider {
 public:
  AssumeRoleProvider(const ProviderContext& context, std::string profile);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "assume-role"; }

 private:
  Credentials assumeFor(const std::string& profile, std::vector<std::string>& visited);
  Credentials sourceCredentials(const std::string& profile, const Profile& settings,
                                std::vector<std::string>& visited);

  ProviderContext context_;
  std::string profile_;
};

// ECS/EKS container credentials: GET http://169.254.170.2 + AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
// else AWS_CONTAINER_CREDENTIALS_FULL_URI (https, a loopback address, 169.254.170.2,
// 169.254.170.23, fd00:ec2::23 or localhost only), with `Authorization` from the file named by
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or from AWS_CONTAINER_AUTHORIZATION_TOKEN. Three
// attempts, 2 s each, 1 s apart (botocore's ContainerMetadataFetcher); then CredentialsError.
class ContainerProvider final : public CredentialsProvider {
 public:
  static constexpr std::string_view kRelativeHost = "http://169.254.170.2";
  static constexpr int kAttempts = 3;
  static constexpr std::chrono::milliseconds kTimeout{2000};
  static constexpr std::chrono::milliseconds kPause{1000};

  explicit ContainerProvider(const ProviderContext& context);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "container-role"; }

 private:
  ProviderContext context_;
};

// EC2 instance role credentials over IMDSv2: the role name from
// latest/meta-data/iam/security-credentials/, then that role's JSON. Like botocore, any failure
// means "not configured" (nullopt): the last provider of the chain never stops it with an
// error.
class InstanceMetadataProvider final : public CredentialsProvider {
 public:
  static constexpr std::string_view kRolePath = "latest/meta-data/iam/security-credentials/";

  InstanceMetadataProvider(HttpClient& http, ImdsSettings settings);
  [[nodiscard]] std::optional<Credentials> load() override;
  std::string name() const override { return "iam-role"; }

 private:
  HttpClient& http_;
  ImdsSettings settings_;
};

}  // namespace kinesyslog::aws
