#include "proto/syslog/datagram.h"

#include <cstddef>
#include <cstdint>

namespace kinesyslog::syslog {
namespace {

// RFC 6587 §3.4.1: MSG-LEN = NONZERO-DIGIT 0*8DIGIT.
constexpr size_t kMaxLengthDigits = 9;

constexpr bool isTrailer(char c) {
  return c == '\n' || c == '\0' || c == '\r';
}

// The datagram without its octet-count prefix when it has one that matches, else unchanged.
std::string_view removeMatchingCount(std::string_view datagram) {
  if (datagram.empty() || datagram[0] < '1' || datagram[0] > '9') return datagram;
  uint64_t count = 0;
  size_t i = 0;
  while (i < datagram.size() && i < kMaxLengthDigits && datagram[i] >= '0' && datagram[i] <= '9') {
    count = count * 10 + static_cast<uint64_t>(datagram[i] - '0');
    ++i;
  }
  if (i == datagram.size() || datagram[i] != ' ') return datagram;
  const std::string_view rest = datagram.substr(i + 1);
  return rest.size() == count ? rest : datagram;
}

}  // namespace

std::string_view stripTrailingNewlines(std::string_view message) {
  size_t n = message.size();
  while (n != 0 && isTrailer(message[n - 1])) --n;
  return message.substr(0, n);
}

std::string_view unwrapDatagram(std::string_view datagram) {
  return stripTrailingNewlines(removeMatchingCount(datagram));
}

}  // namespace kinesyslog::syslog
