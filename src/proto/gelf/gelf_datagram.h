#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proto/gelf/gelf_chunk_assembler.h"
#include "proto/gelf/gelf_inflater.h"

namespace kinesyslog::gelf {

enum class [[nodiscard]] DatagramOutcome : uint8_t{
    kMessage,  // a complete GELF message (plain, inflated, or reassembled and inflated)
    kPending,  // a chunk was stored, or was a duplicate: nothing to deliver yet
    kDropped,  // refused and counted: invalid chunk, oversize set, corrupt or too large to inflate
};

struct DatagramCounters {
  uint64_t decompressFailed = 0;  // zlib/gzip payloads that would not inflate
  uint64_t inflatedTooLarge = 0;  // payloads that inflate past --max-message-size
};

// The whole GELF UDP input for one socket (GELF 1.1 "GELF via UDP"): each datagram is a plain
// JSON message, a zlib or gzip compressed one, or a chunk; a chunk set, once complete, is
// itself plain, zlib or gzip. Plain messages are not checked here: the event builder refuses
// those over --max-message-size. Pure and incremental: no I/O, time passed in. Not
// thread-safe; one per UDP receiver.
class GelfDatagramDecoder {
 public:
  explicit GelfDatagramDecoder(size_t maxMessageSize);

  // `sender` keys chunk sets (the source address). On kMessage, *message views the message:
  // in `datagram`, in the assembler or in the inflater, valid until the next call.
  [[nodiscard]] DatagramOutcome decode(std::string_view sender, std::string_view datagram,
                                       int64_t nowMicros, std::string_view* message);

  void expire(int64_t nowMicros) { assembler_.expire(nowMicros); }
  std::optional<int64_t> nextDeadline() const { return assembler_.nextDeadline(); }

  const GelfChunkAssembler& assembler() const { return assembler_; }
  const GelfInflater& inflater() const { return inflater_; }
  const DatagramCounters& counters() const { return counters_; }

 private:
  GelfChunkAssembler assembler_;
  GelfInflater inflater_;
  DatagramCounters counters_;
};

}  // namespace kinesyslog::gelf
