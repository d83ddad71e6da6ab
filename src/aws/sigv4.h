#pragma once

#include <cstdint>
#include <string>

#include "aws/credentials.h"
#include "aws/http_client.h"

namespace kinesyslog::aws {

struct SigningParams {
  std::string region;   // e.g. us-east-1
  std::string service;  // e.g. firehose, sts
  int64_t epochSeconds = 0;
  // Add the X-Amz-Content-Sha256 header (S3 style). Firehose and STS do not need it.
  bool addContentSha256Header = false;
  // Normalize the URI path (RFC 3986 §5.2.4 dot segments, duplicate slashes) as every service
  // but S3 expects.
  bool normalizePath = true;
};

struct SignatureParts {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signature;      // lowercase hex
  std::string authorization;  // the Authorization header's value
};

// Signs `request` in place with AWS Signature Version 4 (header signing): adds X-Amz-Date,
// X-Amz-Security-Token when the credentials have a session token, Host when missing, and
// Authorization. Returns the intermediate results, which the tests compare byte for byte with
// the AWS test suite.
SignatureParts signRequest(HttpRequest& request, const Credentials& credentials,
                           const SigningParams& params);

}  // namespace kinesyslog::aws
