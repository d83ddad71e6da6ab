#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kinesyslog::gelf {

// GELF 1.1 "Chunking": a chunk is the magic 0x1e 0x0f, an 8-byte message id, a 1-byte sequence
// number (from 0) and a 1-byte sequence count, then a piece of the message. A message has at
// most 128 chunks, and all of them must arrive within 5 seconds or the server discards them.
inline constexpr size_t kChunkHeaderBytes = 12;
inline constexpr unsigned kMaxChunks = 128;
inline constexpr int64_t kChunkSetTimeoutMicros = 5'000'000;

// How much incomplete chunk sets may hold, per assembler. Bytes are charged as allocated: a
// set's payload buffer (reserved exactly, never past maxSetBytes), its piece list and a fixed
// bookkeeping overhead, so a flood of tiny first chunks is bounded by bytes as well as count.
struct GelfChunkLimits {
  size_t maxSetBytes;     // payload bytes of one set: the whole message as sent (compressed)
  size_t maxSenderBytes;  // charged bytes of one sender's incomplete sets
  size_t maxTotalBytes;   // charged bytes of all incomplete sets
  size_t maxSenderSets;   // incomplete sets of one sender
  size_t maxTotalSets;    // incomplete sets in all
  int64_t timeoutMicros = kChunkSetTimeoutMicros;

  // The relay's caps for --max-message-size M: a set holds at most M + 1 KiB (a message of M
  // bytes compressed with zlib or gzip is at most a few dozen bytes longer, even stored);
  // a sender 8 such sets, all senders 32 (about 520 KiB and 2 MiB for the default 64 KiB, 2 MiB
  // and 8 MiB at the 256 KiB maximum); at most 64 incomplete sets per sender and 1024 in all.
  static GelfChunkLimits forMaxMessageSize(size_t maxMessageSize);
};

enum class [[nodiscard]] ChunkOutcome : uint8_t{
    kNeedMore,   // stored; its set is not complete yet
    kComplete,   // its set is complete: the message (still compressed, perhaps) is handed out
    kDuplicate,  // its sequence number is already held: ignored
    kInvalid,    // refused: header under 12 bytes, count 0 or over 128, sequence number not
                 // below the count, or a count that differs from its set's (the set is kept)
    kOversize,   // its set would pass maxSetBytes: the set is dropped with all its chunks
};

struct ChunkCounters {
  uint64_t chunks = 0;     // chunks with a valid header (stored, completing or duplicate)
  uint64_t invalid = 0;    // kInvalid
  uint64_t duplicate = 0;  // kDuplicate
  uint64_t completed = 0;  // messages reassembled (a count of 1 included)
  uint64_t expired = 0;    // sets dropped at their deadline, 5 s after their first chunk
  uint64_t evicted = 0;    // sets dropped, oldest first, to stay within the caps
  uint64_t oversize = 0;   // sets dropped for passing maxSetBytes
};

// Reassembles chunked GELF messages from UDP datagrams. Sets are keyed by (sender, message id),
// so two senders can neither mix their chunks nor spoil each other's sets; chunks may come in
// any order; duplicates are ignored. Every set is dropped (and counted) when its deadline
// passes. When a new chunk would take a sender or the assembler past a cap, the oldest sets -
// the sender's own for a sender cap, anyone's for an overall cap - are evicted (and counted)
// until it fits; the set the chunk belongs to is never the one evicted for it. A sender that
// floods first chunks thus evicts only its own sets until the overall caps are reached.
//
// Pure and incremental: no I/O, no clock (time is passed in and must not decrease). Memory is
// bounded by the limits plus one completed message (at most maxSetBytes). Not thread-safe; one
// per UDP receiver. Never throws on any input (only std::bad_alloc).
class GelfChunkAssembler {
 public:
  explicit GelfChunkAssembler(const GelfChunkLimits& limits);
  ~GelfChunkAssembler();
  GelfChunkAssembler(const GelfChunkAssembler&) = delete;
  GelfChunkAssembler& operator=(const GelfChunkAssembler&) = delete;

  // `datagram` is one UDP payload that starts with the chunk magic; `sender` names who sent it
  // (the relay passes the source address). Sets past their deadline are expired first. On
  // kComplete, *message views the reassembled payload, valid until the next call.
  [[nodiscard]] ChunkOutcome add(std::string_view sender, std::string_view datagram,
                                 int64_t nowMicros, std::string_view* message);

  // Drops every set whose deadline is at or before `nowMicros`.
  void expire(int64_t nowMicros);
  // The earliest deadline of the sets held, if any: when expire() next has work.
  std::optional<int64_t> nextDeadline() const;

  size_t heldSets() const { return sets_.size(); }
  size_t heldBytes() const { return totalBytes_; }
  size_t senderCount() const { return senders_.size(); }
  size_t heldSetsFor(std::string_view sender) const;
  size_t heldBytesFor(std::string_view sender) const;
  const GelfChunkLimits& limits() const { return limits_; }
  const ChunkCounters& counters() const { return counters_; }

 private:
  struct Sender;
  struct ChunkSet;
  struct SetKey {
    const Sender* sender;
    uint64_t id;
    bool operator==(const SetKey&) const = default;
  };
  struct SetKeyHash {
    uint64_t seed;
    size_t operator()(const SetKey& key) const noexcept;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  Sender& senderFor(std::string_view sender);
  ChunkSet* createSet(Sender& sender, uint64_t id, uint8_t count, int64_t nowMicros);
  [[nodiscard]] bool makeRoom(Sender& sender, const ChunkSet* keep, size_t extraBytes,
                              size_t extraSets);
  size_t payloadCapacityAfter(const ChunkSet& set, size_t pieceBytes) const;
  static size_t piecesCapacityAfter(const ChunkSet& set);
  size_t chargeAfter(const ChunkSet& set, size_t pieceBytes) const;
  void store(ChunkSet& set, uint8_t sequence, std::string_view piece);
  std::string_view assemble(ChunkSet& set);
  void recharge(ChunkSet& set);
  void drop(ChunkSet* set);

  static const size_t kSetOverhead;

  GelfChunkLimits limits_;
  std::unordered_map<std::string, Sender, StringHash, std::equal_to<>> senders_;
  std::unordered_map<SetKey, std::unique_ptr<ChunkSet>, SetKeyHash> sets_;
  ChunkSet* oldest_ = nullptr;  // all sets in order of their first chunk (= of their deadline)
  ChunkSet* newest_ = nullptr;
  size_t totalBytes_ = 0;
  std::vector<char> completed_;  // the last reassembled message
  ChunkCounters counters_;
};

}  // namespace kinesyslog::gelf
