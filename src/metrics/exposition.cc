// Covered by metrics/histogram_test.cc and metrics/relay_metrics_test.cc.
#include "metrics/exposition.h"

#include <fmt/format.h>

#include <cmath>

namespace kinesyslog::metrics {

namespace {

void appendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string formatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  appendEscaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::labels(std::initializer_list<Label> labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += name;
    out_ += "=\"";
    appendEscaped(out_, value, true);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> l, uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += formatDouble(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, std::initializer_list<Label> l,
                           const Histogram::Snapshot& s, double divisor) {
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= s.bounds.size(); ++i) {
    const std::string le =
        i < s.bounds.size() ? formatDouble(static_cast<double>(s.bounds[i]) / divisor) : "+Inf";
    out_ += bucket;
    labels(l, le);
    out_ += ' ';
    out_ += std::to_string(s.cumulative[i]);
    out_ += '\n';
  }
  if (divisor == 1) {
    sample(std::string(name) + "_sum", l, s.sum);
  } else {
    sample(std::string(name) + "_sum", l, static_cast<double>(s.sum) / divisor);
  }
  sample(std::string(name) + "_count", l, s.cumulative.back());
}

}  // namespace kinesyslog::metrics
