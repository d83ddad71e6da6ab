// Covered by tests/integration/test_metrics.py (/metrics, /healthz and /readyz of a running relay).
#include "app/relay_endpoint.h"

#include <chrono>

#include "deliver/firehose_target.h"
#include "deliver/uploader.h"
#include "spool/spool_directory.h"

namespace kinesyslog::app {

namespace {

int64_t microsSinceEpoch(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

RelayEndpoint::RelayEndpoint(const ListenOptions& options, const spool::SpoolDirectory& spool,
                             const deliver::Uploader& uploader,
                             const std::vector<std::unique_ptr<deliver::FirehoseTarget>>* firehose)
    : spool_(spool),
      uploader_(uploader),
      firehose_(firehose),
      unhealthyAgeSeconds_(options.unhealthySpoolAgeSeconds) {
  metrics::HttpServerOptions serverOptions;
  serverOptions.address = options.prometheusAddress;
  serverOptions.port = options.prometheusPort;
  metrics::EndpointPages pages;
  pages.metrics = [this] {
    auto s = snapshot();
    s.ready = readiness(s).ready;
    return metrics::renderMetrics(s);
  };
  pages.readiness = [this] { return readiness(); };
  server_ = std::make_unique<metrics::HttpServer>(serverOptions, std::move(pages));
}

metrics::RelaySnapshot RelayEndpoint::snapshot() const {
  metrics::RelaySnapshot s;
  s.listenersOpen = listenersOpen_.load();

  const spool::SpoolState spool = spool_.state();
  s.spool.records = spool.records;
  s.spool.bytes = spool.bytes;
  s.spool.maxBytes = spool_.maxBytes();
  if (spool.oldestAgeMicros) {
    s.spool.oldestAgeSeconds = static_cast<double>(*spool.oldestAgeMicros) / 1e6;
  }

  const deliver::UploaderCounters& u = uploader_.counters();
  s.upload.requests = u.batches.load();
  s.upload.requestFailures = u.requestFailures.load();
  s.upload.recordsDelivered = u.recordsDelivered.load();
  s.upload.recordFailures = u.recordFailures.load();
  s.upload.bytesDelivered = u.bytesDelivered.load();
  s.upload.unreadable = u.unreadable.load();
  if (const int64_t since = u.failingSinceMicros.load(); since != 0) {
    const int64_t failing = microsSinceEpoch(std::chrono::steady_clock::now()) - since;
    s.upload.failingForSeconds = static_cast<double>(std::max<int64_t>(failing, 0)) / 1e6;
  }

  if (firehose_ != nullptr) {
    metrics::FirehoseSnapshot f;
    for (size_t i = 0; i < uploader_.streamCount(); ++i) {
      const deliver::StreamCounters& c = uploader_.streamCounters(i);
      metrics::StreamSnapshot& st = f.streams.emplace_back();
      st.name = uploader_.streamName(i);
      st.requests = c.requests.load();
      st.throttledRequests = c.throttledRequests.load();
      st.recordsAccepted = c.recordsAccepted.load();
      st.recordsThrottled = c.recordsThrottled.load();
      st.recordsFailed = c.recordsFailed.load();
      st.bytesAccepted = c.bytesAccepted.load();
      st.rateCuts = c.rateCuts.load();
      st.sendRateBytesPerSecond = c.sendRateBytesPerSecond.load();
      st.requestsInFlight = c.requestsInFlight.load();
      st.inFlightLimit = c.inFlightLimit.load();
    }
    for (const auto& target : *firehose_) {
      for (const auto& [code, n] : target->recordErrorCounts()) f.recordErrors[code] += n;
      for (const auto& [code, n] : target->requestErrorCounts()) f.requestErrors[code] += n;
      f.mismatchedResponses += target->mismatchedResponses();
      f.throttledRequests += target->throttledRequests();
    }
    s.firehose = std::move(f);
  }
  s.http = server_->snapshot();
  s.process = metrics::readProcessStats();
  return s;
}

metrics::Readiness RelayEndpoint::readiness() const {
  return readiness(snapshot());
}

metrics::Readiness RelayEndpoint::readiness(const metrics::RelaySnapshot& s) const {
  metrics::ReadinessInput in;
  in.listenersOpen = s.listenersOpen > 0;
  in.spoolBytes = s.spool.bytes;
  in.spoolMaxBytes = s.spool.maxBytes;
  in.spoolFull = s.spool.bytes >= s.spool.maxBytes;
  in.oldestSpooledAgeSeconds = s.spool.oldestAgeSeconds;
  in.failingForSeconds = s.upload.failingForSeconds;
  in.unhealthyAgeSeconds = unhealthyAgeSeconds_;
  return metrics::judgeReadiness(in);
}

}  // namespace kinesyslog::app
