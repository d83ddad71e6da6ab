#include "record/gzip.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace kinesyslog::record {
namespace {

// RFC 1952 §2.3: 10-byte header, at least an empty deflate block, 8-byte trailer.
constexpr size_t kMinMemberBytes = 18;
constexpr size_t kMinFirstGuess = size_t{64} << 10;

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

uint32_t readLittleEndian32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

GzipCompressor::GzipCompressor(int level) : compressor_(nullptr), level_(level) {
  if (level < kMinCompressionLevel || level > kMaxCompressionLevel) {
    throw std::invalid_argument("compression level must be 1..12");
  }
  compressor_ = libdeflate_alloc_compressor(level);
  if (compressor_ == nullptr) throw std::bad_alloc();
}

GzipCompressor::~GzipCompressor() {
  libdeflate_free_compressor(compressor_);
}

GzipCompressor::GzipCompressor(GzipCompressor&& other) noexcept
    : compressor_(std::exchange(other.compressor_, nullptr)), level_(other.level_) {}

GzipCompressor& GzipCompressor::operator=(GzipCompressor&& other) noexcept {
  if (this != &other) {
    libdeflate_free_compressor(compressor_);
    compressor_ = std::exchange(other.compressor_, nullptr);
    level_ = other.level_;
  }
  return *this;
}

size_t GzipCompressor::maxCompressedSize(size_t inBytes) const {
  return libdeflate_gzip_compress_bound(compressor_, inBytes);
}

size_t GzipCompressor::compress(std::string_view in, char* out, size_t capacity) {
  return libdeflate_gzip_compress(compressor_, in.data(), in.size(), out, capacity);
}

void GzipCompressor::compress(std::string_view in, std::string& out) {
  out.resize(maxCompressedSize(in.size()));
  const size_t size = compress(in, out.data(), out.size());
  out.resize(size);
}

std::optional<std::string> gunzip(std::string_view data, size_t maxOutput) {
  if (data.empty()) return std::nullopt;
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor(
      libdeflate_alloc_decompressor());
  if (!decompressor) throw std::bad_alloc();

  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::string out;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t inAvail = data.size() - pos;
    if (inAvail < kMinMemberBytes) return std::nullopt;
    const size_t budget = maxOutput - out.size();
    // libdeflate needs room for the whole member up front, and where a member ends is only
    // known once it is decoded. The last 4 bytes of the buffer are the ISIZE of its last member
    // (RFC 1952 §2.3.1), exact for the usual single-member record; otherwise grow and retry.
    size_t guess = std::max(inAvail * 4, kMinFirstGuess);
    const size_t tailSize = readLittleEndian32(bytes + data.size() - 4);
    if (tailSize / kMaxDeflateExpansion <= inAvail) guess = std::max(guess, tailSize);
    guess = std::min(guess, budget);
    const size_t base = out.size();
    while (true) {
      out.resize(base + guess);
      size_t inUsed = 0;
      size_t outUsed = 0;
      const libdeflate_result result = libdeflate_gzip_decompress_ex(
          decompressor.get(), bytes + pos, inAvail, out.data() + base, guess, &inUsed, &outUsed);
      if (result == LIBDEFLATE_SUCCESS) {
        out.resize(base + outUsed);
        pos += inUsed;
        break;
      }
      if (result != LIBDEFLATE_INSUFFICIENT_SPACE || guess == budget) return std::nullopt;
      guess = guess > budget / 2 ? budget : guess * 2;
    }
  }
  return out;
}

bool isValidGzipMember(std::string_view data, size_t maxOutput) {
  return gunzip(data, maxOutput).has_value();
}

GzipMemberValidator::GzipMemberValidator() : decompressor_(libdeflate_alloc_decompressor()) {
  if (decompressor_ == nullptr) throw std::bad_alloc();
}

GzipMemberValidator::~GzipMemberValidator() {
  libdeflate_free_decompressor(decompressor_);
}

std::string_view GzipMemberValidator::problem(std::string_view data) {
  if (data.empty()) return "empty file";
  if (data.size() < kMinMemberBytes) return "shorter than a gzip header and trailer";
  const uint64_t isize =
      readLittleEndian32(reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4));
  // A damaged trailer must not make us allocate gigabytes.
  if (isize > data.size() * kMaxDeflateExpansion) return "gzip trailer size is impossible";
  auto out = std::make_unique_for_overwrite<unsigned char[]>(std::max<uint64_t>(isize, 1));
  size_t inBytes = 0;
  size_t outBytes = 0;
  const libdeflate_result result = libdeflate_gzip_decompress_ex(
      decompressor_, data.data(), data.size(), out.get(), isize, &inBytes, &outBytes);
  switch (result) {
    case LIBDEFLATE_SUCCESS:
      break;
    case LIBDEFLATE_INSUFFICIENT_SPACE:
      return "gzip data longer than its trailer says (truncated or not one member)";
    default:
      return "gzip data invalid (bad header, data, CRC or length)";
  }
  if (inBytes != data.size()) return "bytes after the gzip member";
  return {};
}

}  // namespace kinesyslog::record
