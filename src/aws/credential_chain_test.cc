#include "aws/credential_chain.h"

#include <gtest/gtest.h>

#include <map>

#include "aws/aws_test_support.h"
#include "aws/fake_http_client.h"

namespace kinesyslog::aws {
namespace {

using testing::envOf;
using testing::FakeHttpClient;
using testing::TempDir;

constexpr int64_t kSecond = 1'000'000;

class FakeSts final : public StsClient {
 public:
  Credentials assumeRole(const Credentials& source, const std::string& roleArn, const std::string&,
                         const std::optional<std::string>&, int) override {
    sources.push_back(source.accessKeyId);
    return answer("ROLE:" + roleArn);
  }
  Credentials assumeRoleWithWebIdentity(const std::string& roleArn, const std::string&,
                                        const std::string&) override {
    return answer("WEB:" + roleArn);
  }
  std::string getCallerAccount(const Credentials&) override { return "123456789012"; }
  static Credentials answer(const std::string& key) {
    Credentials credentials;
    credentials.accessKeyId = key;
    credentials.secretAccessKey = "s";
    credentials.sessionToken = "t";
    credentials.expiresMicros = 1800000000 * kSecond;
    return credentials;
  }
  std::vector<std::string> sources;
};

const std::string kImds = "http://169.254.169.254/";

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = dir_.path();  // never the real ~/.aws
    env_["AWS_CONFIG_FILE"] = dir_.path() + "/config";
    env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_.path() + "/credentials";
  }

  void config(const std::string& text) { dir_.write("config", text); }
  void credentials(const std::string& text) { dir_.write("credentials", text); }
  void env(const std::string& name, const std::string& value) { env_[name] = value; }
  void envKeys() {
    env("AWS_ACCESS_KEY_ID", "ENVKEY");
    env("AWS_SECRET_ACCESS_KEY", "s");
  }
  void webIdentity() {
    env("AWS_WEB_IDENTITY_TOKEN_FILE", dir_.write("token", "jwt"));
    env("AWS_ROLE_ARN", "arn:web");
  }
  void containerEnv() {
    env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
    http_.on("GET", "http://169.254.170.2/v2/creds", 200,
             R"({"AccessKeyId":"ECSKEY","SecretAccessKey":"s","Token":"t",)"
             R"("Expiration":"2027-01-15T08:00:00Z"})");
  }
  void imds() {
    http_.on("PUT", kImds + "latest/api/token", 200, "tok");
    http_.on("GET", kImds + "latest/meta-data/iam/security-credentials/", 200, "role");
    http_.on("GET", kImds + "latest/meta-data/iam/security-credentials/role", 200,
             R"({"AccessKeyId":"EC2KEY","SecretAccessKey":"s","Token":"t",)"
             R"("Expiration":"2027-01-15T08:00:00Z"})");
  }

  std::unique_ptr<CredentialsProvider> chain(std::optional<std::string> profile = std::nullopt) {
    ChainOptions options{
        .profile = std::move(profile),
        .http = http_,
        .sts = sts_,
        .clock = clock_,
        .env = envOf(env_),
        .profileConfig = nullptr,
    };
    return makeDefaultChain(options);
  }

  // The source and access key of the chain's answer.
  std::pair<std::string, std::string> answer(std::optional<std::string> profile = std::nullopt) {
    const std::optional<Credentials> credentials = chain(std::move(profile))->load();
    if (!credentials) return {"<none>", ""};
    return {credentials->source, credentials->accessKeyId};
  }

  using Answer = std::pair<std::string, std::string>;

  TempDir dir_;
  std::map<std::string, std::string> env_;
  FakeHttpClient http_;
  FakeSts sts_;
  ManualClock clock_{1700000000 * kSecond};
};

// Everything configured at once for the profile "p"; each test removes layers from the top.
const std::string kFullConfig =
    "[profile p]\n"
    "role_arn = arn:role\nsource_profile = base\n"
    "credential_process = echo "
    "'{\"Version\":1,\"AccessKeyId\":\"PROCKEY\",\"SecretAccessKey\":\"s\"}'\n"
    "aws_access_key_id = CFGKEY\naws_secret_access_key = s\n"
    "[profile base]\naws_access_key_id = BASEKEY\naws_secret_access_key = s\n";

TEST_F(ChainTest, ProviderOrder) {
  const auto withoutProfile = dynamic_cast<CredentialChain&>(*chain()).providerNames();
  EXPECT_EQ(withoutProfile,
            (std::vector<std::string>{"env", "assume-role", "assume-role-with-web-identity",
                                      "shared-credentials-file", "custom-process", "config-file",
                                      "container-role", "iam-role"}));
  config("[profile p]\n");
  const auto withProfile = dynamic_cast<CredentialChain&>(*chain("p")).providerNames();
  EXPECT_EQ(withProfile, (std::vector<std::string>{"assume-role", "assume-role-with-web-identity",
                                                   "shared-credentials-file", "custom-process",
                                                   "config-file", "container-role", "iam-role"}));
}

TEST_F(ChainTest, EnvironmentWinsOverEverythingWithoutExplicitProfile) {
  config(kFullConfig);
  credentials("[p]\naws_access_key_id = CREDKEY\naws_secret_access_key = s\n");
  envKeys();
  webIdentity();
  containerEnv();
  imds();
  env("AWS_PROFILE", "p");  // AWS_PROFILE does not skip the environment, --profile does
  EXPECT_EQ(answer(), Answer("env", "ENVKEY"));
  EXPECT_EQ(answer("p"), Answer("assume-role", "ROLE:arn:role"));
  EXPECT_EQ(sts_.sources, std::vector<std::string>{"BASEKEY"});
}

TEST_F(ChainTest, AssumeRoleBeforeWebIdentityBeforeCredentialsFile) {
  config(kFullConfig);
  credentials("[p]\naws_access_key_id = CREDKEY\naws_secret_access_key = s\n");
  webIdentity();
  env("AWS_PROFILE", "p");
  EXPECT_EQ(answer(), Answer("assume-role", "ROLE:arn:role"));
  config("[profile p]\naws_access_key_id = CFGKEY\naws_secret_access_key = s\n");
  EXPECT_EQ(answer(), Answer("assume-role-with-web-identity", "WEB:arn:web"));
  // An explicit profile also turns off the web identity environment variables (botocore).
  EXPECT_EQ(answer("p"), Answer("shared-credentials-file", "CREDKEY"));
}

TEST_F(ChainTest, CredentialsFileThenProcessThenConfigFile) {
  config(
      "[profile p]\n"
      "credential_process = echo '{\"Version\":1,\"AccessKeyId\":\"PROCKEY\","
      "\"SecretAccessKey\":\"s\"}'\n"
      "aws_access_key_id = CFGKEY\naws_secret_access_key = s\n");
  credentials("[p]\naws_access_key_id = CREDKEY\naws_secret_access_key = s\n");
  containerEnv();
  EXPECT_EQ(answer("p"), Answer("shared-credentials-file", "CREDKEY"));
  credentials("");
  EXPECT_EQ(answer("p"), Answer("custom-process", "PROCKEY"));
  config("[profile p]\naws_access_key_id = CFGKEY\naws_secret_access_key = s\n");
  EXPECT_EQ(answer("p"), Answer("config-file", "CFGKEY"));
  config("[profile p]\n");
  EXPECT_EQ(answer("p"), Answer("container-role", "ECSKEY"));
}

TEST_F(ChainTest, ContainerBeforeInstanceMetadataThenNothing) {
  containerEnv();
  imds();
  EXPECT_EQ(answer(), Answer("container-role", "ECSKEY"));
  env_.erase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  EXPECT_EQ(answer(), Answer("iam-role", "EC2KEY"));
  env("AWS_EC2_METADATA_DISABLED", "true");
  http_.requests.clear();
  EXPECT_EQ(answer(), Answer("<none>", ""));
  EXPECT_TRUE(http_.requests.empty());
}

TEST_F(ChainTest, MetadataEndpointOverride) {
  http_.on("PUT", "http://127.0.0.1:1338/latest/api/token", 200, "tok");
  http_.on("GET", "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/", 200, "r");
  http_.on("GET", "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/r", 200,
           R"({"AccessKeyId":"LOCAL","SecretAccessKey":"s","Token":"t",)"
           R"("Expiration":"2027-01-15T08:00:00Z"})");
  env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338");
  EXPECT_EQ(answer(), Answer("iam-role", "LOCAL"));
}

TEST_F(ChainTest, ConfiguredButFailingProviderStopsTheChain) {
  config(
      "[default]\ncredential_process = exit 1\n"
      "aws_access_key_id = CFGKEY\naws_secret_access_key = s\n");
  EXPECT_THROW(chain()->load(), CredentialsError);
  config("");
  env("AWS_ACCESS_KEY_ID", "only-the-key");
  EXPECT_THROW(chain()->load(), CredentialsError);
}

TEST_F(ChainTest, MissingNamedProfileIsAnError) {
  envKeys();
  try {
    chain("ghost")->load();
    ADD_FAILURE();
  } catch (const CredentialsError& error) {
    EXPECT_NE(std::string(error.what()).find("'ghost' (--profile)"), std::string::npos);
  }
  env("AWS_PROFILE", "ghost");
  EXPECT_THROW(chain()->load(), CredentialsError);
  // "default" may be absent: the chain simply goes on.
  env("AWS_PROFILE", "default");
  EXPECT_EQ(answer(), Answer("env", "ENVKEY"));
}

TEST_F(ChainTest, RefreshStaysWithTheProviderThatAnswered) {
  imds();
  const auto provider = chain();
  ASSERT_EQ(provider->load()->source, "iam-role");
  // Credentials appear in the environment later: not picked up by refreshes (botocore keeps
  // its fetcher) ...
  http_.clear();
  env("AWS_ACCESS_KEY_ID", "late");
  // ... and IMDS now failing is an error rather than a silent switch.
  EXPECT_THROW(provider->load(), CredentialsError);
}

TEST_F(ChainTest, GivenProfileConfigIsUsed) {
  auto loaded = std::make_shared<ProfileConfig>();
  loaded->credentialsFile =
      credentialsFileProfiles("[default]\naws_access_key_id = GIVEN\naws_secret_access_key = s\n");
  ChainOptions options{.profile = std::nullopt,
                       .http = http_,
                       .sts = sts_,
                       .clock = clock_,
                       .env = [](const std::string&) { return std::optional<std::string>(); },
                       .profileConfig = loaded};
  EXPECT_EQ(makeDefaultChain(options)->load()->accessKeyId, "GIVEN");
}

}  // namespace
}  // namespace kinesyslog::aws
