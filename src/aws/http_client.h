#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinesyslog::aws {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: scheme://host[:port]/path[?query]
  HttpHeaders headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // whole request, connect included
};

struct [[nodiscard]] HttpResponse {
  int status = 0;  // 0 when no HTTP answer arrived (see error)
  HttpHeaders headers;
  std::string body;
  std::string error;  // transport failure (refused, timeout, TLS); empty when status != 0

  bool transportFailed() const { return status == 0; }
  // The first header of that name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

// The one seam between the AWS code and the network, so providers, STS and Firehose calls are
// tested against stand-ins or fakes. Implementations need not be thread-safe: use one per thread.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

}  // namespace kinesyslog::aws
