// Covered by metrics/relay_metrics_test.cc and net/stream_protocol_test.cc.
#include "metrics/listener_counters.h"

#include <algorithm>

namespace kinesyslog::metrics {

std::shared_ptr<ListenerCounters> ListenerRegistry::add(std::string_view transport, uint16_t port) {
  auto counters = std::make_shared<ListenerCounters>();
  std::lock_guard lock(mutex_);
  entries_.push_back(Entry{std::string(transport), port, counters});
  return counters;
}

std::vector<ListenerTotals> ListenerRegistry::totals() const {
  std::vector<ListenerTotals> out;
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    auto it = std::find_if(out.begin(), out.end(), [&](const ListenerTotals& t) {
      return t.transport == e.transport && t.port == e.port;
    });
    if (it == out.end()) {
      out.push_back(ListenerTotals{e.transport, e.port, 0, 0});
      it = out.end() - 1;
    }
    it->messages += e.counters->messages();
    it->bytes += e.counters->bytes();
  }
  std::sort(out.begin(), out.end(), [](const ListenerTotals& a, const ListenerTotals& b) {
    return a.transport != b.transport ? a.transport < b.transport : a.port < b.port;
  });
  return out;
}

ListenerRegistry& listeners() {
  static ListenerRegistry instance;
  return instance;
}

}  // namespace kinesyslog::metrics
