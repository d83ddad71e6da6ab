#include "proto/gelf/gelf_stream_framer.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kinesyslog::gelf {
namespace {

// A buffer that held a large partial frame gives its memory back once the frame is out, so that
// thousands of idle connections stay small; ordinary split frames fit under this.
constexpr size_t kRetainedCapacity = 4096;

// The capacity a partial-message buffer grows to. The partial-message budget charges the bytes
// held; growth by a quarter (not doubling) keeps the memory within 25 % of them (or 256 bytes),
// while copying stays amortised linear (each byte is copied about 5 times at most).
constexpr size_t kMinGrowth = 256;
size_t grownCapacity(size_t capacity, size_t needed, size_t maximum) {
  return std::min(std::max({needed, capacity + capacity / 4, kMinGrowth}), maximum);
}

// The first NUL or LF in [p, end), or end: the framer's hot loop, 16 bytes a step with SSE2.
const char* findTerminator(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i nul = _mm_setzero_si128();
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, nul))));
    if (mask != 0) return p + std::countr_zero(mask);
    p += 16;
  }
#endif
  while (p != end && *p != '\n' && *p != '\0') ++p;
  return p;
}

}  // namespace

GelfStreamFramer::GelfStreamFramer(size_t maxMessageSize)
    : maxMessageSize_(std::max<size_t>(maxMessageSize, 1)) {}

void GelfStreamFramer::feed(std::string_view bytes, GelfFrameSink& sink) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    const char* terminator = findTerminator(p, end);
    const size_t n = static_cast<size_t>(terminator - p);
    if (discarding_) {
      counters_.discardedBytes += n;
      if (terminator == end) return;
      discarding_ = false;
      p = terminator + 1;
      continue;
    }
    const size_t frameBytes = buffer_.size() + n;
    if (frameBytes > maxMessageSize_) {
      // Dropped whole: what was held, and the rest of the frame up to its terminator.
      ++counters_.oversize;
      counters_.discardedBytes += frameBytes;
      releaseBuffer();
      if (terminator == end) {
        discarding_ = true;
        return;
      }
      p = terminator + 1;
      continue;
    }
    if (terminator == end) {
      append(p, n);
      return;
    }
    if (frameBytes == 0) {
      ++counters_.emptySkipped;
    } else if (buffer_.empty()) {
      ++counters_.frames;
      sink.onGelfFrame(std::string_view(p, n), false);
    } else {
      append(p, n);
      ++counters_.frames;
      sink.onGelfFrame(held(), false);
      releaseBuffer();
    }
    p = terminator + 1;  // the terminator is framing, not message
  }
}

void GelfStreamFramer::finish(GelfFrameSink& sink) {
  if (discarding_) {
    // The oversize or cut frame was counted when it was dropped; it also ended early.
    ++counters_.incomplete;
    discarding_ = false;
  } else if (!buffer_.empty()) {
    ++counters_.incomplete;
    ++counters_.frames;
    sink.onGelfFrame(held(), true);
  }
  releaseBuffer();
}

void GelfStreamFramer::cutPartial() {
  if (!buffer_.empty()) {
    ++counters_.budgetCuts;
    counters_.discardedBytes += buffer_.size();
    discarding_ = true;
  }
  // Without a frame held, at most a buffer kept for reuse: freed all the same.
  std::vector<char>().swap(buffer_);
}

void GelfStreamFramer::append(const char* p, size_t n) {
  if (n == 0) return;
  const size_t needed = buffer_.size() + n;  // <= maxMessageSize_, checked by the caller
  if (needed > buffer_.capacity()) {
    // The insert below then never reallocates: the capacity stays within the maximum.
    buffer_.reserve(grownCapacity(buffer_.capacity(), needed, maxMessageSize_));
  }
  buffer_.insert(buffer_.end(), p, p + n);
}

void GelfStreamFramer::releaseBuffer() {
  if (buffer_.capacity() > kRetainedCapacity) {
    std::vector<char>().swap(buffer_);
  } else {
    buffer_.clear();
  }
}

}  // namespace kinesyslog::gelf
