// Structure-aware fuzz target for the GELF chunk assembler (src/proto/gelf/gelf_chunk_assembler.h).
// Random datagrams rarely form a chunk set; here three consistent sets are built from the input
// and their chunks delivered in an order the input chooses, with duplicates, gaps, forged
// chunks and time passing. A model of GELF 1.1 "Chunking" runs beside the assembler and every
// outcome must be the model's:
//  - a set whose every sequence number arrived within 5 s of its first chunk comes out once,
//    as exactly the payload it was cut from (set A: (sender 1, id X), B: (sender 1, id Y),
//    C: (sender 2, id X): ids are per sender, so A and C never mix);
//  - an incomplete set never yields a message; a duplicate is reported as one; a set past its
//    deadline is dropped and a later chunk starts a new set;
//  - a chunk whose count differs from its set's, or whose sequence number is not below its
//    count, is refused and changes nothing; a set that would pass maxSetBytes is dropped.
// Input: byte 0 chooses maxSetBytes; bytes 1-3 the three counts (1..128); 2 bytes the payload
// length, then the payload (A's; B and C carry transformations of it); then operations: an op
// byte (bits 0-1: set A, B, C or special; bits 2-7 and the next byte: the sequence number or the
// special's argument).
#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/gelf/gelf_chunk_assembler.h"
#include "proto/gelf/gelf_test_datagrams.h"

namespace {

using kinesyslog::gelf::ChunkOutcome;
using kinesyslog::gelf::GelfChunkAssembler;
using kinesyslog::gelf::GelfChunkLimits;
using kinesyslog::gelf::kChunkSetTimeoutMicros;
using kinesyslog::gelf::testing::chunk;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  std::string_view bytes(size_t n) {
    n = std::min<size_t>(n, static_cast<size_t>(end_ - p_));
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// One set as sent, and the model of what the assembler holds of it.
struct SetModel {
  std::string sender;
  uint64_t id = 0;
  unsigned count = 1;
  std::vector<std::string> pieces;  // pieces[s] is the piece of sequence number s
  std::string payload;              // the pieces joined

  // Held state: none, or a set with `heldCount` chunks expected (a forged first chunk may have
  // opened it with another count), the sequence numbers held, their bytes and the deadline.
  bool held = false;
  unsigned heldCount = 0;
  std::bitset<128> have;
  size_t heldBytes = 0;
  int64_t deadline = 0;
  bool forged = false;  // opened by a forged chunk: never completes with the payload
  uint64_t completed = 0;
  uint64_t forgedCompleted = 0;
};

void cut(SetModel& set, std::string_view payload, unsigned seed) {
  set.payload = std::string(payload);
  set.pieces.assign(set.count, std::string());
  // Uneven pieces, some empty: cut points from the seed, sorted.
  std::vector<size_t> points;
  for (unsigned s = 1; s < set.count; ++s) {
    points.push_back(payload.empty() ? 0 : (s * 2654435761u ^ seed) % (payload.size() + 1));
  }
  std::sort(points.begin(), points.end());
  size_t from = 0;
  for (unsigned s = 0; s < set.count; ++s) {
    const size_t to = s + 1 < set.count ? points[s] : payload.size();
    set.pieces[s] = std::string(payload.substr(from, to - from));
    from = to;
  }
}

class Harness {
 public:
  explicit Harness(const GelfChunkLimits& limits) : assembler_(limits), limits_(limits) {}

  void expireModel() {
    for (SetModel& set : sets) {
      if (set.held && set.deadline <= now) dropModel(set);
    }
  }

  static void dropModel(SetModel& set) {
    set.held = false;
    set.forged = false;
    set.have.reset();
    set.heldBytes = 0;
  }

  // Delivers a chunk of `set` with the given header and piece; checks the outcome against the
  // model. `genuine`: the header is the set's own and the piece the one for that sequence number.
  void deliver(SetModel& set, unsigned sequence, unsigned count, const std::string& piece,
               bool genuine) {
    expireModel();
    const std::string datagram = chunk(set.id, sequence, count, piece);
    std::string_view message;
    const ChunkOutcome outcome = assembler_.add(set.sender, datagram, now, &message);

    ChunkOutcome expected;
    if (count == 0 || count > 128 || sequence >= count) {
      expected = ChunkOutcome::kInvalid;
    } else if (set.held && set.heldCount != count) {
      expected = ChunkOutcome::kInvalid;
    } else if (!set.held) {
      if (piece.size() > limits_.maxSetBytes) {
        expected = ChunkOutcome::kOversize;
      } else if (count == 1) {
        expected = ChunkOutcome::kComplete;
      } else {
        expected = ChunkOutcome::kNeedMore;
        set.held = true;
        set.heldCount = count;
        set.forged = !genuine;
        set.have.set(sequence);
        set.heldBytes = piece.size();
        set.deadline = now + limits_.timeoutMicros;
      }
    } else if (set.have.test(sequence)) {
      expected = ChunkOutcome::kDuplicate;
    } else if (set.heldBytes + piece.size() > limits_.maxSetBytes) {
      expected = ChunkOutcome::kOversize;
      dropModel(set);
    } else {
      set.have.set(sequence);
      set.heldBytes += piece.size();
      set.forged |= !genuine;
      expected =
          set.have.count() == set.heldCount ? ChunkOutcome::kComplete : ChunkOutcome::kNeedMore;
    }
    if (outcome != expected) __builtin_trap();
    if (outcome == ChunkOutcome::kComplete) {
      // A set opened by a forged chunk only takes forged chunks (their count is its count):
      // it is the forged pieces joined. A genuine set is the payload exactly.
      if (set.forged) {
        std::string forged;
        for (unsigned s = 0; s < set.heldCount; ++s) forged += piece;
        if (genuine || message != forged) __builtin_trap();
        ++set.forgedCompleted;
      } else {
        if (!genuine || message != set.payload) __builtin_trap();
        ++set.completed;
      }
      dropModel(set);
    }
    if (assembler_.heldSets() != heldSets()) __builtin_trap();
  }

  size_t heldSets() const {
    size_t n = 0;
    for (const SetModel& set : sets) n += set.held;
    return n;
  }

  void advance(int64_t micros) {
    now += micros;
    if ((micros & 1) != 0) {
      assembler_.expire(now);
      expireModel();
      if (assembler_.heldSets() != heldSets()) __builtin_trap();
    }
  }

  const GelfChunkAssembler& assembler() const { return assembler_; }

  SetModel sets[3];
  int64_t now = 1'000'000'000;

 private:
  GelfChunkAssembler assembler_;
  GelfChunkLimits limits_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  Input in(data, size);
  const unsigned capChoice = in.byte();
  unsigned counts[3];
  for (unsigned& c : counts) c = 1 + in.byte() % 128;
  const size_t length = (in.byte() | in.byte() << 8) % 8192;
  const std::string_view payload = in.bytes(length);

  GelfChunkLimits limits = GelfChunkLimits::forMaxMessageSize(65536);
  // Exactly the payload, one byte short of it, or the relay's cap.
  if (capChoice % 3 == 0) limits.maxSetBytes = std::max<size_t>(payload.size(), 1);
  if (capChoice % 3 == 1) limits.maxSetBytes = std::max<size_t>(payload.size(), 2) - 1;
  Harness h(limits);

  h.sets[0].sender = "192.0.2.1";
  h.sets[0].id = 0x0102030405060708ULL;
  h.sets[1].sender = "192.0.2.1";
  h.sets[1].id = 0x1122334455667788ULL;
  h.sets[2].sender = "2001:db8::2";
  h.sets[2].id = h.sets[0].id;
  std::string reversed(payload.rbegin(), payload.rend());
  const std::string payloads[3] = {std::string(payload), reversed + "B",
                                   "C" + std::string(payload)};
  for (unsigned i = 0; i < 3; ++i) {
    h.sets[i].count = counts[i];
    cut(h.sets[i], payloads[i], capChoice * 31 + i);
  }

  while (!in.empty()) {
    const unsigned op = in.byte();
    const unsigned which = op & 3;
    const unsigned arg = (op >> 2) | in.byte() << 6;
    if (which < 3) {
      SetModel& set = h.sets[which];
      const unsigned sequence = arg % set.count;
      h.deliver(set, sequence, set.count, set.pieces[sequence], true);
      continue;
    }
    switch (arg & 3) {
      case 0:  // time passes: up to 6.3 s, sometimes past a set's deadline
        h.advance(static_cast<int64_t>((arg >> 2) % 64) * 100'000 + (arg & 4 ? 1 : 0));
        break;
      case 1: {  // a forged chunk of A's id with another count
        SetModel& set = h.sets[0];
        const unsigned count = set.count < 128 ? set.count + 1 : 127;
        h.deliver(set, (arg >> 2) % count, count, "forged", false);
        break;
      }
      case 2: {  // a sequence number at or past the count
        SetModel& set = h.sets[(arg >> 2) % 3];
        h.deliver(set, set.count + (arg >> 4) % 4, set.count, "x", false);
        break;
      }
      case 3: {  // the whole of set B in the order the next byte's seed gives, once each
        SetModel& set = h.sets[1];
        const unsigned seed = in.byte();
        for (unsigned k = 0; k < set.count; ++k) {
          const unsigned s = (k * (2 * seed + 1) + seed) % set.count;
          h.deliver(set, s, set.count, set.pieces[s], true);
        }
        break;
      }
    }
  }

  // A whole set sent now, in order and once each, after the deadlines of what is held, always
  // comes out exactly.
  h.advance(kChunkSetTimeoutMicros + 1);
  for (SetModel& set : h.sets) {
    const uint64_t before = set.completed;
    bool fits = set.payload.size() <= limits.maxSetBytes;
    for (unsigned s = 0; s < set.count; ++s) h.deliver(set, s, set.count, set.pieces[s], true);
    if (fits && set.completed != before + 1) __builtin_trap();
    if (!fits && set.completed != before) __builtin_trap();
  }
  const auto& counters = h.assembler().counters();
  if (counters.completed !=
      h.sets[0].completed + h.sets[1].completed + h.sets[2].completed + h.sets[0].forgedCompleted) {
    __builtin_trap();
  }
  return 0;
}
