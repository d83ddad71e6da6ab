#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/options.h"
#include "aws/curl_http_client.h"
#include "aws/firehose_client.h"
#include "aws/profile_config.h"
#include "aws/refreshing_credentials.h"
#include "aws/sts_client_impl.h"
#include "deliver/firehose_target.h"
#include "deliver/uploader.h"
#include "util/clock.h"

namespace kinesyslog::app {

// Everything `listen --stream NAME...` needs to deliver to Firehose, built and checked at start
// (docs/design.md "AWS"): region, endpoints, the credential chain, the owner from STS
// GetCallerIdentity (unless --owner), and DescribeDeliveryStream reporting ACTIVE for every
// stream, all in one account. Any failure throws StartupError(kExitConfig) with one clear line,
// before a listener opens.
//
// Each stream gets one Firehose client, HTTP client (and so connection) and target per request
// that may be in flight (deliver::SendRate::kMaxInFlight): the uploader's lanes.
class FirehoseDestination {
 public:
  FirehoseDestination(const ListenOptions& options, const Clock& clock);
  ~FirehoseDestination();
  FirehoseDestination(const FirehoseDestination&) = delete;
  FirehoseDestination& operator=(const FirehoseDestination&) = delete;

  // The streams for the uploader, in --stream order.
  std::vector<deliver::UploadStream> uploadStreams() const;
  // Every lane's target of every stream (their error counts add up to the stream's).
  const std::vector<std::unique_ptr<deliver::FirehoseTarget>>& targets() const { return targets_; }
  // "Firehose stream A in REGION (ENDPOINT)", or "Firehose streams A, B in REGION (ENDPOINT)".
  std::string describe() const;
  const std::string& owner() const { return owner_; }
  const std::string& region() const { return region_; }

 private:
  void openStreams(const Clock& clock);

  aws::EnvLookup env_;
  std::string region_;
  std::string owner_;
  std::vector<std::string> streams_;
  std::string firehoseEndpoint_;
  // One HTTP client per thread that uses it: the credential refresher's background thread
  // (metadata endpoints, STS AssumeRole), start-up (GetCallerIdentity) and each uploader lane.
  aws::CurlHttpClient credentialsHttp_;
  aws::CurlHttpClient startupHttp_;
  std::unique_ptr<aws::HttpStsClient> credentialsSts_;
  std::unique_ptr<aws::RefreshingCredentials> credentials_;
  std::vector<std::unique_ptr<aws::CurlHttpClient>> laneHttp_;
  std::vector<std::unique_ptr<aws::FirehoseClient>> laneClients_;
  std::vector<std::unique_ptr<deliver::FirehoseTarget>> targets_;  // stream-major, lane-minor
  size_t lanesPerStream_ = 0;
};

}  // namespace kinesyslog::app
