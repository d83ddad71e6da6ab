#include "proto/gelf/gelf_datagram.h"

namespace kinesyslog::gelf {

GelfDatagramDecoder::GelfDatagramDecoder(size_t maxMessageSize)
    : assembler_(GelfChunkLimits::forMaxMessageSize(maxMessageSize)), inflater_(maxMessageSize) {}

DatagramOutcome GelfDatagramDecoder::decode(std::string_view sender, std::string_view datagram,
                                            int64_t nowMicros, std::string_view* message) {
  std::string_view payload = datagram;
  GelfEncoding encoding = detectEncoding(payload);
  if (encoding == GelfEncoding::kChunked) {
    switch (assembler_.add(sender, datagram, nowMicros, &payload)) {
      case ChunkOutcome::kComplete:
        break;
      case ChunkOutcome::kNeedMore:
      case ChunkOutcome::kDuplicate:
        return DatagramOutcome::kPending;
      case ChunkOutcome::kInvalid:
      case ChunkOutcome::kOversize:
        return DatagramOutcome::kDropped;
    }
    // Chunks are not nested: a reassembled message that begins with the magic is plain bytes.
    encoding = detectEncoding(payload);
    if (encoding == GelfEncoding::kChunked) encoding = GelfEncoding::kPlain;
  } else {
    // A datagram that is no chunk still moves time on for the sets held.
    assembler_.expire(nowMicros);
  }
  if (encoding == GelfEncoding::kZlib || encoding == GelfEncoding::kGzip) {
    switch (inflater_.inflate(encoding, payload, &payload)) {
      case InflateOutcome::kDone:
        break;
      case InflateOutcome::kCorrupt:
        ++counters_.decompressFailed;
        return DatagramOutcome::kDropped;
      case InflateOutcome::kTooLarge:
        ++counters_.inflatedTooLarge;
        return DatagramOutcome::kDropped;
    }
  }
  *message = payload;
  return DatagramOutcome::kMessage;
}

}  // namespace kinesyslog::gelf
