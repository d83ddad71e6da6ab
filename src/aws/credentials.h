#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace kinesyslog::aws {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;              // empty for long-term keys
  std::optional<int64_t> expiresMicros;  // wall clock (UTC micros); nullopt: never expires
  std::string source;                    // the provider that produced them, for logs
};

// A provider that is configured but cannot produce credentials (unreadable file, process that
// fails, endpoint error). botocore stops the chain at such a provider instead of silently
// falling through to the next one; so do we.
class CredentialsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // nullopt when this provider is not configured (the chain moves on); throws CredentialsError
  // when it is configured and fails.
  [[nodiscard]] virtual std::optional<Credentials> load() = 0;
  virtual std::string name() const = 0;
};

}  // namespace kinesyslog::aws
