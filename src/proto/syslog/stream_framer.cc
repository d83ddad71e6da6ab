#include "proto/syslog/stream_framer.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kinesyslog::syslog {
namespace {

// A buffer that held a large partial message gives its memory back once the message is out, so
// that thousands of idle connections stay small; ordinary split messages fit under this and
// reuse the buffer without allocating.
constexpr size_t kRetainedCapacity = 4096;

// The capacity a partial-message buffer grows to. The partial-message budget charges the bytes
// held; growth by a quarter (not doubling) keeps the memory within 25 % of them (or 256 bytes),
// while copying stays amortised linear (each byte is copied about 5 times at most).
constexpr size_t kMinGrowth = 256;
size_t grownCapacity(size_t capacity, size_t needed, size_t maximum) {
  return std::min(std::max({needed, capacity + capacity / 4, kMinGrowth}), maximum);
}

constexpr bool isTrailer(unsigned char c) {
  return c == '\n' || c == '\0' || c == '\r';
}
constexpr bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// Bit 7 of each byte of the result is set exactly where `v` has a zero byte. Unlike the
// shorter (v - 0x01..) & ~v & 0x80.. form, no borrow crosses bytes, so it is exact for any
// byte order.
constexpr uint64_t zeroBytes(uint64_t v) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  return ~(((v & kLow7) + kLow7) | v | kLow7);
}

// The first LF, NUL or CR in [p, end), or end. This is the hot loop of non-transparent framing,
// so it looks at 16 bytes (SSE2) or 8 bytes (SWAR) per step instead of one.
const char* findTrailer(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i nul = _mm_setzero_si128();
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)),
                                     _mm_cmpeq_epi8(v, nul));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return p + std::countr_zero(mask);
    p += 16;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    const uint64_t hit =
        zeroBytes(w) | zeroBytes(w ^ (kOnes * '\n')) | zeroBytes(w ^ (kOnes * '\r'));
    if (hit != 0) {
      if constexpr (std::endian::native == std::endian::little) {
        return p + std::countr_zero(hit) / 8;
      } else {
        return p + std::countl_zero(hit) / 8;
      }
    }
    p += 8;
  }
  while (p != end && !isTrailer(static_cast<unsigned char>(*p))) ++p;
  return p;
}

// Only called on 1..9 digits, so the value fits easily.
uint64_t parseLength(const char* digits, size_t n) {
  uint64_t value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + static_cast<uint64_t>(digits[i] - '0');
  return value;
}

}  // namespace

StreamFramer::StreamFramer(size_t maxMessageSize)
    : maxMessageSize_(std::max<size_t>(maxMessageSize, 1)) {}

void StreamFramer::feed(std::string_view bytes, FrameSink& sink) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  // Every step consumes at least one byte or changes state towards one that does.
  while (p != end) {
    switch (state_) {
      case State::kFrameStart:
        p = startFrame(p, end);
        break;
      case State::kLengthDigits:
        p = continueLength(p, end);
        break;
      case State::kOctetBody:
        p = readOctetBody(p, end, sink);
        break;
      case State::kOctetDiscard:
        p = discardOctets(p, end);
        break;
      case State::kLine:
        p = readLine(p, end, sink);
        break;
      case State::kLineDiscard:
        p = discardLine(p, end);
        break;
    }
  }
}

void StreamFramer::finish(FrameSink& sink) {
  switch (state_) {
    case State::kFrameStart:
      return;
    case State::kLengthDigits:
      // "123" and then the close: no space ever came, so the digits were text.
      appendLine(digits_, digitCount_);
      digitCount_ = 0;
      [[fallthrough]];
    case State::kLine:
      ++counters_.incomplete;
      // Invariant: a line that survives a feed() holds at least its first byte.
      if (!buffer_.empty()) {
        ++counters_.nonTransparent;
        emit(
            held(),
            truncated_ ? FrameFlags::kTruncated | FrameFlags::kIncomplete : FrameFlags::kIncomplete,
            sink);
      }
      break;
    case State::kOctetBody:
      // Fewer bytes than the count promised. The kept part has not reached the maximum (else the
      // message would be out already), so it is incomplete but not truncated. A count followed
      // by nothing at all has no message to deliver.
      ++counters_.incomplete;
      if (!buffer_.empty()) {
        ++counters_.octetCounted;
        emit(held(), FrameFlags::kIncomplete, sink);
      }
      break;
    case State::kOctetDiscard:
      // The truncated message was delivered when its maximum was reached (or when the budget cut
      // it); the frame is still short of its count.
    case State::kLineDiscard:
      // Likewise for a cut line whose trailer never came.
      ++counters_.incomplete;
      break;
  }
  endFrame();
}

void StreamFramer::cutPartial(FrameSink& sink) {
  switch (state_) {
    case State::kLine:
      // Invariant: a line that survives a feed() holds at least its first byte.
      if (!buffer_.empty()) {
        ++counters_.nonTransparent;
        ++counters_.budgetCuts;
        emit(held(), FrameFlags::kTruncated, sink);
        state_ = State::kLineDiscard;
      }
      break;
    case State::kOctetBody:
      // A count with no body byte yet holds no message: the frame goes on as it is.
      if (!buffer_.empty()) {
        ++counters_.octetCounted;
        ++counters_.budgetCuts;
        emit(held(), FrameFlags::kTruncated, sink);
        discardRemaining_ += keepRemaining_;
        keepRemaining_ = 0;
        state_ = State::kOctetDiscard;  // keepRemaining_ was not 0, so neither is this
      }
      break;
    case State::kFrameStart:
    case State::kLengthDigits:
    case State::kOctetDiscard:
    case State::kLineDiscard:
      break;  // no message held; at most a buffer kept for reuse, freed below
  }
  releaseBuffer();
}

const char* StreamFramer::startFrame(const char* p, const char* end) {
  const unsigned char c = static_cast<unsigned char>(*p);
  if (isTrailer(c)) {
    ++counters_.emptySkipped;
    return p + 1;
  }
  state_ = State::kLine;
  if (c < '1' || c > '9') return p;
  // RFC 6587 §3.4.1: a count is NONZERO-DIGIT 0*8DIGIT SP. Scan at most 9 digits.
  const char* q = p + 1;
  while (q != end && static_cast<size_t>(q - p) < kMaxLengthDigits &&
         isDigit(static_cast<unsigned char>(*q))) {
    ++q;
  }
  if (q == end) {
    // The stream stops inside the digits: wait for what follows them.
    digitCount_ = static_cast<size_t>(q - p);
    std::memcpy(digits_, p, digitCount_);
    state_ = State::kLengthDigits;
    return end;
  }
  if (*q == ' ') {
    startOctetFrame(parseLength(p, static_cast<size_t>(q - p)));
    return q + 1;
  }
  // A tenth digit or any other byte: the digits begin a non-transparent message ("12abc").
  return p;
}

const char* StreamFramer::continueLength(const char* p, const char* end) {
  for (; p != end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == ' ') {
      const uint64_t length = parseLength(digits_, digitCount_);
      digitCount_ = 0;
      startOctetFrame(length);
      return p + 1;
    }
    if (!isDigit(c) || digitCount_ == kMaxLengthDigits) {
      // Not a count after all: the held digits are the start of a line, and `c` is read as
      // part of that line.
      appendLine(digits_, digitCount_);
      digitCount_ = 0;
      state_ = State::kLine;
      return p;
    }
    digits_[digitCount_++] = static_cast<char>(c);
  }
  return p;
}

void StreamFramer::startOctetFrame(uint64_t length) {
  const uint64_t keep = std::min<uint64_t>(length, maxMessageSize_);
  keepRemaining_ = keep;
  discardRemaining_ = length - keep;
  truncated_ = length > keep;
  state_ = State::kOctetBody;
}

const char* StreamFramer::readOctetBody(const char* p, const char* end, FrameSink& sink) {
  const size_t available = static_cast<size_t>(end - p);
  std::string_view message;
  if (buffer_.empty() && available >= keepRemaining_) {
    // The whole kept part is here: hand out the caller's bytes.
    message = std::string_view(p, keepRemaining_);
    p += keepRemaining_;
  } else {
    const size_t n = std::min<uint64_t>(available, keepRemaining_);
    appendBounded(p, n);
    p += n;
    keepRemaining_ -= n;
    if (keepRemaining_ != 0) return p;
    message = held();
  }
  keepRemaining_ = 0;
  ++counters_.octetCounted;
  emit(message, truncated_ ? FrameFlags::kTruncated : FrameFlags::kNone, sink);
  if (discardRemaining_ != 0) {
    state_ = State::kOctetDiscard;
    releaseBuffer();  // nothing more to keep from this frame
  } else {
    endFrame();
  }
  return p;
}

const char* StreamFramer::discardOctets(const char* p, const char* end) {
  const size_t n = std::min<uint64_t>(static_cast<size_t>(end - p), discardRemaining_);
  discardRemaining_ -= n;
  counters_.discardedBytes += n;
  if (discardRemaining_ == 0) endFrame();
  return p + n;
}

const char* StreamFramer::discardLine(const char* p, const char* end) {
  const char* trailer = findTrailer(p, end);
  counters_.discardedBytes += static_cast<uint64_t>(trailer - p);
  if (trailer == end) return end;
  endFrame();
  return trailer + 1;  // the trailer ends the cut frame
}

const char* StreamFramer::readLine(const char* p, const char* end, FrameSink& sink) {
  const char* trailer = findTrailer(p, end);
  if (trailer == end) {
    appendLine(p, static_cast<size_t>(end - p));
    return end;
  }
  std::string_view message;
  if (buffer_.empty()) {
    // The line began in this call (the buffer holds at least one byte of any line begun
    // earlier), so it is handed out as a view. It is not empty: startFrame() skips trailers.
    size_t length = static_cast<size_t>(trailer - p);
    if (length > maxMessageSize_) {
      truncated_ = true;
      counters_.discardedBytes += length - maxMessageSize_;
      length = maxMessageSize_;
    }
    message = std::string_view(p, length);
  } else {
    appendLine(p, static_cast<size_t>(trailer - p));
    message = held();
  }
  ++counters_.nonTransparent;
  emit(message, truncated_ ? FrameFlags::kTruncated : FrameFlags::kNone, sink);
  endFrame();
  return trailer + 1;  // the trailer itself is framing, not message
}

void StreamFramer::appendLine(const char* p, size_t n) {
  const size_t room = maxMessageSize_ - buffer_.size();
  if (n > room) {
    truncated_ = true;
    counters_.discardedBytes += n - room;
    n = room;
  }
  appendBounded(p, n);
}

void StreamFramer::appendBounded(const char* p, size_t n) {
  if (n == 0) return;
  const size_t needed = buffer_.size() + n;
  if (needed > buffer_.capacity()) {
    // Never past the maximum a message may hold: the insert below then never reallocates, so
    // the capacity the budget charges stays within it.
    buffer_.reserve(grownCapacity(buffer_.capacity(), needed, maxMessageSize_));
  }
  buffer_.insert(buffer_.end(), p, p + n);
}

void StreamFramer::emit(std::string_view message, FrameFlags flags, FrameSink& sink) {
  if (hasFlag(flags, FrameFlags::kTruncated)) ++counters_.truncated;
  sink.onFrame(message, flags);
}

void StreamFramer::endFrame() {
  state_ = State::kFrameStart;
  truncated_ = false;
  keepRemaining_ = 0;
  discardRemaining_ = 0;
  digitCount_ = 0;
  if (buffer_.capacity() > kRetainedCapacity) {
    releaseBuffer();
  } else {
    buffer_.clear();
  }
}

void StreamFramer::releaseBuffer() {
  std::vector<char>().swap(buffer_);
}

}  // namespace kinesyslog::syslog
