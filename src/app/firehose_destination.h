#pragma once

#include <memory>
#include <string>

#include "app/options.h"
#include "aws/curl_http_client.h"
#include "aws/firehose_client.h"
#include "aws/profile_config.h"
#include "aws/refreshing_credentials.h"
#include "aws/sts_client_impl.h"
#include "deliver/firehose_target.h"
#include "util/clock.h"

namespace kinesyslog::app {

// Everything `listen --stream NAME` needs to deliver to Firehose, built and checked at start
// (DESIGN §1 AWS): region, endpoints, the credential chain, the owner from STS
// GetCallerIdentity (unless --owner), and DescribeDeliveryStream reporting ACTIVE. Any failure
// throws StartupError(kExitConfig) with one clear line, before a listener opens.
class FirehoseDestination {
 public:
  FirehoseDestination(const ListenOptions& options, const Clock& clock);
  ~FirehoseDestination();
  FirehoseDestination(const FirehoseDestination&) = delete;
  FirehoseDestination& operator=(const FirehoseDestination&) = delete;

  deliver::DeliveryTarget& target() { return *target_; }
  const deliver::FirehoseTarget& firehoseTarget() const { return *target_; }
  const std::string& owner() const { return owner_; }
  const std::string& region() const { return region_; }

 private:
  aws::EnvLookup env_;
  std::string region_;
  std::string owner_;
  // One HTTP client per thread that uses it: the credential refresher's background thread
  // (metadata endpoints, STS AssumeRole), start-up (GetCallerIdentity) and the uploader.
  aws::CurlHttpClient credentialsHttp_;
  aws::CurlHttpClient startupHttp_;
  aws::CurlHttpClient firehoseHttp_;
  std::unique_ptr<aws::HttpStsClient> credentialsSts_;
  std::unique_ptr<aws::RefreshingCredentials> credentials_;
  std::unique_ptr<aws::FirehoseClient> firehose_;
  std::unique_ptr<deliver::FirehoseTarget> target_;
};

}  // namespace kinesyslog::app
