// The fuzz input read as a stream of choices, for the structure-aware targets: each call takes
// the next bytes, and past the end every read gives zeros, so any input (the empty one too)
// builds a complete structure and libFuzzer's mutations shift one choice at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesyslog::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool empty() const { return p_ == end_; }
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  // A choice among n (n > 0), from two bytes so that n above 256 is reachable.
  unsigned below(unsigned n) { return (byte() | byte() << 8) % n; }
  char digit() { return static_cast<char>('0' + byte() % 10); }
  // Up to n bytes of the input as they are (fewer at its end).
  std::string_view bytes(size_t n) {
    n = std::min<size_t>(n, static_cast<size_t>(end_ - p_));
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }
  // Exactly n bytes: the input's, then zeros.
  std::string paddedBytes(size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += static_cast<char>(byte());
    return out;
  }
  std::string_view rest() { return bytes(static_cast<size_t>(end_ - p_)); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace kinesyslog::fuzz
