#pragma once

#include <string>

#include "aws/http_client.h"

namespace kinesyslog::aws {

// HttpClient over one libcurl easy handle. The handle, and with it libcurl's connection cache,
// lives as long as the client, so consecutive send() calls to one endpoint reuse the TLS
// connection (HTTP/1.1 keep-alive). Not thread-safe: one client per thread (see HttpClient).
//
// Proxies come from the environment, read by libcurl itself on each transfer because we never
// set CURLOPT_PROXY: `https_proxy`/`HTTPS_PROXY` for https:// URLs, `http_proxy` (lowercase
// only; libcurl ignores HTTP_PROXY, which a CGI request header could set) for http:// URLs,
// `all_proxy`/`ALL_PROXY` as a fallback, and `no_proxy`/`NO_PROXY` to bypass (comma-separated
// hosts, domain suffixes, IP addresses or CIDR ranges, or `*`). HTTPS goes through the proxy in a
// CONNECT tunnel, so TLS is still verified end to end against the AWS host.
class CurlHttpClient : public HttpClient {
 public:
  struct Options {
    // PEM bundle of trusted CAs (CURLOPT_CAINFO); empty: libcurl's default bundle.
    std::string caFile;
  };

  CurlHttpClient();
  explicit CurlHttpClient(Options options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  // Never throws for transport problems: refused connections, timeouts, TLS and proxy failures
  // come back as status 0 with `error` set. Redirects are not followed.
  HttpResponse send(const HttpRequest& request) override;

 private:
  Options options_;
  void* curl_ = nullptr;  // CURL*; opaque here so that users need not include curl.h
};

}  // namespace kinesyslog::aws
