#include "aws/credential_providers.h"

#include <gtest/gtest.h>

#include <map>

#include "aws/aws_test_support.h"
#include "aws/fake_http_client.h"

namespace kinesyslog::aws {
namespace {

using testing::envOf;
using testing::FakeHttpClient;
using testing::headerOf;
using testing::TempDir;

constexpr int64_t kSecond = 1'000'000;
// 2026-11-26T18:00:00Z
constexpr int64_t kExpiry = 1795716000 * kSecond;

struct AssumeRoleCall {
  std::string sourceKey;
  std::string roleArn;
  std::string sessionName;
  std::optional<std::string> externalId;
  int durationSeconds;
};

class FakeSts final : public StsClient {
 public:
  Credentials assumeRole(const Credentials& source, const std::string& roleArn,
                         const std::string& sessionName,
                         const std::optional<std::string>& externalId,
                         int durationSeconds) override {
    calls.push_back({source.accessKeyId, roleArn, sessionName, externalId, durationSeconds});
    if (fail) throw CredentialsError("AccessDenied");
    return roleCredentials(roleArn);
  }
  Credentials assumeRoleWithWebIdentity(const std::string& roleArn, const std::string& sessionName,
                                        const std::string& webIdentityToken) override {
    webCalls.push_back({webIdentityToken, roleArn, sessionName, std::nullopt, 0});
    if (fail) throw CredentialsError("InvalidIdentityToken");
    return roleCredentials(roleArn);
  }
  std::string getCallerAccount(const Credentials&) override { return "123456789012"; }

  static Credentials roleCredentials(const std::string& roleArn) {
    Credentials credentials;
    credentials.accessKeyId = "ASIA:" + roleArn;
    credentials.secretAccessKey = "secret";
    credentials.sessionToken = "token";
    credentials.expiresMicros = kExpiry;
    return credentials;
  }

  std::vector<AssumeRoleCall> calls;
  std::vector<AssumeRoleCall> webCalls;  // sourceKey holds the token
  bool fail = false;
};

std::shared_ptr<const ProfileConfig> configOf(const std::string& configText,
                                              const std::string& credentialsText) {
  auto config = std::make_shared<ProfileConfig>();
  config->configFile = configFileProfiles(configText);
  config->credentialsFile = credentialsFileProfiles(credentialsText);
  config->configPath = "/test/config";
  config->credentialsPath = "/test/credentials";
  return config;
}

class ProvidersTest : public ::testing::Test {
 protected:
  ProviderContext context(std::shared_ptr<const ProfileConfig> config,
                          std::map<std::string, std::string> env = {}) {
    return ProviderContext{std::move(config),
                           envOf(std::move(env)),
                           http,
                           sts,
                           clock,
                           [this](std::chrono::milliseconds pause) { sleeps.push_back(pause); }};
  }

  FakeHttpClient http;
  FakeSts sts;
  ManualClock clock{1700000000 * kSecond};
  std::vector<std::chrono::milliseconds> sleeps;
};

// ---- environment ----

TEST(EnvironmentProviderTest, NotConfigured) {
  EXPECT_EQ(EnvironmentProvider(envOf({})).load(), std::nullopt);
  EXPECT_EQ(EnvironmentProvider(envOf({{"AWS_ACCESS_KEY_ID", ""}})).load(), std::nullopt);
}

TEST(EnvironmentProviderTest, KeysTokenAndExpiration) {
  const auto credentials =
      EnvironmentProvider(envOf({{"AWS_ACCESS_KEY_ID", "AKID"},
                                 {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                 {"AWS_SESSION_TOKEN", "TOKEN"},
                                 {"AWS_CREDENTIAL_EXPIRATION", "2026-11-26T18:00:00Z"}}))
          .load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "AKID");
  EXPECT_EQ(credentials->secretAccessKey, "SECRET");
  EXPECT_EQ(credentials->sessionToken, "TOKEN");
  EXPECT_EQ(credentials->expiresMicros, kExpiry);
  EXPECT_EQ(credentials->source, "env");
}

TEST(EnvironmentProviderTest, LegacySecurityTokenFirst) {
  const auto credentials = EnvironmentProvider(envOf({{"AWS_ACCESS_KEY_ID", "AKID"},
                                                      {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                                      {"AWS_SECURITY_TOKEN", "OLD"},
                                                      {"AWS_SESSION_TOKEN", "NEW"}}))
                               .load();
  EXPECT_EQ(credentials->sessionToken, "OLD");
  EXPECT_EQ(credentials->expiresMicros, std::nullopt);
}

TEST(EnvironmentProviderTest, Failing) {
  EXPECT_THROW(EnvironmentProvider(envOf({{"AWS_ACCESS_KEY_ID", "AKID"}})).load(),
               CredentialsError);
  EXPECT_THROW(EnvironmentProvider(envOf({{"AWS_ACCESS_KEY_ID", "AKID"},
                                          {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                          {"AWS_CREDENTIAL_EXPIRATION", "tomorrow"}}))
                   .load(),
               CredentialsError);
}

// ---- shared credentials file / config file ----

TEST(FileProvidersTest, CredentialsFile) {
  const auto config = configOf(
      "", "[dev]\naws_access_key_id = AKID\naws_secret_access_key = S\naws_session_token = T\n");
  const auto credentials = SharedCredentialsFileProvider(config, "dev").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "AKID");
  EXPECT_EQ(credentials->sessionToken, "T");
  EXPECT_EQ(credentials->source, "shared-credentials-file");
  EXPECT_EQ(SharedCredentialsFileProvider(config, "prod").load(), std::nullopt);
  // The credentials file's provider never reads the config file.
  EXPECT_EQ(
      SharedCredentialsFileProvider(
          configOf("[profile dev]\naws_access_key_id = A\naws_secret_access_key = S\n", ""), "dev")
          .load(),
      std::nullopt);
}

TEST(FileProvidersTest, ConfigFile) {
  const auto config = configOf(
      "[profile dev]\naws_access_key_id = AKID\naws_secret_access_key = S\n"
      "[dev2]\naws_access_key_id = X\naws_secret_access_key = S\n",
      "");
  const auto credentials = ConfigFileProvider(config, "dev").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "AKID");
  EXPECT_EQ(credentials->sessionToken, "");
  EXPECT_EQ(credentials->source, "config-file");
  EXPECT_EQ(ConfigFileProvider(config, "dev2").load(), std::nullopt);  // [dev2] is no profile
}

TEST(FileProvidersTest, AccessKeyWithoutSecretFails) {
  const auto config =
      configOf("[default]\naws_access_key_id = A\n", "[x]\naws_access_key_id = A\n");
  EXPECT_THROW(ConfigFileProvider(config, "default").load(), CredentialsError);
  EXPECT_THROW(SharedCredentialsFileProvider(config, "x").load(), CredentialsError);
}

// ---- credential_process ----

TEST(ProcessProviderTest, NotConfigured) {
  EXPECT_EQ(ProcessProvider(configOf("[default]\nregion = x\n", ""), "default").load(),
            std::nullopt);
}

TEST(ProcessProviderTest, RunsTheShellCommandAndParsesItsJson) {
  const auto config = configOf(
      "[profile p]\ncredential_process = printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKID\", "
      "\"SecretAccessKey\": \"S\", \"SessionToken\": \"T\", "
      "\"Expiration\": \"2026-11-26T18:00:00Z\"}'\n",
      "");
  const auto credentials = ProcessProvider(config, "p").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "AKID");
  EXPECT_EQ(credentials->secretAccessKey, "S");
  EXPECT_EQ(credentials->sessionToken, "T");
  EXPECT_EQ(credentials->expiresMicros, kExpiry);
  EXPECT_EQ(credentials->source, "custom-process");
}

TEST(ProcessProviderTest, FromTheCredentialsFileWithoutTokenOrExpiration) {
  const auto config =
      configOf("",
               "[p]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"A\","
               "\"SecretAccessKey\":\"S\"}'\n");
  const auto credentials = ProcessProvider(config, "p").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->sessionToken, "");
  EXPECT_EQ(credentials->expiresMicros, std::nullopt);
}

void expectProcessError(const std::string& command, const std::string& fragment,
                        std::chrono::milliseconds timeout = ProcessProvider::kDefaultTimeout) {
  const auto config = configOf("[profile ops]\ncredential_process = " + command + "\n", "");
  try {
    (void)ProcessProvider(config, "ops", timeout).load();  // must throw
    ADD_FAILURE() << command << " did not throw";
  } catch (const CredentialsError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'ops'"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(ProcessProviderTest, Failures) {
  expectProcessError("echo no credentials for you >&2; exit 3", "status 3: no credentials for you");
  expectProcessError("echo not json", "JSON");
  expectProcessError("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'",
                     "Version");
  expectProcessError("echo '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'", "Version");
  expectProcessError("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'", "SecretAccessKey");
  expectProcessError(
      "echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", "
      "\"Expiration\": \"soon\"}'",
      "Expiration");
  expectProcessError("/nonexistent/helper", "status 127");
  expectProcessError("kill -9 $$", "signal 9");
  expectProcessError("sleep 5", "did not finish", std::chrono::milliseconds(200));
}

// ---- web identity ----

TEST_F(ProvidersTest, WebIdentityNotConfigured) {
  EXPECT_EQ(WebIdentityProvider(context(configOf("", "")), "default", true).load(), std::nullopt);
}

TEST_F(ProvidersTest, WebIdentityFromEnvironmentReadsTheTokenFile) {
  TempDir dir;
  const std::string tokenFile = dir.write("token", "eyJhbGciOi.jwt.sig\n");
  WebIdentityProvider provider(
      context(configOf("", ""), {{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile},
                                 {"AWS_ROLE_ARN", "arn:role/irsa"},
                                 {"AWS_ROLE_SESSION_NAME", "pod-1"}}),
      "default", true);
  const auto credentials = provider.load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "ASIA:arn:role/irsa");
  EXPECT_EQ(credentials->source, "assume-role-with-web-identity");
  ASSERT_EQ(sts.webCalls.size(), 1u);
  EXPECT_EQ(sts.webCalls[0].sourceKey, "eyJhbGciOi.jwt.sig");
  EXPECT_EQ(sts.webCalls[0].roleArn, "arn:role/irsa");
  EXPECT_EQ(sts.webCalls[0].sessionName, "pod-1");
  // Rotated token: read again on the next load.
  dir.write("token", "rotated");
  (void)provider.load();  // the STS call it makes is checked
  EXPECT_EQ(sts.webCalls[1].sourceKey, "rotated");
}

TEST_F(ProvidersTest, WebIdentityFromProfileWithGeneratedSessionName) {
  TempDir dir;
  const std::string tokenFile = dir.write("token", "jwt");
  const auto config = configOf(
      "[profile w]\nweb_identity_token_file = " + tokenFile + "\nrole_arn = arn:role/w\n", "");
  // Environment variables are ignored when useEnvironment is false.
  const auto credentials =
      WebIdentityProvider(context(config, {{"AWS_ROLE_ARN", "arn:role/env"}}), "w", false).load();
  ASSERT_TRUE(credentials);
  ASSERT_EQ(sts.webCalls.size(), 1u);
  EXPECT_EQ(sts.webCalls[0].roleArn, "arn:role/w");
  EXPECT_EQ(sts.webCalls[0].sessionName, "botocore-session-1700000000");
}

TEST_F(ProvidersTest, WebIdentityFailures) {
  TempDir dir;
  const std::string tokenFile = dir.write("token", "jwt");
  EXPECT_THROW(
      WebIdentityProvider(context(configOf("", ""), {{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile}}),
                          "default", true)
          .load(),
      CredentialsError);  // no role ARN
  EXPECT_THROW(WebIdentityProvider(
                   context(configOf("", ""), {{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.path() + "/none"},
                                              {"AWS_ROLE_ARN", "arn:role/x"}}),
                   "default", true)
                   .load(),
               CredentialsError);  // unreadable token file
  sts.fail = true;
  EXPECT_THROW(
      WebIdentityProvider(context(configOf("", ""), {{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile},
                                                     {"AWS_ROLE_ARN", "arn:role/x"}}),
                          "default", true)
          .load(),
      CredentialsError);  // STS refuses
}

// ---- assume role ----

TEST_F(ProvidersTest, AssumeRoleNotConfigured) {
  EXPECT_EQ(AssumeRoleProvider(context(configOf("[default]\nregion = x\n", "")), "default").load(),
            std::nullopt);
  // role_arn with a web identity token file belongs to the web identity provider.
  EXPECT_EQ(AssumeRoleProvider(context(configOf("[profile w]\nrole_arn = r\n"
                                                "web_identity_token_file = /t\n",
                                                "")),
                               "w")
                .load(),
            std::nullopt);
}

TEST_F(ProvidersTest, AssumeRoleWithSourceProfileKeys) {
  const auto config = configOf(
      "[profile app]\nrole_arn = arn:role/app\nsource_profile = base\nexternal_id = ext\n"
      "duration_seconds = 900\nrole_session_name = relay\n",
      "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = S\n");
  const auto credentials = AssumeRoleProvider(context(config), "app").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "ASIA:arn:role/app");
  EXPECT_EQ(credentials->expiresMicros, kExpiry);
  EXPECT_EQ(credentials->source, "assume-role");
  ASSERT_EQ(sts.calls.size(), 1u);
  EXPECT_EQ(sts.calls[0].sourceKey, "BASEKEY");
  EXPECT_EQ(sts.calls[0].roleArn, "arn:role/app");
  EXPECT_EQ(sts.calls[0].sessionName, "relay");
  EXPECT_EQ(sts.calls[0].externalId, "ext");
  EXPECT_EQ(sts.calls[0].durationSeconds, 900);
}

TEST_F(ProvidersTest, AssumeRoleDefaultsAndRoleArnInCredentialsFile) {
  const auto config =
      configOf("[profile base]\naws_access_key_id = CFGKEY\naws_secret_access_key = S\n",
               "[app]\nrole_arn = arn:role/app\nsource_profile = base\n");
  ASSERT_TRUE(AssumeRoleProvider(context(config), "app").load());
  ASSERT_EQ(sts.calls.size(), 1u);
  EXPECT_EQ(sts.calls[0].sourceKey, "CFGKEY");  // source keys from the config file
  EXPECT_EQ(sts.calls[0].sessionName, "botocore-session-1700000000");
  EXPECT_EQ(sts.calls[0].externalId, std::nullopt);
  EXPECT_EQ(sts.calls[0].durationSeconds, 3600);
}

TEST_F(ProvidersTest, RoleChainingThroughSourceProfiles) {
  const auto config = configOf(
      "[profile top]\nrole_arn = arn:role/top\nsource_profile = middle\n"
      "[profile middle]\nrole_arn = arn:role/middle\nsource_profile = root\n",
      "[root]\naws_access_key_id = ROOTKEY\naws_secret_access_key = S\n");
  const auto credentials = AssumeRoleProvider(context(config), "top").load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "ASIA:arn:role/top");
  ASSERT_EQ(sts.calls.size(), 2u);
  EXPECT_EQ(sts.calls[0].sourceKey, "ROOTKEY");
  EXPECT_EQ(sts.calls[0].roleArn, "arn:role/middle");
  EXPECT_EQ(sts.calls[1].sourceKey, "ASIA:arn:role/middle");
  EXPECT_EQ(sts.calls[1].roleArn, "arn:role/top");
}

TEST_F(ProvidersTest, SourceProfileWithKeysAndRoleArnUsesItsKeys) {
  const auto config = configOf(
      "[profile top]\nrole_arn = arn:role/top\nsource_profile = mid\n"
      "[profile mid]\nrole_arn = arn:role/mid\nsource_profile = nowhere\n"
      "aws_access_key_id = MIDKEY\naws_secret_access_key = S\n",
      "");
  ASSERT_TRUE(AssumeRoleProvider(context(config), "top").load());
  ASSERT_EQ(sts.calls.size(), 1u);
  EXPECT_EQ(sts.calls[0].sourceKey, "MIDKEY");
}

TEST_F(ProvidersTest, SelfReferenceWithStaticKeysIsAllowed) {
  const auto config = configOf("",
                               "[me]\nrole_arn = arn:role/me\nsource_profile = me\n"
                               "aws_access_key_id = MYKEY\naws_secret_access_key = S\n");
  ASSERT_TRUE(AssumeRoleProvider(context(config), "me").load());
  EXPECT_EQ(sts.calls.at(0).sourceKey, "MYKEY");
}

void expectError(CredentialsProvider& provider, const std::string& fragment) {
  try {
    provider.load();
    ADD_FAILURE() << "no CredentialsError";
  } catch (const CredentialsError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST_F(ProvidersTest, AssumeRoleLoopsAndMisconfigurations) {
  {
    AssumeRoleProvider loop(context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\n"
                                             "[profile b]\nrole_arn = rb\nsource_profile = a\n",
                                             "")),
                            "a");
    expectError(loop, "loop: a -> b -> a");
  }
  {
    AssumeRoleProvider self(
        context(configOf("[profile a]\nrole_arn = ra\nsource_profile = a\n", "")), "a");
    expectError(self, "loop");
  }
  {
    AssumeRoleProvider missing(
        context(configOf("[profile a]\nrole_arn = ra\nsource_profile = ghost\n", "")), "a");
    expectError(missing, "'ghost' does not exist");
  }
  {
    AssumeRoleProvider neither(context(configOf("[profile a]\nrole_arn = ra\n", "")), "a");
    expectError(neither, "without source_profile or credential_source");
  }
  {
    AssumeRoleProvider both(context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\n"
                                             "credential_source = Environment\n[profile b]\n",
                                             "")),
                            "a");
    expectError(both, "both");
  }
  {
    AssumeRoleProvider empty(context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\n"
                                              "[profile b]\nregion = x\n",
                                              "")),
                             "a");
    expectError(empty, "'b' has no credentials");
  }
  {
    AssumeRoleProvider mfa(context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\n"
                                            "mfa_serial = arn:mfa\n",
                                            "[b]\naws_access_key_id = K\n"
                                            "aws_secret_access_key = S\n")),
                           "a");
    expectError(mfa, "mfa_serial");
  }
  {
    AssumeRoleProvider duration(
        context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\nduration_seconds = 1h\n",
                         "[b]\naws_access_key_id = K\naws_secret_access_key = S\n")),
        "a");
    expectError(duration, "duration_seconds");
  }
  EXPECT_TRUE(sts.calls.empty());
}

TEST_F(ProvidersTest, AssumeRoleStsFailureIsAnError) {
  sts.fail = true;
  AssumeRoleProvider provider(
      context(configOf("[profile a]\nrole_arn = ra\nsource_profile = b\n",
                       "[b]\naws_access_key_id = K\naws_secret_access_key = S\n")),
      "a");
  expectError(provider, "AccessDenied");
}

TEST_F(ProvidersTest, AssumeRoleWithCredentialSourceEnvironment) {
  const auto config = configOf("[profile a]\nrole_arn = ra\ncredential_source = Environment\n", "");
  ASSERT_TRUE(
      AssumeRoleProvider(
          context(config, {{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "S"}}), "a")
          .load());
  EXPECT_EQ(sts.calls.at(0).sourceKey, "ENVKEY");
  AssumeRoleProvider nothing(context(config), "a");
  expectError(nothing, "provided no credentials");
  AssumeRoleProvider unknown(
      context(configOf("[profile a]\nrole_arn = ra\ncredential_source = Magic\n", "")), "a");
  expectError(unknown, "unsupported credential_source");
}

TEST_F(ProvidersTest, SourceProfileThroughCredentialProcess) {
  const auto config = configOf(
      "[profile a]\nrole_arn = ra\nsource_profile = b\n"
      "[profile b]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"PROCKEY\","
      "\"SecretAccessKey\":\"S\"}'\n",
      "");
  ASSERT_TRUE(AssumeRoleProvider(context(config), "a").load());
  EXPECT_EQ(sts.calls.at(0).sourceKey, "PROCKEY");
}

// ---- container ----

const std::string kContainerBody =
    R"({"RoleArn":"arn:role/task","AccessKeyId":"ECSKEY","SecretAccessKey":"S",)"
    R"("Token":"T","Expiration":"2026-11-26T18:00:00Z"})";

TEST_F(ProvidersTest, ContainerNotConfigured) {
  EXPECT_EQ(ContainerProvider(context(configOf("", ""))).load(), std::nullopt);
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(ProvidersTest, ContainerRelativeUri) {
  http.on("GET", "http://169.254.170.2/v2/credentials/abc", 200, kContainerBody);
  const auto credentials =
      ContainerProvider(
          context(configOf("", ""),
                  {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                   {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/ignored"}}))
          .load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "ECSKEY");
  EXPECT_EQ(credentials->sessionToken, "T");
  EXPECT_EQ(credentials->expiresMicros, kExpiry);
  EXPECT_EQ(credentials->source, "container-role");
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(headerOf(http.requests.at(0), "Accept"), "application/json");
  EXPECT_EQ(headerOf(http.requests.at(0), "Authorization"), std::nullopt);
}

TEST_F(ProvidersTest, ContainerFullUriWithAuthorizationToken) {
  http.on("GET", "http://127.0.0.1:8080/creds", 200, kContainerBody);
  const auto credentials =
      ContainerProvider(
          context(configOf("", ""),
                  {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc"}}))
          .load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(headerOf(http.requests.at(0), "Authorization"), "Bearer abc");
}

TEST_F(ProvidersTest, ContainerAuthorizationTokenFileWins) {
  TempDir dir;
  const std::string tokenFile = dir.write("eks-token", "from-file");
  http.on("GET", "http://169.254.170.23/v1/credentials", 200, kContainerBody);
  ASSERT_TRUE(ContainerProvider(
                  context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                              "http://169.254.170.23/v1/credentials"},
                                             {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile},
                                             {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env"}}))
                  .load());
  EXPECT_EQ(headerOf(http.requests.at(0), "Authorization"), "from-file");
}

TEST_F(ProvidersTest, ContainerFullUriHostsAllowed) {
  for (const char* url : {"https://example.com/creds", "http://localhost/c", "http://[::1]:80/c",
                          "http://127.1.2.3/c", "http://[fd00:ec2::23]/c"}) {
    http.on("GET", url, 200, kContainerBody);
    EXPECT_TRUE(
        ContainerProvider(context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}))
            .load())
        << url;
  }
  for (const char* url :
       {"http://example.com/creds", "http://10.0.0.1/c", "ftp://localhost/c", "not a url"}) {
    ContainerProvider provider(
        context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}));
    expectError(provider, "not allowed");
  }
}

TEST_F(ProvidersTest, ContainerRetriesThenFails) {
  http.on("GET", "http://169.254.170.2/c", 500, "busy");
  http.on("GET", "http://169.254.170.2/c", 200, "not json");
  http.on("GET", "http://169.254.170.2/c", 200, kContainerBody);
  ASSERT_TRUE(ContainerProvider(
                  context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}))
                  .load());
  EXPECT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(sleeps.size(), 2u);

  ContainerProvider down(
      context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/down"}}));
  expectError(down, "failed after 3 attempts: connection refused");
  EXPECT_EQ(http.requests.size(), 6u);
}

TEST_F(ProvidersTest, ContainerIncompleteAnswerFails) {
  http.on("GET", "http://169.254.170.2/c", 200, R"({"AccessKeyId":"A","SecretAccessKey":"S"})");
  ContainerProvider provider(
      context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}));
  expectError(provider, "missing Token");
  ContainerProvider injected(
      context(configOf("", ""), {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1"}}));
  expectError(injected, "line break");
}

// ---- instance metadata ----

const std::string kImds = "http://169.254.169.254/";
const std::string kImdsBody =
    R"({"Code":"Success","LastUpdated":"2026-11-26T12:00:00Z","Type":"AWS-HMAC",)"
    R"("AccessKeyId":"EC2KEY","SecretAccessKey":"S","Token":"T",)"
    R"("Expiration":"2026-11-26T18:00:00Z"})";

void answerImds(FakeHttpClient& http, const std::string& base) {
  http.on("PUT", base + "latest/api/token", 200, "imds-token");
  http.on("GET", base + "latest/meta-data/iam/security-credentials/", 200, "relay-role\n");
  http.on("GET", base + "latest/meta-data/iam/security-credentials/relay-role", 200, kImdsBody);
}

TEST_F(ProvidersTest, InstanceMetadataV2) {
  answerImds(http, kImds);
  const auto credentials = InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->accessKeyId, "EC2KEY");
  EXPECT_EQ(credentials->sessionToken, "T");
  EXPECT_EQ(credentials->expiresMicros, kExpiry);
  EXPECT_EQ(credentials->source, "iam-role");
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[0].method, "PUT");
  EXPECT_EQ(http.requests[0].url, kImds + "latest/api/token");
  EXPECT_EQ(headerOf(http.requests.at(0), "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(http.requests[0].timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(http.requests[1].url, kImds + "latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(headerOf(http.requests.at(1), "X-aws-ec2-metadata-token"), "imds-token");
  EXPECT_EQ(http.requests[2].url, kImds + "latest/meta-data/iam/security-credentials/relay-role");
  EXPECT_EQ(headerOf(http.requests.at(2), "X-aws-ec2-metadata-token"), "imds-token");
}

TEST_F(ProvidersTest, InstanceMetadataDisabled) {
  answerImds(http, kImds);
  for (const char* value : {"true", "TRUE", "True"}) {
    EXPECT_EQ(InstanceMetadataProvider(
                  http, imdsSettings(envOf({{"AWS_EC2_METADATA_DISABLED", value}}), {}))
                  .load(),
              std::nullopt);
  }
  EXPECT_TRUE(http.requests.empty());
  EXPECT_TRUE(
      InstanceMetadataProvider(http, imdsSettings(envOf({{"AWS_EC2_METADATA_DISABLED", "1"}}), {}))
          .load());
}

TEST_F(ProvidersTest, InstanceMetadataEndpointOverride) {
  answerImds(http, "http://127.0.0.1:9999/");
  const auto credentials =
      InstanceMetadataProvider(
          http, imdsSettings(envOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9999"},
                                    {"AWS_METADATA_SERVICE_TIMEOUT", "2.5"}}),
                             {}))
          .load();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(http.requests[0].url, "http://127.0.0.1:9999/latest/api/token");
  EXPECT_EQ(http.requests[0].timeout, std::chrono::milliseconds(2500));
}

TEST(ImdsSettingsTest, ProfileKeysAndIpv6Mode) {
  Profile profile;
  profile.values["ec2_metadata_service_endpoint_mode"] = "IPv6";
  profile.values["metadata_service_num_attempts"] = "3";
  ImdsSettings settings = imdsSettings(envOf({}), profile);
  EXPECT_EQ(settings.endpoint, "http://[fd00:ec2::254]");
  EXPECT_EQ(settings.attempts, 3);
  EXPECT_FALSE(settings.disabled);
  profile.values["ec2_metadata_service_endpoint"] = "http://10.0.0.1/";
  settings = imdsSettings(envOf({}), profile);
  EXPECT_EQ(settings.endpoint, "http://10.0.0.1/");
  settings = imdsSettings(envOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://env"}}), profile);
  EXPECT_EQ(settings.endpoint, "http://env");
}

TEST_F(ProvidersTest, InstanceMetadataFallsBackToV1WhenTokenRefused) {
  http.on("PUT", kImds + "latest/api/token", 403, "");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/", 200, "role");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/role", 200, kImdsBody);
  ASSERT_TRUE(InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load());
  EXPECT_EQ(headerOf(http.requests.at(1), "X-aws-ec2-metadata-token"), std::nullopt);
  // ... unless IMDSv1 is disabled.
  http.requests.clear();
  EXPECT_EQ(InstanceMetadataProvider(
                http, imdsSettings(envOf({{"AWS_EC2_METADATA_V1_DISABLED", "true"}}), {}))
                .load(),
            std::nullopt);
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST_F(ProvidersTest, InstanceMetadataFailuresAreNotConfigured) {
  // Nothing answers (not on EC2).
  EXPECT_EQ(InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load(), std::nullopt);
  // A 400 on the token ends the conversation.
  http.on("PUT", kImds + "latest/api/token", 400, "");
  http.requests.clear();
  EXPECT_EQ(InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load(), std::nullopt);
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST_F(ProvidersTest, InstanceMetadataErrorDocumentIsNotConfigured) {
  http.on("PUT", kImds + "latest/api/token", 200, "tok");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/", 200, "role");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/role", 200,
          R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"})");
  EXPECT_EQ(InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load(), std::nullopt);
}

TEST_F(ProvidersTest, InstanceMetadataRetriesWhenAsked) {
  http.on("PUT", kImds + "latest/api/token", 200, "tok");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/", 500, "");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/", 200, "role");
  http.on("GET", kImds + "latest/meta-data/iam/security-credentials/role", 200, kImdsBody);
  EXPECT_EQ(InstanceMetadataProvider(http, imdsSettings(envOf({}), {})).load(), std::nullopt);
  EXPECT_TRUE(InstanceMetadataProvider(
                  http, imdsSettings(envOf({{"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2"}}), {}))
                  .load());
}

}  // namespace
}  // namespace kinesyslog::aws

namespace kinesyslog::aws {
namespace {

// The answers' parse steps on their own (the providers above use them).

TEST(ParseContainerCredentials, ReadsACompleteDocument) {
  const ParsedCredentials parsed = parseContainerCredentials(
      R"({"AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-26T18:00:00Z"})");
  ASSERT_TRUE(parsed.credentials);
  EXPECT_TRUE(parsed.jsonObject);
  EXPECT_EQ(parsed.credentials->accessKeyId, "ASIA");
  EXPECT_EQ(parsed.credentials->secretAccessKey, "s");
  EXPECT_EQ(parsed.credentials->sessionToken, "t");
  EXPECT_EQ(parsed.credentials->expiresMicros, kExpiry);
}

TEST(ParseContainerCredentials, TellsAMissingMemberFromNotJson) {
  const ParsedCredentials missing = parseContainerCredentials(
      R"({"AccessKeyId":"ASIA","SecretAccessKey":"s","Expiration":"2026-11-26T18:00:00Z"})");
  EXPECT_FALSE(missing.credentials);
  EXPECT_TRUE(missing.jsonObject);
  EXPECT_EQ(missing.error, "missing Token");

  const ParsedCredentials notJson = parseContainerCredentials("<html>502</html>");
  EXPECT_FALSE(notJson.credentials);
  EXPECT_FALSE(notJson.jsonObject);
  EXPECT_FALSE(parseContainerCredentials("[1]").jsonObject);
}

TEST(ParseProcessCredentials, NeedsVersionOneAndBothKeys) {
  const ParsedCredentials parsed =
      parseProcessCredentials(R"({"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"s"})");
  ASSERT_TRUE(parsed.credentials);
  EXPECT_EQ(parsed.credentials->sessionToken, "");
  EXPECT_FALSE(parsed.credentials->expiresMicros);

  const ParsedCredentials version2 =
      parseProcessCredentials(R"({"Version":2,"AccessKeyId":"AKIA","SecretAccessKey":"s"})");
  EXPECT_FALSE(version2.credentials);
  EXPECT_EQ(version2.error, "unsupported or missing Version (supported: 1)");

  const ParsedCredentials badTime = parseProcessCredentials(
      R"({"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"s","Expiration":"soon"})");
  EXPECT_FALSE(badTime.credentials);
  EXPECT_EQ(badTime.error, "malformed Expiration 'soon'");
}

TEST(ImdsRoleName, TakesTheFirstLineTrimmed) {
  EXPECT_EQ(imdsRoleName("relay-role\nother\n"), "relay-role");
  EXPECT_EQ(imdsRoleName("  relay-role \r\n"), "relay-role");
  EXPECT_FALSE(imdsRoleName("\nrelay-role"));
  EXPECT_FALSE(imdsRoleName("../meta-data"));
  EXPECT_FALSE(imdsRoleName(""));
}

}  // namespace
}  // namespace kinesyslog::aws
