#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/http_request_parser.h"
#include "metrics/readiness.h"
#include "metrics/relay_metrics.h"

namespace kinesyslog::metrics {

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

// What the endpoint serves; both are called on the endpoint's thread, once per request.
struct EndpointPages {
  std::function<std::string()> metrics;  // the /metrics body
  std::function<Readiness()> readiness;  // /readyz
};

// The answer to a complete request head: GET and HEAD of /metrics, /healthz and /readyz (a
// query string is ignored); 405 for other methods, 404 for other paths. Pure but for the pages.
HttpResponse answer(const HttpRequest& request, const EndpointPages& pages);

// "HTTP/1.1 200 OK" and the fields; the body unless `head`.
std::string serialize(const HttpResponse& response, bool head);

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (tests)
  // Open connections at most; one more is closed at once. Prometheus holds one per target and
  // scrape, load balancers and probes one each: a few dozen is plenty and bounds the memory.
  size_t maxConnections = 32;
  // From accept to the last byte of the answer: a request not complete by then is answered 408
  // (when the socket takes it) and closed; an answer not taken by then is dropped.
  std::chrono::milliseconds timeout{5000};
};

// The metrics and health endpoint: a small HTTP/1.1 server on its own thread and event loop,
// so a scrape never runs on an I/O worker. One request per connection (answered with
// "Connection: close"); a request announcing a body is refused. Nothing but the three pages is
// served.
class HttpServer {
 public:
  // Binds and listens (the port is taken before the relay reports ready). Throws
  // StartupError: kExitConfig for a bad address or a port in use, kExitNoPermission when the
  // system refuses the port.
  HttpServer(HttpServerOptions options, EndpointPages pages);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  void stop();  // closes every connection and joins the thread; idempotent
  uint16_t port() const { return port_; }
  HttpSnapshot snapshot() const;

 private:
  class Connection;
  void acceptNext();
  void count(int status);

  HttpServerOptions options_;
  EndpointPages pages_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retryTimer_;  // after a failed accept
  uint16_t port_ = 0;
  std::map<Connection*, std::shared_ptr<Connection>> connections_;  // endpoint thread only
  std::thread thread_;

  mutable std::mutex mutex_;
  HttpSnapshot counts_;  // guarded by mutex_
};

}  // namespace kinesyslog::metrics
