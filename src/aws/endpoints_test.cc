#include "aws/endpoints.h"

#include <gtest/gtest.h>

#include <map>

#include "aws/aws_test_support.h"
#include "util/startup_error.h"

namespace kinesyslog::aws {
namespace {

using testing::envOf;

int exitCodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const StartupError& e) {
    return e.exitCode();
  }
  return -1;
}

TEST(ParseUrl, SplitsSchemeHostPortPath) {
  auto url = parseUrl("HTTPS://Firehose.us-east-1.amazonaws.com");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "firehose.us-east-1.amazonaws.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "");

  url = parseUrl("http://127.0.0.1:4566/prefix/x?a=b");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 4566);
  EXPECT_EQ(url->path, "/prefix/x?a=b");

  url = parseUrl("http://[::1]:8080/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/");

  url = parseUrl("http://[::1]");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, 80);

  url = parseUrl("http://h?q");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->path, "/?q");
}

TEST(ParseUrl, RefusesWhatIsNotAnEndpoint) {
  for (const char* bad : {"",
                          "localhost:4566",
                          "ftp://host",
                          "https://",
                          "https://:443",
                          "https://host:",
                          "https://host:0",
                          "https://host:65536",
                          "https://host:123456",
                          "https://host:4a",
                          "https://user:pw@host",
                          "https://host/#frag",
                          "https://ho st",
                          "https://host/a b",
                          "https://[::1",
                          "https://[]",
                          "https://[::1]x",
                          "https://[::1]:",
                          "https://[zz]",
                          "https://host/\x01"}) {
    EXPECT_FALSE(parseUrl(bad)) << bad;
  }
}

TEST(PartitionDnsSuffix, FollowsTheRegionPrefix) {
  EXPECT_EQ(partitionDnsSuffix("us-east-1"), "amazonaws.com");
  EXPECT_EQ(partitionDnsSuffix("eu-west-3"), "amazonaws.com");
  EXPECT_EQ(partitionDnsSuffix("us-gov-west-1"), "amazonaws.com");
  EXPECT_EQ(partitionDnsSuffix("cn-north-1"), "amazonaws.com.cn");
  EXPECT_EQ(partitionDnsSuffix("cn-northwest-1"), "amazonaws.com.cn");
  EXPECT_EQ(partitionDnsSuffix("us-iso-east-1"), "c2s.ic.gov");
  EXPECT_EQ(partitionDnsSuffix("us-isob-east-1"), "sc2s.sgov.gov");
  EXPECT_EQ(partitionDnsSuffix("eu-isoe-west-1"), "cloud.adc-e.uk");
  EXPECT_EQ(partitionDnsSuffix("us-isof-south-1"), "csp.hci.ic.gov");
  EXPECT_EQ(partitionDnsSuffix("xx-new-1"), "amazonaws.com");
}

TEST(FirehoseEndpoint, RegionalDefaultPerPartition) {
  auto env = envOf({});
  EXPECT_EQ(firehoseEndpoint("us-east-1", "", env), "https://firehose.us-east-1.amazonaws.com");
  EXPECT_EQ(firehoseEndpoint("cn-north-1", "", env),
            "https://firehose.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(firehoseEndpoint("us-gov-east-1", "", env),
            "https://firehose.us-gov-east-1.amazonaws.com");
  EXPECT_EQ(firehoseEndpoint("us-iso-east-1", "", env),
            "https://firehose.us-iso-east-1.c2s.ic.gov");
  EXPECT_EQ(firehoseEndpoint("us-isob-east-1", "", env),
            "https://firehose.us-isob-east-1.sc2s.sgov.gov");
  EXPECT_EQ(firehoseEndpoint("", "", env), "");
}

TEST(FirehoseEndpoint, OverridesInOrder) {
  auto both =
      envOf({{"AWS_ENDPOINT_URL_FIREHOSE", "http://fh:1"}, {"AWS_ENDPOINT_URL", "http://all:2"}});
  EXPECT_EQ(firehoseEndpoint("us-east-1", "http://cli:3", both), "http://cli:3");
  EXPECT_EQ(firehoseEndpoint("us-east-1", "", both), "http://fh:1");
  EXPECT_EQ(firehoseEndpoint("", "", both), "http://fh:1");
  auto global =
      envOf({{"AWS_ENDPOINT_URL", "http://all:2"}, {"AWS_ENDPOINT_URL_STS", "http://s:4"}});
  EXPECT_EQ(firehoseEndpoint("us-east-1", "", global), "http://all:2");
  // An empty variable counts as unset.
  auto empty = envOf({{"AWS_ENDPOINT_URL_FIREHOSE", ""}, {"AWS_ENDPOINT_URL", "http://all:2"}});
  EXPECT_EQ(firehoseEndpoint("us-east-1", "", empty), "http://all:2");
  // A null lookup means no variables.
  EXPECT_EQ(firehoseEndpoint("us-west-2", "", nullptr), "https://firehose.us-west-2.amazonaws.com");
}

TEST(FirehoseEndpoint, MalformedValuesFailAtStart) {
  auto none = envOf({});
  EXPECT_EQ(exitCodeOf([&] { firehoseEndpoint("us-east-1", "localhost:4566", none); }), kExitUsage);
  auto bad = envOf({{"AWS_ENDPOINT_URL", "localhost"}});
  EXPECT_EQ(exitCodeOf([&] { firehoseEndpoint("us-east-1", "", bad); }), kExitConfig);
  EXPECT_EQ(exitCodeOf([&] { firehoseEndpoint("us-east-1/evil", "", none); }), kExitConfig);
  EXPECT_EQ(exitCodeOf([&] { firehoseEndpoint("US-EAST-1", "", none); }), kExitConfig);
  // An override makes the region irrelevant to the URL, so it is not checked here.
  EXPECT_EQ(firehoseEndpoint("anything at all", "http://x", none), "http://x");
}

TEST(StsEndpoint, RegionalGlobalAndOverrides) {
  auto none = envOf({});
  EXPECT_EQ(stsEndpoint("eu-west-1", "", none), "https://sts.eu-west-1.amazonaws.com");
  EXPECT_EQ(stsEndpoint("cn-northwest-1", "", none), "https://sts.cn-northwest-1.amazonaws.com.cn");
  EXPECT_EQ(stsEndpoint("", "", none), "https://sts.amazonaws.com");
  auto env = envOf({{"AWS_ENDPOINT_URL_STS", "http://sts:1"},
                    {"AWS_ENDPOINT_URL_FIREHOSE", "http://fh:2"},
                    {"AWS_ENDPOINT_URL", "http://all:3"}});
  EXPECT_EQ(stsEndpoint("eu-west-1", "http://cli:4", env), "http://cli:4");
  EXPECT_EQ(stsEndpoint("eu-west-1", "", env), "http://sts:1");
  EXPECT_EQ(stsEndpoint("eu-west-1", "", envOf({{"AWS_ENDPOINT_URL", "http://all:3"}})),
            "http://all:3");
  EXPECT_EQ(exitCodeOf([&] { stsEndpoint("eu-west-1", "sts.local", none); }), kExitUsage);
}

TEST(RequestUrl, AddsTheRootPathOnlyWhenThereIsNone) {
  EXPECT_EQ(requestUrl("https://firehose.us-east-1.amazonaws.com"),
            "https://firehose.us-east-1.amazonaws.com/");
  EXPECT_EQ(requestUrl("http://localhost:4566/"), "http://localhost:4566/");
  EXPECT_EQ(requestUrl("http://localhost:4566/firehose"), "http://localhost:4566/firehose");
}

TEST(ProcessEndpointEnv, ReadsTheEnvironment) {
  ::setenv("KINESYSLOG_ENDPOINTS_TEST", "http://e:1", 1);
  auto env = processEndpointEnv();
  EXPECT_EQ(env("KINESYSLOG_ENDPOINTS_TEST"), "http://e:1");
  ::unsetenv("KINESYSLOG_ENDPOINTS_TEST");
  EXPECT_EQ(env("KINESYSLOG_ENDPOINTS_TEST"), std::nullopt);
}

}  // namespace
}  // namespace kinesyslog::aws
