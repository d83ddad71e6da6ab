#include "aws/profile_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "aws/aws_test_support.h"

namespace kinesyslog::aws {
namespace {

using testing::envOf;
using testing::TempDir;

TEST(ParseIniTest, SectionsKeysCommentsAndWhitespace) {
  const IniSections sections = parseIni(
      "# leading comment\n"
      "; another\n"
      "[default]\n"
      "  aws_access_key_id = AKID  \n"
      "AWS_Secret_Access_Key=secret\n"
      "region: eu-west-1\r\n"
      "   # indented comment\n"
      "\n"
      "[other]\n"
      "key = value # not a comment\n");
  ASSERT_EQ(sections.count("default"), 1u);
  const Profile& def = sections.at("default");
  EXPECT_EQ(def.get("aws_access_key_id"), "AKID");
  EXPECT_EQ(def.get("aws_secret_access_key"), "secret");  // keys folded to lowercase
  EXPECT_EQ(def.get("region"), "eu-west-1");
  EXPECT_EQ(sections.at("other").get("key"), "value # not a comment");
}

TEST(ParseIniTest, NestedSubSectionIsKeptApart) {
  const IniSections sections = parseIni(
      "[profile dev]\n"
      "s3 =\n"
      "  max_concurrent_requests = 20\n"
      "  addressing_style = path\n"
      "region = us-west-2\n"
      "aws_access_key_id = AKID\n");
  const Profile& dev = sections.at("profile dev");
  EXPECT_FALSE(dev.has("s3"));
  EXPECT_FALSE(dev.has("max_concurrent_requests"));
  EXPECT_FALSE(dev.has("addressing_style"));
  ASSERT_EQ(dev.nested.count("s3"), 1u);
  EXPECT_EQ(dev.nested.at("s3").at("addressing_style"), "path");
  EXPECT_EQ(dev.get("region"), "us-west-2");
  EXPECT_EQ(dev.get("aws_access_key_id"), "AKID");
}

TEST(ParseIniTest, ContinuationLinesJoinTheValue) {
  const IniSections sections = parseIni("[a]\nkey = first\n  second\nnext = 1\n");
  EXPECT_EQ(sections.at("a").get("key"), "first\nsecond");
  EXPECT_EQ(sections.at("a").get("next"), "1");
}

TEST(ParseIniTest, StrayLinesAreIgnored) {
  const IniSections sections =
      parseIni("orphan = 1\n[a]\nno delimiter here\n[]\nx = 2\n[b]\nk = v\nk = w\n[a]\ny = 3\n");
  EXPECT_FALSE(sections.at("a").has("orphan"));
  EXPECT_FALSE(sections.at("a").has("x"));    // under the broken [] header
  EXPECT_EQ(sections.at("a").get("y"), "3");  // repeated section merged
  EXPECT_EQ(sections.at("b").get("k"), "w");  // repeated key: last wins
}

TEST(ParseIniTest, EmptyValueIsPresentButUnset) {
  const IniSections sections = parseIni("[a]\nregion =\n");
  EXPECT_TRUE(sections.at("a").has("region"));
  EXPECT_EQ(sections.at("a").get("region"), std::nullopt);
}

TEST(ConfigFileProfilesTest, ProfilePrefixAndDefault) {
  const auto profiles = configFileProfiles(
      "[default]\nregion = us-east-1\n"
      "[profile dev]\nregion = eu-west-1\n"
      "[profile   \"spaced\"]\nregion = ap-south-1\n"
      "[prod]\nregion = nowhere\n"
      "[profileX]\nregion = nowhere\n"
      "[sso-session s]\nsso_region = x\n");
  EXPECT_EQ(profiles.size(), 3u);
  EXPECT_EQ(profiles.at("default").get("region"), "us-east-1");
  EXPECT_EQ(profiles.at("dev").get("region"), "eu-west-1");
  EXPECT_EQ(profiles.at("spaced").get("region"), "ap-south-1");
  EXPECT_EQ(profiles.count("prod"), 0u);  // [x] is not a profile in the config file
}

TEST(ConfigFileProfilesTest, ProfileDefaultMergesWithDefault) {
  const auto profiles =
      configFileProfiles("[default]\nregion = a\noutput = json\n[profile default]\nregion = b\n");
  EXPECT_EQ(profiles.at("default").get("region"), "b");
  EXPECT_EQ(profiles.at("default").get("output"), "json");
}

TEST(CredentialsFileProfilesTest, PlainSectionNames) {
  const auto profiles = credentialsFileProfiles(
      "[default]\naws_access_key_id = A\n[dev]\naws_access_key_id = B\n[profile x]\nk = v\n");
  EXPECT_EQ(profiles.at("default").get("aws_access_key_id"), "A");
  EXPECT_EQ(profiles.at("dev").get("aws_access_key_id"), "B");
  EXPECT_EQ(profiles.count("profile x"), 1u);
  EXPECT_EQ(profiles.count("x"), 0u);
}

TEST(FilePathsTest, DefaultsUnderHome) {
  const EnvLookup env = envOf({{"HOME", "/home/op"}});
  EXPECT_EQ(configFilePath(env), "/home/op/.aws/config");
  EXPECT_EQ(credentialsFilePath(env), "/home/op/.aws/credentials");
}

TEST(FilePathsTest, EnvironmentOverridesAndTildeExpansion) {
  const EnvLookup env = envOf({{"HOME", "/home/op"},
                               {"AWS_CONFIG_FILE", "~/cfg"},
                               {"AWS_SHARED_CREDENTIALS_FILE", "/etc/creds"}});
  EXPECT_EQ(configFilePath(env), "/home/op/cfg");
  EXPECT_EQ(credentialsFilePath(env), "/etc/creds");
}

TEST(FilePathsTest, NoHomeGivesEmptyPath) {
  EXPECT_EQ(configFilePath(envOf({})), "");
  const ProfileConfig config = loadProfileConfig(envOf({}));
  EXPECT_TRUE(config.configFile.empty());
  EXPECT_TRUE(config.warnings.empty());
}

TEST(LoadProfileConfigTest, ReadsBothFilesAndMerges) {
  TempDir dir;
  dir.write(".aws/config", "[profile dev]\nregion = eu-west-1\naws_access_key_id = FROMCONFIG\n");
  dir.write(".aws/credentials", "[dev]\naws_access_key_id = FROMCREDS\n");
  const ProfileConfig config = loadProfileConfig(envOf({{"HOME", dir.path()}}));
  EXPECT_TRUE(config.hasProfile("dev"));
  EXPECT_FALSE(config.hasProfile("prod"));
  EXPECT_EQ(config.configProfile("dev")->get("aws_access_key_id"), "FROMCONFIG");
  EXPECT_EQ(config.credentialsProfile("dev")->get("aws_access_key_id"), "FROMCREDS");
  const Profile merged = config.merged("dev");
  EXPECT_EQ(merged.get("aws_access_key_id"), "FROMCREDS");
  EXPECT_EQ(merged.get("region"), "eu-west-1");
  EXPECT_TRUE(config.merged("prod").values.empty());
}

TEST(LoadProfileConfigTest, MissingFilesAreEmptyAndADirectoryWarns) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/cfgdir");
  const ProfileConfig config =
      loadProfileConfig(envOf({{"AWS_CONFIG_FILE", dir.path() + "/cfgdir"},
                               {"AWS_SHARED_CREDENTIALS_FILE", dir.path() + "/missing"}}));
  EXPECT_TRUE(config.configFile.empty());
  EXPECT_TRUE(config.credentialsFile.empty());
  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_NE(config.warnings[0].find("cfgdir"), std::string::npos);
}

TEST(SelectProfileTest, ExplicitThenEnvironmentThenDefault) {
  EXPECT_EQ(selectProfile("cli", envOf({{"AWS_PROFILE", "env"}})), "cli");
  EXPECT_EQ(selectProfile(std::nullopt, envOf({{"AWS_PROFILE", "env"}})), "env");
  EXPECT_EQ(selectProfile(std::nullopt, envOf({{"AWS_PROFILE", ""}})), "default");
  EXPECT_EQ(selectProfile(std::nullopt, envOf({})), "default");
}

TEST(EnvValueTest, EmptyCountsAsUnset) {
  const EnvLookup env = envOf({{"A", ""}, {"B", "x"}});
  EXPECT_EQ(envValue(env, "A"), std::nullopt);
  EXPECT_EQ(envValue(env, "B"), "x");
  EXPECT_EQ(envValue(env, "C"), std::nullopt);
  EXPECT_EQ(envValue(EnvLookup{}, "B"), std::nullopt);
}

TEST(ProcessEnvironmentTest, ReadsGetenv) {
  ::setenv("KINESYSLOG_PROFILE_CONFIG_TEST", "v", 1);
  EXPECT_EQ(processEnvironment()("KINESYSLOG_PROFILE_CONFIG_TEST"), "v");
  ::unsetenv("KINESYSLOG_PROFILE_CONFIG_TEST");
  EXPECT_EQ(processEnvironment()("KINESYSLOG_PROFILE_CONFIG_TEST"), std::nullopt);
}

}  // namespace
}  // namespace kinesyslog::aws
