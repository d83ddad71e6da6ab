#include "aws/region.h"

#include <gtest/gtest.h>

#include <map>

#include "aws/aws_test_support.h"
#include "aws/fake_http_client.h"

namespace kinesyslog::aws {
namespace {

using testing::envOf;
using testing::FakeHttpClient;

class ResolveRegionTest : public ::testing::Test {
 protected:
  std::optional<std::string> resolve(const std::optional<std::string>& explicitRegion,
                                     std::map<std::string, std::string> env,
                                     const std::string& profile = "default") {
    return resolveRegion(explicitRegion, envOf(std::move(env)), config_, profile, [this] {
      ++imdsCalls_;
      return imdsAnswer_;
    });
  }

  ProfileConfig config_;
  std::optional<std::string> imdsAnswer_ = "ap-southeast-2";
  int imdsCalls_ = 0;
};

TEST_F(ResolveRegionTest, Order) {
  config_.configFile = configFileProfiles("[default]\nregion = eu-central-1\n");
  const std::map<std::string, std::string> both = {{"AWS_REGION", "us-west-1"},
                                                   {"AWS_DEFAULT_REGION", "us-west-2"}};
  EXPECT_EQ(resolve("eu-north-1", both), "eu-north-1");
  EXPECT_EQ(resolve(std::nullopt, both), "us-west-1");
  EXPECT_EQ(resolve(std::nullopt, {{"AWS_DEFAULT_REGION", "us-west-2"}}), "us-west-2");
  EXPECT_EQ(resolve(std::nullopt, {}), "eu-central-1");
  EXPECT_EQ(imdsCalls_, 0);  // never asked while something else answered
  config_.configFile.clear();
  EXPECT_EQ(resolve(std::nullopt, {}), "ap-southeast-2");
  EXPECT_EQ(imdsCalls_, 1);
  imdsAnswer_.reset();
  EXPECT_EQ(resolve(std::nullopt, {}), std::nullopt);
}

TEST_F(ResolveRegionTest, EmptyValuesCountAsUnset) {
  config_.configFile = configFileProfiles("[default]\nregion =\n");
  EXPECT_EQ(resolve("", {{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}}), "ap-southeast-2");
}

TEST_F(ResolveRegionTest, TheSelectedProfilesRegionFromEitherFile) {
  config_.configFile = configFileProfiles("[default]\nregion = a\n[profile dev]\nregion = b\n");
  EXPECT_EQ(resolve(std::nullopt, {}, "dev"), "b");
  config_.credentialsFile = credentialsFileProfiles("[dev]\nregion = c\n");
  EXPECT_EQ(resolve(std::nullopt, {}, "dev"), "c");  // botocore's merged view
  EXPECT_EQ(resolve(std::nullopt, {}, "other"), "ap-southeast-2");
}

TEST_F(ResolveRegionTest, NoImdsFunction) {
  EXPECT_EQ(resolveRegion(std::nullopt, envOf({}), config_, "default", {}), std::nullopt);
}

TEST(ImdsRegionTest, TokenThenPlacementRegion) {
  FakeHttpClient http;
  http.on("PUT", "http://169.254.169.254/latest/api/token", 200, "tok");
  http.on("GET", "http://169.254.169.254/latest/meta-data/placement/region", 200, "eu-west-3");
  EXPECT_EQ(imdsRegion(http, imdsSettings(envOf({}), {})), "eu-west-3");
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(http.requests[0].method, "PUT");
  ASSERT_EQ(http.requests[0].headers.size(), 1u);
  EXPECT_EQ(http.requests[0].headers[0].first, "X-aws-ec2-metadata-token-ttl-seconds");
  EXPECT_EQ(http.requests[0].headers[0].second, "21600");
  ASSERT_EQ(http.requests[1].headers.size(), 1u);
  EXPECT_EQ(http.requests[1].headers[0].first, "X-aws-ec2-metadata-token");
  EXPECT_EQ(http.requests[1].headers[0].second, "tok");
}

TEST(ImdsRegionTest, DisabledEndpointAndFailures) {
  FakeHttpClient http;
  EXPECT_EQ(imdsRegion(http, imdsSettings(envOf({{"AWS_EC2_METADATA_DISABLED", "true"}}), {})),
            std::nullopt);
  EXPECT_TRUE(http.requests.empty());
  EXPECT_EQ(imdsRegion(http, imdsSettings(envOf({}), {})), std::nullopt);  // unreachable

  // Two region answers, one per imdsRegion() call below: the second is not a region name.
  http.on("PUT", "http://127.0.0.1:5555/latest/api/token", 200, "tok");
  http.on("GET", "http://127.0.0.1:5555/latest/meta-data/placement/region", 200, "us-east-2\n");
  http.on("GET", "http://127.0.0.1:5555/latest/meta-data/placement/region", 200,
          "<html>proxy error</html>");
  const EnvLookup local = envOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:5555/"}});
  EXPECT_EQ(imdsRegion(http, imdsSettings(local, {})), "us-east-2");
  EXPECT_EQ(imdsRegion(http, imdsSettings(local, {})), std::nullopt);
}

}  // namespace
}  // namespace kinesyslog::aws
