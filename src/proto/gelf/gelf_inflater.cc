#include "proto/gelf/gelf_inflater.h"

#include <libdeflate.h>

#include <algorithm>
#include <new>

namespace kinesyslog::gelf {

GelfEncoding detectEncoding(std::string_view payload) noexcept {
  if (payload.size() < 2) return GelfEncoding::kPlain;
  const auto b0 = static_cast<unsigned char>(payload[0]);
  const auto b1 = static_cast<unsigned char>(payload[1]);
  if (b0 == 0x1e && b1 == 0x0f) return GelfEncoding::kChunked;
  if (b0 == 0x1f && b1 == 0x8b) return GelfEncoding::kGzip;
  // RFC 1950 §2.2: CMF 0x78 is CM 8 (deflate) with CINFO 7, and CMF * 256 + FLG is a multiple
  // of 31. The check keeps a plain message that happens to start with 'x' plain.
  if (b0 == 0x78 && ((b0 << 8) | b1) % 31 == 0) return GelfEncoding::kZlib;
  return GelfEncoding::kPlain;
}

GelfInflater::GelfInflater(size_t maxMessageSize)
    : maxMessageSize_(std::max<size_t>(maxMessageSize, 1)),
      decompressor_(libdeflate_alloc_decompressor()) {
  if (decompressor_ == nullptr) throw std::bad_alloc();
}

GelfInflater::~GelfInflater() {
  libdeflate_free_decompressor(decompressor_);
}

InflateOutcome GelfInflater::inflate(GelfEncoding encoding, std::string_view compressed,
                                     std::string_view* message) {
  if (encoding != GelfEncoding::kZlib && encoding != GelfEncoding::kGzip) {
    return InflateOutcome::kCorrupt;
  }
  if (!buffer_) buffer_.reset(new char[maxMessageSize_]);
  const char* in = compressed.data();
  size_t inLeft = compressed.size();
  size_t written = 0;
  for (;;) {
    size_t consumed = 0;
    size_t produced = 0;
    const libdeflate_result result =
        encoding == GelfEncoding::kZlib
            ? libdeflate_zlib_decompress_ex(decompressor_, in, inLeft, buffer_.get() + written,
                                            maxMessageSize_ - written, &consumed, &produced)
            : libdeflate_gzip_decompress_ex(decompressor_, in, inLeft, buffer_.get() + written,
                                            maxMessageSize_ - written, &consumed, &produced);
    if (result == LIBDEFLATE_INSUFFICIENT_SPACE) return InflateOutcome::kTooLarge;
    if (result != LIBDEFLATE_SUCCESS) return InflateOutcome::kCorrupt;
    written += produced;
    in += consumed;
    inLeft -= consumed;
    // Another gzip member follows only when its magic does.
    if (encoding != GelfEncoding::kGzip ||
        detectEncoding(std::string_view(in, inLeft)) != GelfEncoding::kGzip) {
      break;
    }
  }
  *message = std::string_view(buffer_.get(), written);
  return InflateOutcome::kDone;
}

}  // namespace kinesyslog::gelf
