#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "aws/http_client.h"
#include "aws/sts_client.h"
#include "util/clock.h"

namespace kinesyslog::aws {

// StsClient over the STS query API (version 2011-06-15): form-encoded POSTs, XML answers.
// AssumeRole and GetCallerIdentity are signed (SigV4, service "sts"); AssumeRoleWithWebIdentity
// is not, as in botocore. Every failure — transport, HTTP error with an ErrorResponse, an
// answer without the expected elements — throws CredentialsError with one line naming the
// action, the STS error code and message (or the transport error).
//
// `http` and `clock` must outlive the client. Not thread-safe (HttpClient is not).
class HttpStsClient final : public StsClient {
 public:
  // `endpoint` from stsEndpoint(); `region` signs the requests (us-east-1 when empty, the
  // global endpoint's region).
  HttpStsClient(HttpClient& http, std::string endpoint, std::string region, const Clock& clock);

  Credentials assumeRole(const Credentials& source, const std::string& roleArn,
                         const std::string& sessionName,
                         const std::optional<std::string>& externalId,
                         int durationSeconds) override;
  Credentials assumeRoleWithWebIdentity(const std::string& roleArn, const std::string& sessionName,
                                        const std::string& webIdentityToken) override;
  std::string getCallerAccount(const Credentials& credentials) override;

  static constexpr std::chrono::milliseconds kTimeout{15000};

 private:
  // Sends `form` (already encoded, without Action/Version) and returns the body of a 2xx
  // answer; throws CredentialsError otherwise. `signWith` null: unsigned.
  std::string call(std::string_view action, const std::string& form, const Credentials* signWith);
  Credentials credentialsFrom(std::string_view action, const std::string& body) const;

  HttpClient& http_;
  std::string endpoint_;
  std::string region_;
  const Clock& clock_;
};

// The text of the first element at `path` (each name looked up inside the previous element),
// with the five predefined XML entities and character references decoded (XML 1.0 §4.6, §4.1).
// nullopt when an element is missing or not closed. A small extractor for the flat, well-known
// answers of STS; not a general XML parser (no CDATA, no namespace prefixes).
[[nodiscard]] std::optional<std::string> xmlText(std::string_view xml,
                                                 std::initializer_list<std::string_view> path);

}  // namespace kinesyslog::aws
