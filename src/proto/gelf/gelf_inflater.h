#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

struct libdeflate_decompressor;

namespace kinesyslog::gelf {

// How a GELF UDP payload is encoded, told by its first bytes (GELF 1.1 "GELF via UDP").
enum class GelfEncoding : uint8_t {
  kPlain,    // anything else: taken as the JSON text itself
  kZlib,     // RFC 1950: 0x78 (deflate, 32 KiB window) and a header whose FCHECK holds
  kGzip,     // RFC 1952 §2.3.1: ID1 0x1f, ID2 0x8b
  kChunked,  // GELF chunk: magic 0x1e 0x0f
};

[[nodiscard]] GelfEncoding detectEncoding(std::string_view payload) noexcept;

enum class [[nodiscard]] InflateOutcome : uint8_t{
    kDone,      // inflated: the message is in the inflater's buffer
    kCorrupt,   // not a valid zlib stream or gzip member (bad header, data, checksum, truncation)
    kTooLarge,  // would inflate past --max-message-size: stopped at the cap, dropped
};

// Inflates zlib and gzip GELF payloads with libdeflate into one buffer of exactly
// --max-message-size bytes, allocated on first use and kept. libdeflate stops the moment the
// output would pass the end of that buffer, so a decompression bomb costs at most that many
// bytes of memory and of work, then is refused. Bytes after the zlib stream, or after the last
// gzip member, are ignored, as zlib and gzip tools do; concatenated gzip members
// (RFC 1952 §2.2) are inflated one after another into the same capped buffer.
// Pure: no I/O, no clock. Not thread-safe; one per UDP receiver. Never throws on any input.
class GelfInflater {
 public:
  // Allocation failure of the libdeflate decompressor at start-up throws std::bad_alloc.
  explicit GelfInflater(size_t maxMessageSize);
  ~GelfInflater();
  GelfInflater(const GelfInflater&) = delete;
  GelfInflater& operator=(const GelfInflater&) = delete;

  // `encoding` is kZlib or kGzip (anything else is kCorrupt). On kDone, *message views the
  // inflated bytes, valid until the next call.
  [[nodiscard]] InflateOutcome inflate(GelfEncoding encoding, std::string_view compressed,
                                       std::string_view* message);

  // Bytes of the output buffer (0 until the first compressed message, then maxMessageSize).
  size_t bufferBytes() const { return buffer_ ? maxMessageSize_ : 0; }

 private:
  size_t maxMessageSize_;
  libdeflate_decompressor* decompressor_;
  std::unique_ptr<char[]> buffer_;
};

}  // namespace kinesyslog::gelf
