// Covered by deliver/uploader_test.cc and metrics/relay_metrics_test.cc.
#include "metrics/delivery_metrics.h"

namespace kinesyslog::metrics {

DeliveryMetrics& deliveryMetrics() {
  static DeliveryMetrics instance;
  return instance;
}

}  // namespace kinesyslog::metrics
