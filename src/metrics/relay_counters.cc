// Covered by metrics/problem_log_test.cc (RelayCounters) and metrics/relay_metrics_test.cc.
#include "metrics/relay_counters.h"

namespace kinesyslog::metrics {

namespace {
constexpr std::array<std::string_view, static_cast<size_t>(Counter::kCount)> kNames = {
    "messages_received",
    "bytes_received",
    "messages_truncated",
    "frames_incomplete",
    "frames_empty",
    "bytes_discarded",
    "messages_rewritten",
    "gelf_chunks",
    "gelf_chunks_invalid",
    "gelf_chunks_duplicate",
    "gelf_chunked_messages",
    "gelf_chunk_sets_expired",
    "gelf_chunk_sets_evicted",
    "gelf_decompress_failed",
    "gelf_oversize_dropped",
    "gelf_invalid_json",
    "gelf_missing_fields",
    "gelf_invalid_timestamp",
    "udp_datagrams",
    "udp_dropped",
    "udp_kernel_dropped",
    "udp_read_pauses",
    "tcp_connections_accepted",
    "tcp_connections_active",
    "tcp_connection_errors",
    "tcp_read_pauses",
    "tcp_accept_pauses",
    "partial_budget_cuts",
    "tls_handshakes",
    "tls_handshake_failures",
    "tls_handshake_timeouts",
    "tls_handshakes_abandoned",
    "tls_clients_rejected",
    "tls_rejected_no_certificate",
    "tls_rejected_untrusted",
    "tls_rejected_revoked",
    "tls_rejected_peer_name",
    "tls_reloads",
    "tls_reload_failures",
    "proxy_headers_accepted",
    "proxy_headers_rejected",
    "proxy_header_timeouts",
    "proxy_headers_abandoned",
    "proxy_untrusted_peers",
    "batches_flushed",
    "records_encoded",
    "record_resplits",
    "events_oversize_dropped",
    "json_bytes",
    "compressed_bytes_fed",
    "spool_writes",
    "spool_write_errors",
    "spool_recovered",
    "spool_corrupt",
    "records_delivered",
    "delivery_failures",
    "journal_bytes_written",
    "journal_write_errors",
    "journal_replayed_messages",
    "journal_replay_skipped",
    "journal_corrupt_segments",
    "shutdown_unspooled_messages",
    "internal_errors",
    "compression_cpu_microseconds",
};
}  // namespace

std::string_view counterName(Counter c) {
  return kNames[static_cast<size_t>(c)];
}

std::string RelayCounters::format(std::span<const std::pair<Counter, uint64_t>> plus) const {
  std::string out;
  for (size_t i = 0; i < kNames.size(); ++i) {
    uint64_t value = values_[i].load(std::memory_order_relaxed);
    for (const auto& [counter, extra] : plus) {
      if (static_cast<size_t>(counter) == i) value += extra;
    }
    if (i != 0) out += ' ';
    out += kNames[i];
    out += '=';
    out += std::to_string(value);
  }
  return out;
}

RelayCounters& counters() {
  static RelayCounters instance;
  return instance;
}

}  // namespace kinesyslog::metrics
