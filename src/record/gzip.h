#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct libdeflate_compressor;
struct libdeflate_decompressor;

namespace kinesyslog::record {

inline constexpr int kMinCompressionLevel = 1;
inline constexpr int kMaxCompressionLevel = 12;

// Writes gzip members (RFC 1952) with libdeflate, which compresses a whole buffer in one call.
// Owns one libdeflate compressor (a few hundred KiB at high levels), so it is not copyable; use
// one per thread.
class GzipCompressor {
 public:
  // Throws std::invalid_argument for a level outside 1..12 (a start-up configuration error)
  // and std::bad_alloc when libdeflate cannot allocate.
  explicit GzipCompressor(int level);
  ~GzipCompressor();
  GzipCompressor(GzipCompressor&& other) noexcept;
  GzipCompressor& operator=(GzipCompressor&& other) noexcept;
  GzipCompressor(const GzipCompressor&) = delete;
  GzipCompressor& operator=(const GzipCompressor&) = delete;

  int level() const { return level_; }

  // Worst-case size of one gzip member holding `inBytes` bytes.
  size_t maxCompressedSize(size_t inBytes) const;

  // Compresses `in` as one gzip member into [out, out + capacity); returns its size, or 0 when
  // it does not fit (never with capacity >= maxCompressedSize(in.size())).
  size_t compress(std::string_view in, char* out, size_t capacity);

  // Replaces `out` with one gzip member holding `in`.
  void compress(std::string_view in, std::string& out);

 private:
  libdeflate_compressor* compressor_;
  int level_;
};

// DEFLATE cannot expand data by more than about 1032:1 (258-byte matches coded in 2 bits,
// RFC 1951 §3.2.5): a gzip trailer's ISIZE claiming more than that times the member's size is not
// believed.
inline constexpr uint64_t kMaxDeflateExpansion = 1032;

// Default output bound for isValidGzipMember: far above any record the encoder writes
// (RecordEncoder caps a record's JSON at kMaxRecordJsonBytes).
inline constexpr size_t kDefaultMaxGunzipBytes = size_t{256} << 20;

// Decompresses a buffer of one or more concatenated gzip members (RFC 1952 §2.2; Firehose
// concatenates records this way). Each member's CRC-32 and ISIZE are checked. Returns nullopt
// for an empty buffer, a corrupt or truncated member, trailing bytes that are not a member, or
// output that would exceed `maxOutput` bytes. Untrusted input never throws (only std::bad_alloc
// can escape when memory runs out).
[[nodiscard]] std::optional<std::string> gunzip(std::string_view data, size_t maxOutput);

// True when `data` is one or more complete, intact gzip members and nothing else, decompressing
// to at most `maxOutput` bytes. What spool recovery checks before trusting a file.
[[nodiscard]] bool isValidGzipMember(std::string_view data,
                                     size_t maxOutput = kDefaultMaxGunzipBytes);

// The spool's check of a finished file (docs/design.md "Spool and delivery"): exactly one gzip
// member that decompresses completely with the CRC-32 and ISIZE of its trailer (RFC 1952
// §2.3.1), and nothing after it. Keeps one decompressor for a run of checks. One thread only.
class GzipMemberValidator {
 public:
  GzipMemberValidator();
  ~GzipMemberValidator();
  GzipMemberValidator(const GzipMemberValidator&) = delete;
  GzipMemberValidator& operator=(const GzipMemberValidator&) = delete;

  // Empty when `data` is one intact member; otherwise why it is not, for the log.
  [[nodiscard]] std::string_view problem(std::string_view data);

 private:
  libdeflate_decompressor* decompressor_;
};

}  // namespace kinesyslog::record
