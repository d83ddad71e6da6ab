// Fuzz target for GELF zlib/gzip inflation (src/proto/gelf/gelf_inflater.h).
// Byte 0 chooses --max-message-size (bits 0-2) and the mode (bit 3); byte 1 the options.
//  - raw mode: the rest is a payload, inflated as zlib and as gzip. Never a crash; a message is
//    never longer than the maximum; the buffer is exactly the maximum.
//  - built mode: the rest is a text, repeated 1 to 4096 times (a decompression bomb when long),
//    compressed as zlib, one gzip member or up to four gzip members, maybe followed by bytes
//    that are not a gzip member. The payload must inflate to exactly the original text when it
//    fits the maximum and be refused as too large otherwise (never more memory than the
//    maximum); every strict prefix of a single zlib stream or gzip member must be refused; a
//    flipped byte must never yield a message other than the original.
#include <libdeflate.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proto/gelf/gelf_inflater.h"

namespace {

using kinesyslog::gelf::detectEncoding;
using kinesyslog::gelf::GelfEncoding;
using kinesyslog::gelf::GelfInflater;
using kinesyslog::gelf::InflateOutcome;

constexpr size_t kMaxSizes[] = {1, 16, 100, 1024, 8192, 65536, 262144, 300};
constexpr unsigned kRepeats[] = {1, 2, 3, 16, 255, 1024, 4096, 7};

std::string compress(bool gzip, std::string_view data, int level) {
  std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
      libdeflate_alloc_compressor(level), &libdeflate_free_compressor);
  const size_t bound = gzip ? libdeflate_gzip_compress_bound(c.get(), data.size())
                            : libdeflate_zlib_compress_bound(c.get(), data.size());
  std::string out(bound, '\0');
  const size_t n =
      gzip ? libdeflate_gzip_compress(c.get(), data.data(), data.size(), out.data(), out.size())
           : libdeflate_zlib_compress(c.get(), data.data(), data.size(), out.data(), out.size());
  if (n == 0) __builtin_trap();
  out.resize(n);
  return out;
}

GelfInflater& inflaterFor(size_t maxSize) {
  // One per maximum, as a receiver keeps one: reused buffers must not leak old bytes.
  static std::unique_ptr<GelfInflater> inflaters[sizeof kMaxSizes / sizeof kMaxSizes[0]];
  for (size_t i = 0; i < sizeof kMaxSizes / sizeof kMaxSizes[0]; ++i) {
    if (kMaxSizes[i] == maxSize) {
      if (!inflaters[i]) inflaters[i] = std::make_unique<GelfInflater>(maxSize);
      return *inflaters[i];
    }
  }
  __builtin_trap();
}

InflateOutcome inflate(GelfInflater& inflater, std::string_view payload, std::string_view* out,
                       size_t maxSize) {
  const InflateOutcome outcome = inflater.inflate(detectEncoding(payload), payload, out);
  if (outcome == InflateOutcome::kDone && out->size() > maxSize) __builtin_trap();
  if (inflater.bufferBytes() != 0 && inflater.bufferBytes() != maxSize) __builtin_trap();
  return outcome;
}

void checkRaw(std::string_view payload, size_t maxSize) {
  GelfInflater& inflater = inflaterFor(maxSize);
  std::string_view message;
  for (GelfEncoding encoding : {GelfEncoding::kZlib, GelfEncoding::kGzip}) {
    const InflateOutcome outcome = inflater.inflate(encoding, payload, &message);
    if (outcome == InflateOutcome::kDone && message.size() > maxSize) __builtin_trap();
    if (inflater.bufferBytes() != maxSize) __builtin_trap();
  }
  // Anything but zlib and gzip is not the inflater's to read.
  if (inflater.inflate(GelfEncoding::kPlain, payload, &message) != InflateOutcome::kCorrupt ||
      inflater.inflate(GelfEncoding::kChunked, payload, &message) != InflateOutcome::kCorrupt) {
    __builtin_trap();
  }
}

void checkBuilt(std::string_view text, uint8_t options, size_t maxSize) {
  const unsigned repeat = kRepeats[options & 7];
  const unsigned members = 1 + ((options >> 3) & 3);  // gzip only
  const bool gzip = (options & 0x20) != 0;
  const bool trailer = (options & 0x40) != 0;
  std::string original;
  // Up to 288 KiB: past every maximum, yet quick to compress on every run.
  if (text.size() * repeat > 288 * 1024) return;
  const int level = (options & 0x80) && text.size() * repeat <= 4096 ? 12 : 1;
  original.reserve(text.size() * repeat);
  for (unsigned r = 0; r < repeat; ++r) original += text;
  std::string payload;
  std::string expected;
  if (gzip) {
    // Concatenated members (RFC 1952 §2.2), each holding a share of the text.
    for (unsigned m = 0; m < members; ++m) {
      const size_t from = original.size() * m / members;
      const size_t to = original.size() * (m + 1) / members;
      payload += compress(true, std::string_view(original).substr(from, to - from), level);
    }
  } else {
    payload = compress(false, original, level);
  }
  const size_t streamSize = payload.size();
  // Bytes after the last member that do not start another one are ignored.
  if (trailer) payload += "\x00trailing garbage";

  GelfInflater& inflater = inflaterFor(maxSize);
  std::string_view message;
  const InflateOutcome outcome = inflate(inflater, payload, &message, maxSize);
  if (original.size() <= maxSize) {
    if (outcome != InflateOutcome::kDone || message != original) __builtin_trap();
  } else if (outcome != InflateOutcome::kTooLarge) {
    __builtin_trap();
  }

  // A strict prefix of one stream is never a message (its checksum and length come last).
  if (!gzip || members == 1) {
    for (size_t cut : {streamSize / 2, streamSize - 1, streamSize - 4, size_t{2}}) {
      if (cut >= streamSize || cut < 2) continue;
      const std::string_view prefix = std::string_view(payload).substr(0, cut);
      if (inflater.inflate(gzip ? GelfEncoding::kGzip : GelfEncoding::kZlib, prefix, &message) ==
          InflateOutcome::kDone) {
        __builtin_trap();
      }
    }
  }

  // A damaged byte inside a single stream (in a series of members it may end the series early,
  // which is how the end is found): refused, or (a header field no checksum covers, such as
  // gzip's MTIME) the same message.
  if (original.size() <= maxSize && streamSize > 2 && (!gzip || members == 1)) {
    std::string damaged = payload;
    const size_t at = 2 + (static_cast<size_t>(options) * 131 + text.size()) % (streamSize - 2);
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << (options % 8)));
    if (inflater.inflate(gzip ? GelfEncoding::kGzip : GelfEncoding::kZlib, damaged, &message) ==
            InflateOutcome::kDone &&
        message != original) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t maxSize = kMaxSizes[data[0] & 7];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  if ((data[0] & 8) == 0) {
    checkRaw(rest, maxSize);
  } else if (rest.size() <= 1024) {
    checkBuilt(rest, data[1], maxSize);
  }
  return 0;
}
