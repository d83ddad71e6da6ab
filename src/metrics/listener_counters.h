#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kinesyslog::metrics {

// Messages and bytes received by one listener (one transport and port) of one worker. Only that
// worker's thread adds to it, so an add is a plain load and store with no locked instruction
// and no cache line shared with another worker; a scrape may read it from any thread.
class alignas(64) ListenerCounters {
 public:
  void addMessages(uint64_t n) { bump(messages_, n); }
  void addBytes(uint64_t n) { bump(bytes_, n); }
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  static void bump(std::atomic<uint64_t>& v, uint64_t n) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> bytes_{0};
};

// One listener's totals over every worker.
struct ListenerTotals {
  std::string transport;  // "udp", "tcp" or "tls"
  uint16_t port = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
};

// Every listener's counters, for the metrics endpoint. Listeners register at start-up (a lock
// then, never on the data path); the registry keeps the counters alive for the scrapes that may
// still run while the workers are torn down.
class ListenerRegistry {
 public:
  std::shared_ptr<ListenerCounters> add(std::string_view transport, uint16_t port);
  // Summed per (transport, port), in transport then port order.
  std::vector<ListenerTotals> totals() const;

 private:
  struct Entry {
    std::string transport;
    uint16_t port;
    std::shared_ptr<ListenerCounters> counters;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // guarded by mutex_
};

// The process's listeners.
ListenerRegistry& listeners();

}  // namespace kinesyslog::metrics
