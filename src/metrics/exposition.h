#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "metrics/histogram.h"

namespace kinesyslog::metrics {

using Label = std::pair<std::string_view, std::string_view>;

// Writes the Prometheus text exposition format 0.0.4: for each family one HELP and one TYPE
// line, then its samples. Label values and help texts are escaped as the format requires
// (backslash, double quote in values, line feed). The caller writes each family's samples
// together, once per family.
class Exposition {
 public:
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // name_bucket{le=...}, name_sum and name_count; bounds and the sum are divided by `divisor`
  // (microseconds recorded, seconds shown: 1e6).
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const Histogram::Snapshot& snapshot, double divisor = 1);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void labels(std::initializer_list<Label> labels, std::string_view le = {});
  std::string out_;
};

}  // namespace kinesyslog::metrics
