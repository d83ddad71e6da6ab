#include "metrics/delivery_metrics.h"

namespace kinesyslog::metrics {

DeliveryMetrics& deliveryMetrics() {
  static DeliveryMetrics instance;
  return instance;
}

}  // namespace kinesyslog::metrics
