#include "aws/sts_client_impl.h"

#include <gtest/gtest.h>

#include <vector>

#include "aws/fake_http_client.h"

namespace kinesyslog::aws {
namespace {

using testing::FakeHttpClient;
using testing::headerOf;

constexpr const char* kAssumeRoleAnswer =
    R"(<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>
       AQoDYXdzEPT//////////wEXAMPLEtc764&amp;bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW
      </SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>)";

constexpr const char* kErrorAnswer =
    R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/x is not authorized to perform:
sts:AssumeRole on resource: &quot;r&quot;</Message>
  </Error>
  <RequestId>4f0e6a4c-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>)";

class StsTest : public ::testing::Test {
 protected:
  FakeHttpClient http;
  ManualClock clock{1573306481LL * 1000000};
  HttpStsClient sts{http, "https://sts.eu-west-1.amazonaws.com", "eu-west-1", clock};
  Credentials source{"AKIDEXAMPLE", "secret", "", std::nullopt, "env"};

  std::string callError(const std::function<void()>& f) {
    try {
      f();
    } catch (const CredentialsError& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST_F(StsTest, AssumeRoleSendsASignedFormAndReadsTheCredentials) {
  http.answer(200, kAssumeRoleAnswer);
  Credentials c = sts.assumeRole(source, "arn:aws:iam::123456789012:role/demo", "session one",
                                 std::string("ext/id"), 900);
  EXPECT_EQ(c.accessKeyId, "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(c.secretAccessKey, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  EXPECT_EQ(c.sessionToken, "AQoDYXdzEPT//////////wEXAMPLEtc764&bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW");
  EXPECT_EQ(c.expiresMicros, 1573306481LL * 1000000);
  EXPECT_EQ(c.source, "assume-role");

  ASSERT_EQ(http.requests.size(), 1u);
  const HttpRequest& r = http.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://sts.eu-west-1.amazonaws.com/");
  EXPECT_EQ(headerOf(r, "content-type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(r.body,
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
            "&RoleSessionName=session%20one&ExternalId=ext%2Fid&DurationSeconds=900");
  std::string auth = headerOf(r, "Authorization").value_or("");
  EXPECT_NE(auth.find("AKIDEXAMPLE/"), std::string::npos) << auth;
  EXPECT_NE(auth.find("/eu-west-1/sts/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(headerOf(r, "X-Amz-Date").value_or(""), "");
}

TEST_F(StsTest, AssumeRoleLeavesOptionalParametersOut) {
  http.answer(200, kAssumeRoleAnswer);
  sts.assumeRole(source, "arn", "s", std::nullopt, 0);
  EXPECT_EQ(http.requests[0].body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn&RoleSessionName=s");
}

TEST_F(StsTest, WebIdentityIsUnsigned) {
  http.answer(
      200,
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
      "<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
      "<SessionToken>t</SessionToken><Expiration>2024-02-29T23:59:59.5+01:00</Expiration>"
      "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  Credentials c = sts.assumeRoleWithWebIdentity("arn:r", "sess", "eyJ.a+b=");
  EXPECT_EQ(c.accessKeyId, "ASIA1");
  EXPECT_EQ(c.source, "assume-role-with-web-identity");
  EXPECT_EQ(c.expiresMicros, (1709251199LL - 3600) * 1000000 + 500000);
  const HttpRequest& r = http.requests[0];
  EXPECT_EQ(r.body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Ar"
            "&RoleSessionName=sess&WebIdentityToken=eyJ.a%2Bb%3D");
  EXPECT_EQ(headerOf(r, "Authorization"), std::nullopt);
}

TEST_F(StsTest, GetCallerAccount) {
  http.answer(200, R"(<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
   <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
    <UserId>AKIAI44QH8DHBEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>)");
  Credentials temporary{"ASIA2", "s", "token", std::nullopt, "x"};
  EXPECT_EQ(sts.getCallerAccount(temporary), "123456789012");
  const HttpRequest& r = http.requests[0];
  EXPECT_EQ(r.body, "Action=GetCallerIdentity&Version=2011-06-15");
  EXPECT_NE(headerOf(r, "Authorization").value_or(""), "");
  EXPECT_EQ(headerOf(r, "X-Amz-Security-Token"), "token");
}

TEST_F(StsTest, ErrorResponseBecomesOneLine) {
  http.answer(403, kErrorAnswer);
  std::string error = callError([&] { sts.getCallerAccount(source); });
  EXPECT_EQ(error,
            "STS GetCallerIdentity failed: AccessDenied: User: arn:aws:iam::123456789012:user/x is "
            "not authorized to perform: sts:AssumeRole on resource: \"r\" (HTTP 403)");
}

TEST_F(StsTest, TransportAndOtherFailures) {
  http.responses.push_back({0, {}, {}, "Could not connect\nto server"});
  EXPECT_EQ(callError([&] { sts.getCallerAccount(source); }),
            "STS GetCallerIdentity at https://sts.eu-west-1.amazonaws.com: Could not connect to "
            "server");

  http.answer(502, "<html><body>Bad Gateway</body></html>");
  EXPECT_EQ(callError([&] { sts.getCallerAccount(source); }),
            "STS GetCallerIdentity at https://sts.eu-west-1.amazonaws.com failed: HTTP 502 "
            "<html><body>Bad Gateway</body></html>");

  http.answer(200, "<GetCallerIdentityResponse/>");
  EXPECT_NE(callError([&] { sts.getCallerAccount(source); }).find("no Account"), std::string::npos);

  http.answer(200, "not xml at all");
  EXPECT_NE(callError([&] {
              sts.assumeRole(source, "a", "b", std::nullopt, 0);
            }).find("no complete Credentials"),
            std::string::npos);

  http.answer(200,
              "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
              "<SessionToken>t</SessionToken><Expiration>tomorrow</Expiration></Credentials>");
  EXPECT_NE(callError([&] {
              sts.assumeRole(source, "a", "b", std::nullopt, 0);
            }).find("Expiration 'tomorrow'"),
            std::string::npos);
}

TEST_F(StsTest, EmptyRegionSignsForUsEast1) {
  HttpStsClient global(http, "https://sts.amazonaws.com", "", clock);
  http.answer(200, "<GetCallerIdentityResult><Account>1</Account></GetCallerIdentityResult>");
  global.getCallerAccount(source);
  EXPECT_NE(headerOf(http.requests[0], "Authorization").value_or("").find("/us-east-1/sts/"),
            std::string::npos);
}

TEST(XmlText, FindsNestedElementsAndDecodesEntities) {
  std::string_view xml =
      "<?xml version=\"1.0\"?><A><AB>no</AB><B attr=\"1\"><C>x &lt;&gt;&amp;&quot;&apos; "
      "&#65;&#x42;&#xe9;&#x1F600; &bogus; &#0; &</C ></B><D/></A>";
  EXPECT_EQ(xmlText(xml, {"A", "B", "C"}), "x <>&\"' AB\xc3\xa9\xf0\x9f\x98\x80 &bogus; &#0; &");
  EXPECT_EQ(xmlText(xml, {"AB"}), "no");
  EXPECT_EQ(xmlText(xml, {"D"}), "");
  EXPECT_EQ(xmlText(xml, {"B", "AB"}), std::nullopt);
  EXPECT_EQ(xmlText(xml, {"E"}), std::nullopt);
  EXPECT_EQ(xmlText("<A>unclosed", {"A"}), std::nullopt);
  EXPECT_EQ(xmlText("<A", {"A"}), std::nullopt);
  EXPECT_EQ(xmlText("<", {"A"}), std::nullopt);
  EXPECT_EQ(xmlText("", {"A"}), std::nullopt);
  EXPECT_EQ(xmlText("<A>1</AB></A>", {"A"}), "1</AB>");
}

}  // namespace
}  // namespace kinesyslog::aws
