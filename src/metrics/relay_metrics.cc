#include "metrics/relay_metrics.h"

#include <fmt/format.h>

#include <array>

#include "metrics/delivery_metrics.h"
#include "metrics/exposition.h"
#include "metrics/listener_counters.h"

namespace kinesyslog::metrics {

namespace {

// How each counter of RelayCounters is exported. Entries of one family stand together; the first
// carries the family's type and help. A label says which member of the family the counter is,
// where an operator filters (drops by reason, handshakes by outcome).
struct CounterExport {
  Counter counter;
  std::string_view family;
  std::string_view type;  // empty: same as the entry before
  std::string_view help;
  std::string_view labelName = {};  // empty: no label
  std::string_view labelValue = {};
  bool elsewhere = false;  // exported by another part of renderMetrics (per listener, uploader)
};

constexpr std::string_view kDropped = "kinesyslog_messages_dropped_total";
// Counted in microseconds, exported in seconds (Prometheus' base unit).
constexpr std::string_view kCompressionCpu = "kinesyslog_compression_cpu_seconds_total";
constexpr std::string_view kTls = "kinesyslog_tls_handshakes_total";
constexpr std::string_view kRejected = "kinesyslog_tls_clients_rejected_total";
constexpr std::string_view kProxy = "kinesyslog_proxy_headers_total";
constexpr std::string_view kPauses = "kinesyslog_read_pauses_total";
constexpr std::string_view kChunkRefused = "kinesyslog_gelf_chunks_refused_total";
constexpr std::string_view kReloads = "kinesyslog_tls_reloads_total";

constexpr std::array kExports = {
    CounterExport{Counter::kMessagesReceived, "kinesyslog_message_count_total", "", "", "", "",
                  true},
    CounterExport{Counter::kBytesReceived, "kinesyslog_message_bytes_total", "", "", "", "", true},
    CounterExport{Counter::kRecordsDelivered, "kinesyslog_upload_records_total", "", "", "", "",
                  true},
    CounterExport{Counter::kDeliveryFailures, "kinesyslog_upload_records_total", "", "", "", "",
                  true},
    CounterExport{Counter::kMessagesTruncated, "kinesyslog_messages_truncated_total", "counter",
                  "Messages longer than --max-message-size, or cut by the partial-message budget, "
                  "delivered truncated"},
    CounterExport{Counter::kMessagesRewritten, "kinesyslog_messages_rewritten_total", "counter",
                  "Syslog messages without a usable timestamp, rewritten as RFC 5424"},
    CounterExport{Counter::kFramesIncomplete, "kinesyslog_frames_incomplete_total", "counter",
                  "Stream frames cut short by the peer closing, delivered as they were"},
    CounterExport{Counter::kFramesEmpty, "kinesyslog_frames_empty_total", "counter",
                  "Empty frames and datagrams skipped"},
    CounterExport{Counter::kBytesDiscarded, "kinesyslog_bytes_discarded_total", "counter",
                  "Bytes of oversize frames discarded past --max-message-size"},
    CounterExport{Counter::kUdpDropped, kDropped, "counter",
                  "Messages (GELF: chunk sets) received but not relayed, by reason", "reason",
                  "udp_spool_full"},
    CounterExport{Counter::kUdpKernelDropped, kDropped, "", "", "reason", "udp_kernel_buffer"},
    CounterExport{Counter::kGelfDecompressFailed, kDropped, "", "", "reason",
                  "gelf_decompress_failed"},
    CounterExport{Counter::kGelfOversizeDropped, kDropped, "", "", "reason", "gelf_oversize"},
    CounterExport{Counter::kGelfInvalidJson, kDropped, "", "", "reason", "gelf_invalid_json"},
    CounterExport{Counter::kGelfMissingFields, kDropped, "", "", "reason", "gelf_missing_fields"},
    CounterExport{Counter::kGelfChunkSetsExpired, kDropped, "", "", "reason",
                  "gelf_chunk_set_expired"},
    CounterExport{Counter::kGelfChunkSetsEvicted, kDropped, "", "", "reason",
                  "gelf_chunk_set_evicted"},
    CounterExport{Counter::kEventsOversizeDropped, kDropped, "", "", "reason", "record_oversize"},
    CounterExport{Counter::kShutdownUnspooledMessages, kDropped, "", "", "reason",
                  "shutdown_unspooled"},
    CounterExport{Counter::kGelfChunks, "kinesyslog_gelf_chunks_total", "counter",
                  "GELF chunks received"},
    CounterExport{Counter::kGelfChunksInvalid, kChunkRefused, "counter",
                  "GELF chunks refused, by reason", "reason", "invalid"},
    CounterExport{Counter::kGelfChunksDuplicate, kChunkRefused, "", "", "reason", "duplicate"},
    CounterExport{Counter::kGelfChunkedMessages, "kinesyslog_gelf_chunked_messages_total",
                  "counter", "GELF messages assembled from chunks"},
    CounterExport{Counter::kGelfInvalidTimestamp, "kinesyslog_gelf_invalid_timestamps_total",
                  "counter", "GELF messages with an unusable timestamp field (receive time used)"},
    CounterExport{Counter::kUdpDatagrams, "kinesyslog_udp_datagrams_total", "counter",
                  "UDP datagrams read"},
    CounterExport{Counter::kUdpReadPauses, kPauses, "counter",
                  "Times reading paused because the spool was full (backpressure)", "transport",
                  "udp"},
    CounterExport{Counter::kTcpReadPauses, kPauses, "", "", "transport", "tcp"},
    CounterExport{Counter::kTcpAcceptPauses, "kinesyslog_accept_pauses_total", "counter",
                  "Times accepting paused for 100 ms: the connection limit the descriptor limit "
                  "leaves was reached, or accept failed (EMFILE)"},
    CounterExport{Counter::kTcpConnectionsAccepted, "kinesyslog_connections_accepted_total",
                  "counter", "TCP and TLS connections accepted"},
    CounterExport{Counter::kTcpConnectionsActive, "kinesyslog_connections_active", "gauge",
                  "TCP and TLS connections open now"},
    CounterExport{Counter::kTcpConnectionErrors, "kinesyslog_connection_errors_total", "counter",
                  "TCP and TLS connections ended by a read error"},
    CounterExport{Counter::kPartialBudgetCuts, "kinesyslog_partial_budget_cuts_total", "counter",
                  "Partial messages cut to keep connections within --partial-budget"},
    CounterExport{Counter::kTlsHandshakes, kTls, "counter", "TLS handshakes, by outcome", "outcome",
                  "completed"},
    CounterExport{Counter::kTlsHandshakeFailures, kTls, "", "", "outcome", "failed"},
    CounterExport{Counter::kTlsHandshakeTimeouts, kTls, "", "", "outcome", "timeout"},
    CounterExport{Counter::kTlsHandshakesAbandoned, kTls, "", "", "outcome", "abandoned"},
    CounterExport{Counter::kTlsRejectedNoCertificate, kRejected, "counter",
                  "TLS clients whose certificate was refused, by reason", "reason",
                  "no_certificate"},
    CounterExport{Counter::kTlsRejectedUntrusted, kRejected, "", "", "reason", "untrusted"},
    CounterExport{Counter::kTlsRejectedRevoked, kRejected, "", "", "reason", "revoked"},
    CounterExport{Counter::kTlsRejectedPeerName, kRejected, "", "", "reason", "peer_name"},
    // The sum of the reasons above; the family has it as the sum of its series.
    CounterExport{Counter::kTlsClientsRejected, kRejected, "", "", "", "", true},
    CounterExport{Counter::kTlsReloads, kReloads, "counter",
                  "TLS file reloads (SIGHUP), by outcome", "outcome", "reloaded"},
    CounterExport{Counter::kTlsReloadFailures, kReloads, "", "", "outcome", "failed"},
    CounterExport{Counter::kProxyHeadersAccepted, kProxy, "counter",
                  "PROXY protocol headers on --proxy-protocol ports, by outcome", "outcome",
                  "accepted"},
    CounterExport{Counter::kProxyHeadersRejected, kProxy, "", "", "outcome", "rejected"},
    CounterExport{Counter::kProxyHeaderTimeouts, kProxy, "", "", "outcome", "timeout"},
    CounterExport{Counter::kProxyHeadersAbandoned, kProxy, "", "", "outcome", "abandoned"},
    CounterExport{Counter::kProxyUntrustedPeers, "kinesyslog_proxy_untrusted_peers_total",
                  "counter",
                  "Connections to a --proxy-protocol port from outside --proxy-trusted, closed at "
                  "accept"},
    CounterExport{Counter::kBatchesFlushed, "kinesyslog_batches_flushed_total", "counter",
                  "Per-source buffers flushed to the encoders"},
    CounterExport{Counter::kRecordsEncoded, "kinesyslog_records_encoded_total", "counter",
                  "Firehose records built (gzip members)"},
    CounterExport{Counter::kRecordResplits, "kinesyslog_record_resplits_total", "counter",
                  "Records encoded again in smaller parts to stay under 1,024,000 bytes"},
    CounterExport{Counter::kJsonBytes, "kinesyslog_json_bytes_total", "counter",
                  "Bytes of record JSON before compression"},
    CounterExport{Counter::kCompressedBytesFed, "kinesyslog_compressor_input_bytes_total",
                  "counter", "Bytes given to the compressor, re-compressions included"},
    CounterExport{Counter::kSpoolWrites, "kinesyslog_spool_writes_total", "counter",
                  "Records written to the spool"},
    CounterExport{Counter::kSpoolWriteErrors, "kinesyslog_spool_write_errors_total", "counter",
                  "Spool writes the disk refused (retried)"},
    CounterExport{Counter::kSpoolRecovered, "kinesyslog_spool_recovered_total", "counter",
                  "Records of an earlier run found in the spool at start"},
    CounterExport{Counter::kSpoolCorrupt, "kinesyslog_spool_corrupt_total", "counter",
                  "Spool files that failed validation at start, moved to corrupt/"},
    CounterExport{Counter::kJournalBytesWritten, "kinesyslog_journal_bytes_total", "counter",
                  "Bytes appended to the message journal"},
    CounterExport{Counter::kJournalWriteErrors, "kinesyslog_journal_write_errors_total", "counter",
                  "Journal writes the disk refused"},
    CounterExport{Counter::kJournalReplayedMessages, "kinesyslog_journal_replayed_messages_total",
                  "counter", "Messages of an earlier run's journal spooled at start"},
    CounterExport{Counter::kJournalReplaySkipped, "kinesyslog_journal_replay_skipped_total",
                  "counter", "Journaled messages found already spooled at start"},
    CounterExport{Counter::kJournalCorruptSegments, "kinesyslog_journal_corrupt_segments_total",
                  "counter", "Journal segments with a damaged or torn frame"},
    CounterExport{Counter::kInternalErrors, "kinesyslog_internal_errors_total", "counter",
                  "States the relay holds impossible, met and survived: a bug, logged with its "
                  "source line"},
    CounterExport{
        Counter::kCompressionCpuMicros, kCompressionCpu, "counter", "", {}, {}, /*elsewhere=*/true},
};

static_assert(kExports.size() == static_cast<size_t>(Counter::kCount),
              "every counter needs an export");

// The kinesyslog 2.x names that break today's naming rules (a counter without _total, gauges
// ending in _count) are kept for existing dashboards as untyped samples, which the rules leave
// alone, beside a well-named twin.
std::string legacyHelp(std::string_view twin) {
  return fmt::format("kinesyslog 2.x name, kept for existing dashboards: the same value as {}",
                     twin);
}

void renderCounters(Exposition& out) {
  const RelayCounters& c = counters();
  std::string_view current;
  for (const CounterExport& e : kExports) {
    if (e.elsewhere) continue;
    if (e.family != current) {
      out.family(e.family, e.type, e.help);
      current = e.family;
    }
    if (e.labelName.empty()) {
      out.sample(e.family, {}, c.get(e.counter));
    } else {
      out.sample(e.family, {{e.labelName, e.labelValue}}, c.get(e.counter));
    }
  }
  out.family(kCompressionCpu, "counter",
             "CPU time the encoder threads spent compressing records, in seconds: with "
             "process_cpu_seconds_total, the share of the relay's CPU that compression takes");
  out.sample(kCompressionCpu, {}, static_cast<double>(c.get(Counter::kCompressionCpuMicros)) / 1e6);
}

void renderListeners(Exposition& out, const RelaySnapshot& s) {
  const auto totals = listeners().totals();
  out.family("kinesyslog_message_count_total", "counter",
             "Messages received, per listener (kinesyslog 2.x name)");
  for (const auto& t : totals) {
    const std::string port = std::to_string(t.port);
    out.sample("kinesyslog_message_count_total", {{"transport", t.transport}, {"port", port}},
               t.messages);
  }
  out.family("kinesyslog_message_bytes_total", "counter",
             "Bytes received, per listener (kinesyslog 2.x name)");
  for (const auto& t : totals) {
    const std::string port = std::to_string(t.port);
    out.sample("kinesyslog_message_bytes_total", {{"transport", t.transport}, {"port", port}},
               t.bytes);
  }
  out.family("kinesyslog_listeners", "gauge", "Listeners open: one per transport and port");
  out.sample("kinesyslog_listeners", {}, s.listenersOpen);
  out.family("kinesyslog_listener_count", "untyped", legacyHelp("kinesyslog_listeners"));
  out.sample("kinesyslog_listener_count", {}, s.listenersOpen);
}

void renderSpool(Exposition& out, const SpoolSnapshot& s) {
  out.family("kinesyslog_spool_records", "gauge", "Records in the spool not yet delivered");
  out.sample("kinesyslog_spool_records", {}, s.records);
  out.family("kinesyslog_spool_count", "untyped", legacyHelp("kinesyslog_spool_records"));
  out.sample("kinesyslog_spool_count", {}, s.records);
  out.family("kinesyslog_spool_age", "gauge",
             "Seconds since the oldest spooled record was written; 0 when the spool is empty "
             "(kinesyslog 2.x name)");
  out.sample("kinesyslog_spool_age", {}, s.oldestAgeSeconds.value_or(0.0));
  out.family("kinesyslog_spool_bytes", "gauge", "Bytes of records in the spool");
  out.sample("kinesyslog_spool_bytes", {}, s.bytes);
  out.family("kinesyslog_spool_max_bytes", "gauge", "--spool-max-bytes");
  out.sample("kinesyslog_spool_max_bytes", {}, s.maxBytes);
}

void renderUpload(Exposition& out, const UploadSnapshot& u) {
  DeliveryMetrics& d = deliveryMetrics();
  out.family("kinesyslog_upload_requests_total", "counter",
             "Delivery requests sent (Firehose PutRecordBatch, or output-directory objects)");
  out.sample("kinesyslog_upload_requests_total", {}, u.requests);
  out.family("kinesyslog_upload_failed_requests_total", "counter",
             "Delivery requests that delivered no record");
  out.sample("kinesyslog_upload_failed_requests_total", {}, u.requestFailures);
  out.family("kinesyslog_upload_retries_total", "counter",
             "Delivery requests sent while the one before had failed (backoff retries)");
  out.sample("kinesyslog_upload_retries_total", {}, d.retries.load(std::memory_order_relaxed));
  out.family("kinesyslog_upload_records_total", "counter",
             "Records sent, by outcome (failed counts each attempt)");
  out.sample("kinesyslog_upload_records_total", {{"outcome", "delivered"}}, u.recordsDelivered);
  out.sample("kinesyslog_upload_records_total", {{"outcome", "failed"}}, u.recordFailures);
  out.family("kinesyslog_batch_record_failed", "untyped",
             legacyHelp("kinesyslog_upload_records_total{outcome=\"failed\"}, a counter"));
  out.sample("kinesyslog_batch_record_failed", {}, u.recordFailures);
  out.family("kinesyslog_upload_bytes_total", "counter", "Record bytes delivered");
  out.sample("kinesyslog_upload_bytes_total", {}, u.bytesDelivered);
  out.family("kinesyslog_upload_unreadable_total", "counter",
             "Spool files unreadable at delivery, moved to corrupt/");
  out.sample("kinesyslog_upload_unreadable_total", {}, u.unreadable);
  out.family("kinesyslog_upload_duration_seconds", "histogram",
             "Time one delivery request took, failures included");
  out.histogram("kinesyslog_upload_duration_seconds", {}, d.uploadMicros.snapshot(), 1e6);
  out.family("kinesyslog_batch_records", "histogram",
             "Records per delivery request (kinesyslog 2.x name)");
  out.histogram("kinesyslog_batch_records", {}, d.batchRecords.snapshot());
  out.family("kinesyslog_batch_bytes", "histogram",
             "Record bytes per delivery request (kinesyslog 2.x name)");
  out.histogram("kinesyslog_batch_bytes", {}, d.batchBytes.snapshot());
  out.family("kinesyslog_record_bytes", "histogram",
             "Size of each record sent (kinesyslog 2.x name)");
  out.histogram("kinesyslog_record_bytes", {}, d.recordBytes.snapshot());
}

// Per --stream: how the adaptive send rate and the quota treat each stream (a handful of series
// per stream; streams are few and named by the operator).
void renderStreams(Exposition& out, const std::vector<StreamSnapshot>& streams) {
  struct Series {
    std::string_view name, type, help;
    uint64_t StreamSnapshot::*value;
  };
  static constexpr Series kSeries[] = {
      {"kinesyslog_firehose_stream_requests_total", "counter", "PutRecordBatch requests, by stream",
       &StreamSnapshot::requests},
      {"kinesyslog_firehose_stream_throttled_requests_total", "counter",
       "Requests throttled whole or for some records, by stream",
       &StreamSnapshot::throttledRequests},
      {"kinesyslog_firehose_stream_bytes_total", "counter", "Record bytes accepted, by stream",
       &StreamSnapshot::bytesAccepted},
      {"kinesyslog_firehose_stream_rate_cuts_total", "counter",
       "Times the stream's send rate was cut for throttling", &StreamSnapshot::rateCuts},
      {"kinesyslog_firehose_stream_send_rate_bytes", "gauge",
       "Send rate the stream is allowed now, bytes/s (0: not limited, it has not throttled)",
       &StreamSnapshot::sendRateBytesPerSecond},
      {"kinesyslog_firehose_stream_requests_in_flight", "gauge",
       "Requests to the stream awaiting their answer", &StreamSnapshot::requestsInFlight},
      {"kinesyslog_firehose_stream_in_flight_limit", "gauge",
       "Requests the send rate lets be in flight to the stream", &StreamSnapshot::inFlightLimit},
  };
  for (const Series& series : kSeries) {
    out.family(series.name, series.type, series.help);
    for (const StreamSnapshot& s : streams) {
      out.sample(series.name, {{"stream", s.name}}, s.*series.value);
    }
  }
  constexpr std::string_view kRecords = "kinesyslog_firehose_stream_records_total";
  out.family(kRecords, "counter",
             "Records sent, by stream and outcome (throttled and failed: per attempt)");
  for (const StreamSnapshot& s : streams) {
    out.sample(kRecords, {{"stream", s.name}, {"outcome", "accepted"}}, s.recordsAccepted);
    out.sample(kRecords, {{"stream", s.name}, {"outcome", "throttled"}}, s.recordsThrottled);
    out.sample(kRecords, {{"stream", s.name}, {"outcome", "failed"}}, s.recordsFailed);
  }
}

void renderFirehose(Exposition& out, const FirehoseSnapshot& f) {
  out.family("kinesyslog_firehose_record_errors_total", "counter",
             "Records Firehose refused one by one, by ErrorCode");
  for (const auto& [code, n] : f.recordErrors) {
    out.sample("kinesyslog_firehose_record_errors_total", {{"error_code", code}}, n);
  }
  out.family("kinesyslog_firehose_request_errors_total", "counter",
             "PutRecordBatch requests that failed whole, by AWS error code or failure kind");
  for (const auto& [code, n] : f.requestErrors) {
    out.sample("kinesyslog_firehose_request_errors_total", {{"error", code}}, n);
  }
  out.family("kinesyslog_firehose_throttled_requests_total", "counter",
             "PutRecordBatch requests throttled, whole or for some records");
  out.sample("kinesyslog_firehose_throttled_requests_total", {}, f.throttledRequests);
  out.family("kinesyslog_firehose_mismatched_responses_total", "counter",
             "PutRecordBatch answers whose entries did not match the records sent");
  out.sample("kinesyslog_firehose_mismatched_responses_total", {}, f.mismatchedResponses);
  renderStreams(out, f.streams);
}

void renderHttp(Exposition& out, const HttpSnapshot& h) {
  out.family("kinesyslog_http_requests_total", "counter",
             "Requests to the metrics endpoint, by status code (kinesyslog 2.x name)");
  for (const auto& [code, n] : h.responses) {
    out.sample("kinesyslog_http_requests_total", {{"code", std::to_string(code)}}, n);
  }
  out.family("kinesyslog_http_connections_refused_total", "counter",
             "Metrics endpoint connections closed at once: too many open");
  out.sample("kinesyslog_http_connections_refused_total", {}, h.connectionsRefused);
  out.family("kinesyslog_http_timeouts_total", "counter",
             "Metrics endpoint connections closed: request not complete in time");
  out.sample("kinesyslog_http_timeouts_total", {}, h.connectionsTimedOut);
}

void renderProcess(Exposition& out, const ProcessStats& p) {
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", {}, p.cpuSeconds);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", {}, p.residentBytes);
  out.family("process_open_fds", "gauge", "Number of open file descriptors.");
  out.sample("process_open_fds", {}, p.openFds);
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out.sample("process_max_fds", {}, p.maxFds);
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, p.startTimeSeconds);
}

}  // namespace

std::string_view metricFamilyFor(Counter c) {
  for (const CounterExport& e : kExports) {
    if (e.counter == c) return e.family;
  }
  return {};
}

std::string renderMetrics(const RelaySnapshot& s) {
  Exposition out;
  out.family("kinesyslog_build_info", "gauge", "Always 1; the version as a label");
  out.sample("kinesyslog_build_info", {{"version", KINESYSLOG_VERSION}}, uint64_t{1});
  out.family("kinesyslog_ready", "gauge", "1 when /readyz answers 200");
  out.sample("kinesyslog_ready", {}, uint64_t{s.ready ? 1u : 0u});
  renderListeners(out, s);
  renderCounters(out);
  renderSpool(out, s.spool);
  renderUpload(out, s.upload);
  if (s.firehose) renderFirehose(out, *s.firehose);
  renderHttp(out, s.http);
  renderProcess(out, s.process);
  return out.take();
}

}  // namespace kinesyslog::metrics
