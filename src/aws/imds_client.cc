// Covered by aws/credential_providers_test.cc (InstanceMetadataProvider) and aws/region_test.cc
// (imdsRegion).
#include "aws/imds_client.h"

#include <charconv>

namespace kinesyslog::aws {

namespace {

std::string asciiLowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
  return out;
}

}  // namespace

ImdsSettings imdsSettings(const EnvLookup& env, const Profile& profile) {
  ImdsSettings settings;
  auto value = [&](const std::string& envName,
                   const std::string& key) -> std::optional<std::string> {
    if (std::optional<std::string> fromEnv = envValue(env, envName)) return fromEnv;
    return profile.get(key);
  };
  settings.disabled =
      asciiLowercase(envValue(env, "AWS_EC2_METADATA_DISABLED").value_or("")) == "true";
  settings.v1Disabled =
      asciiLowercase(
          value("AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled").value_or("")) == "true";
  if (const std::optional<std::string> endpoint =
          value("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")) {
    settings.endpoint = *endpoint;
  } else if (asciiLowercase(value("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                  "ec2_metadata_service_endpoint_mode")
                                .value_or("")) == "ipv6") {
    settings.endpoint = "http://[fd00:ec2::254]";
  }
  if (const std::optional<std::string> timeout =
          value("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout")) {
    double seconds = 0;
    const auto [ptr, ec] =
        std::from_chars(timeout->data(), timeout->data() + timeout->size(), seconds);
    if (ec == std::errc() && ptr == timeout->data() + timeout->size() && seconds > 0 &&
        seconds <= 3600) {
      settings.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    }
  }
  if (const std::optional<std::string> attempts =
          value("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts")) {
    int count = 0;
    const auto [ptr, ec] =
        std::from_chars(attempts->data(), attempts->data() + attempts->size(), count);
    if (ec == std::errc() && ptr == attempts->data() + attempts->size() && count >= 1 &&
        count <= 10) {
      settings.attempts = count;
    }
  }
  return settings;
}

ImdsClient::ImdsClient(HttpClient& http, ImdsSettings settings)
    : http_(http), settings_(std::move(settings)) {}

std::string ImdsClient::url(std::string_view path) const {
  std::string out = settings_.endpoint;
  if (out.empty() || out.back() != '/') out += '/';
  out += path;
  return out;
}

HttpResponse ImdsClient::send(HttpRequest request) {
  request.timeout = settings_.timeout;
  return http_.send(request);
}

std::optional<std::string> ImdsClient::get(std::string_view path) {
  if (settings_.disabled || !usable_) return std::nullopt;
  if (!tokenTried_) {
    tokenTried_ = true;
    HttpRequest put;
    put.method = "PUT";
    put.url = url("latest/api/token");
    put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", std::string(kTokenTtlSeconds));
    for (int attempt = 0; attempt < settings_.attempts; ++attempt) {
      const HttpResponse response = send(put);
      if (response.status == 200) {
        token_ = response.body;
        break;
      }
      if (response.status == 403 || response.status == 404 || response.status == 405) break;
      if (response.status == 400) {
        usable_ = false;
        return std::nullopt;
      }
    }
    if (!token_ && settings_.v1Disabled) {
      usable_ = false;
      return std::nullopt;
    }
  }
  HttpRequest request;
  request.method = "GET";
  request.url = url(path);
  if (token_) request.headers.emplace_back("X-aws-ec2-metadata-token", *token_);
  for (int attempt = 0; attempt < settings_.attempts; ++attempt) {
    HttpResponse response = send(request);
    if (response.status == 200 && !response.body.empty()) return std::move(response.body);
  }
  return std::nullopt;
}

}  // namespace kinesyslog::aws
