// Fuzz target for the GELF UDP input: the chunk assembler and zlib/gzip inflation, through the
// datagram decoder.
// Input layout: byte 0 chooses --max-message-size; then a sequence of operations, each an op
// byte (bits 0-1: sender, bits 2-3: kind, bits 4-7: arguments) and its operands:
//  - kind 0, a well-formed chunk: id (1 byte, 8 ids), sequence number, count; the piece is
//    derived from (sender, id, sequence number, count), so a completed set can be checked;
//  - kind 1, a raw datagram: length (2 bytes) and that many bytes, from senders of their own
//    (forged chunks cannot reach the well-formed senders' sets);
//  - kind 2, time: advances the clock by the next byte x 50 ms;
//  - kind 3, a compressed message: length (2 bytes) and bytes, repeated 1 to 64 times, zlib or
//    gzip, sent whole or cut into up to 128 chunks with a fresh id; it must come out exactly
//    when it fits (inflated within the maximum, compressed within a set's cap), else dropped.
// After every operation the assembler must be within each of its caps, no message may inflate
// past the maximum, and no deadline held may have passed; at the end, expiring everything must
// leave no set, byte or sender behind.
#include <libdeflate.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "proto/gelf/gelf_datagram.h"
#include "proto/gelf/gelf_test_datagrams.h"

namespace {

using kinesyslog::gelf::ChunkOutcome;
using kinesyslog::gelf::DatagramOutcome;
using kinesyslog::gelf::GelfChunkAssembler;
using kinesyslog::gelf::GelfDatagramDecoder;

constexpr size_t kMaxSizes[] = {64, 300, 1000, 4096, 65536};
constexpr const char* kSenders[] = {"192.0.2.1", "192.0.2.2", "2001:db8::1", "10.0.0.1"};
constexpr const char* kRawSenders[] = {"raw-a", "raw-b", "raw-c", "raw-d"};
constexpr uint64_t kWellFormedIdBase = 0x5afe000000000000ULL;

using Input = kinesyslog::fuzz::FuzzInput;

using kinesyslog::gelf::testing::chunk;

// The piece a well-formed chunk carries: it starts with 'p' when it is the first, so that the
// reassembled message is plain (neither zlib nor gzip magic).
std::string wellFormedPiece(unsigned sender, unsigned id, unsigned sequence, unsigned count) {
  std::string piece((sequence * 7 + id * 3 + sender + count) % 40,
                    static_cast<char>('a' + sequence % 26));
  if (sequence == 0) piece.insert(piece.begin(), 'p');
  return piece;
}

std::string wellFormedMessage(unsigned sender, unsigned id, unsigned count) {
  std::string m;
  for (unsigned s = 0; s < count; ++s) m += wellFormedPiece(sender, id, s, count);
  return m;
}

std::string compress(bool gzip, std::string_view data) {
  std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
      libdeflate_alloc_compressor(1), &libdeflate_free_compressor);
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

void checkCaps(const GelfChunkAssembler& a, int64_t now) {
  const auto& limits = a.limits();
  if (a.heldSets() > limits.maxTotalSets || a.heldBytes() > limits.maxTotalBytes) {
    __builtin_trap();
  }
  for (const char* s : kSenders) {
    if (a.heldSetsFor(s) > limits.maxSenderSets || a.heldBytesFor(s) > limits.maxSenderBytes) {
      __builtin_trap();
    }
  }
  for (const char* s : kRawSenders) {
    if (a.heldSetsFor(s) > limits.maxSenderSets || a.heldBytesFor(s) > limits.maxSenderBytes) {
      __builtin_trap();
    }
  }
  if (auto deadline = a.nextDeadline(); deadline && *deadline <= now) __builtin_trap();
  if ((a.heldSets() == 0) != (a.heldBytes() == 0)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Input in(data, size);
  const size_t maxSize = kMaxSizes[in.byte() % (sizeof kMaxSizes / sizeof kMaxSizes[0])];
  GelfDatagramDecoder decoder(maxSize);
  const auto& assembler = decoder.assembler();
  int64_t now = 1'000'000'000;
  uint64_t freshId = kWellFormedIdBase + 1000;

  while (!in.empty()) {
    const uint8_t op = in.byte();
    const unsigned sender = op & 3;
    const unsigned kind = (op >> 2) & 3;
    std::string_view message;
    switch (kind) {
      case 0: {
        const unsigned id = in.byte() % 8;
        const unsigned count = 1 + in.byte() % 128;
        const unsigned sequence = in.byte() % count;
        // Named, not a temporary: a message may be a view into its datagram.
        const std::string datagram = chunk(kWellFormedIdBase + id, sequence, count,
                                           wellFormedPiece(sender, id, sequence, count));
        const DatagramOutcome outcome = decoder.decode(kSenders[sender], datagram, now, &message);
        if (outcome == DatagramOutcome::kMessage &&
            message != wellFormedMessage(sender, id, count)) {
          __builtin_trap();  // chunks of another set, or out of order
        }
        break;
      }
      case 1: {
        const size_t n = in.byte() | (static_cast<size_t>(in.byte()) << 8);
        const std::string datagram(in.bytes(n));
        const DatagramOutcome outcome =
            decoder.decode(kRawSenders[sender], datagram, now, &message);
        // A plain datagram passes as it is; a reassembled set is at most a set's cap; an
        // inflated message at most the maximum (which is below a set's cap).
        if (outcome == DatagramOutcome::kMessage &&
            message.size() > std::max(datagram.size(), assembler.limits().maxSetBytes)) {
          __builtin_trap();
        }
        break;
      }
      case 2:
        now += static_cast<int64_t>(in.byte()) * 50'000;
        decoder.expire(now);
        break;
      case 3: {
        const size_t n = in.byte() | (static_cast<size_t>(in.byte() & 0x0f) << 8);
        const std::string_view seed = in.bytes(n);
        const unsigned repeat = 1 + (op >> 4) % 4 * 21;  // 1, 22, 43 or 64 copies
        std::string original;
        for (unsigned r = 0; r < repeat; ++r) original += seed;
        const bool gzip = (op & 0x40) != 0;
        const std::string compressed = compress(gzip, original);
        const unsigned pieces = in.byte() % 129;  // 0: one datagram, unchunked
        DatagramOutcome last = DatagramOutcome::kDropped;
        if (pieces == 0) {
          last = decoder.decode(kSenders[sender], compressed, now, &message);
        } else {
          const uint64_t id = freshId++;
          const bool reversed = (op & 0x80) != 0;
          for (unsigned k = 0; k < pieces; ++k) {
            const unsigned s = reversed ? pieces - 1 - k : k;
            const size_t from = compressed.size() * s / pieces;
            const size_t to = compressed.size() * (s + 1) / pieces;
            // A compressed message is handed out from the inflater's buffer, never from here.
            const std::string datagram =
                chunk(id, s, pieces, std::string_view(compressed).substr(from, to - from));
            last = decoder.decode(kSenders[sender], datagram, now, &message);
            checkCaps(assembler, now);
          }
        }
        const bool fits = original.size() <= maxSize &&
                          (pieces == 0 || compressed.size() <= assembler.limits().maxSetBytes);
        if (fits) {
          if (last != DatagramOutcome::kMessage || message != original) __builtin_trap();
        } else if (last == DatagramOutcome::kMessage) {
          __builtin_trap();
        }
        break;
      }
    }
    checkCaps(assembler, now);
  }

  decoder.expire(now + 5'000'000);
  if (assembler.heldSets() != 0 || assembler.heldBytes() != 0 || assembler.senderCount() != 0) {
    __builtin_trap();
  }
  const auto& c = assembler.counters();
  if (c.completed > c.chunks) __builtin_trap();
  return 0;
}
