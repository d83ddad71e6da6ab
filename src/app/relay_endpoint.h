#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "app/options.h"
#include "metrics/http_server.h"

namespace kinesyslog::deliver {
class FirehoseTarget;
class Uploader;
}  // namespace kinesyslog::deliver
namespace kinesyslog::spool {
class SpoolDirectory;
}

namespace kinesyslog::app {

// The metrics and health endpoint of `listen --prometheus-port`: gathers the state of the
// spool, the uploader and the Firehose target at each request. Everything it is given must
// outlive it; it reads them from the endpoint's thread only, through their thread-safe getters.
class RelayEndpoint {
 public:
  // Binds the port (StartupError when it cannot); serves nothing until start().
  // `firehose`: every upload lane's target of every stream (their counts are summed); null with
  // --output-dir.
  RelayEndpoint(const ListenOptions& options, const spool::SpoolDirectory& spool,
                const deliver::Uploader& uploader,
                const std::vector<std::unique_ptr<deliver::FirehoseTarget>>* firehose);
  void start() { server_->start(); }
  void stop() { server_->stop(); }
  // Listeners open (true after the workers start, false once shutdown begins).
  void setListenersOpen(uint64_t count) { listenersOpen_ = count; }
  uint16_t port() const { return server_->port(); }

 private:
  metrics::RelaySnapshot snapshot() const;
  metrics::Readiness readiness() const;
  metrics::Readiness readiness(const metrics::RelaySnapshot& s) const;

  const spool::SpoolDirectory& spool_;
  const deliver::Uploader& uploader_;
  const std::vector<std::unique_ptr<deliver::FirehoseTarget>>* firehose_;
  const double unhealthyAgeSeconds_;
  std::atomic<uint64_t> listenersOpen_{0};
  std::unique_ptr<metrics::HttpServer> server_;
};

}  // namespace kinesyslog::app
