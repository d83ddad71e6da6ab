#include "proto/gelf/gelf_chunk_assembler.h"

#include <algorithm>
#include <bitset>
#include <cstring>
#include <random>

#include "metrics/internal_error.h"

namespace kinesyslog::gelf {

namespace {

// zlib's and gzip's framing plus stored-block headers of a message up to 256 KiB come to a few
// dozen bytes; a set may hold this much more than the largest message.
constexpr size_t kCompressionSlack = 1024;
constexpr size_t kSetsPerSender = 8;
constexpr size_t kSetsInAll = 32;
constexpr size_t kMaxSenderSets = 64;
constexpr size_t kMaxTotalSets = 1024;

// The hash-map node, bucket and key a set costs beyond its own struct.
constexpr size_t kIndexOverhead = 64;

// The GELF spec calls the id opaque bytes; an attacker chooses them. A per-process random seed
// keeps crafted ids from piling into one bucket (the caps bound the damage in any case).
uint64_t randomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

uint64_t mix(uint64_t x) {
  // splitmix64's finaliser.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

struct GelfChunkAssembler::Sender {
  size_t bytes = 0;
  size_t sets = 0;
  ChunkSet* oldest = nullptr;  // this sender's sets in order of their first chunk
  ChunkSet* newest = nullptr;
  std::string_view name;  // the key of this sender's map entry
};

struct GelfChunkAssembler::ChunkSet {
  struct Piece {
    uint32_t offset;
    uint32_t length;
    uint8_t sequence;
  };

  Sender* sender = nullptr;
  uint64_t id = 0;
  int64_t deadline = 0;
  uint8_t count = 0;
  uint8_t received = 0;
  uint8_t nextInOrder = 0;  // while pieces arrive as 0, 1, 2, ...: the sequence number expected
  bool inOrder = true;      // the payload is already the message
  std::bitset<kMaxChunks> have;
  std::vector<char> payload;  // pieces in arrival order
  std::vector<Piece> pieces;
  size_t charged = 0;  // bytes charged to the sender and the total
  ChunkSet* older = nullptr;
  ChunkSet* newer = nullptr;
  ChunkSet* olderOfSender = nullptr;
  ChunkSet* newerOfSender = nullptr;
};

// What a set costs beyond its payload and piece list.
const size_t GelfChunkAssembler::kSetOverhead = sizeof(ChunkSet) + kIndexOverhead;

GelfChunkLimits GelfChunkLimits::forMaxMessageSize(size_t maxMessageSize) {
  GelfChunkLimits limits{};
  limits.maxSetBytes = std::max<size_t>(maxMessageSize, 1) + kCompressionSlack;
  limits.maxSenderBytes = kSetsPerSender * limits.maxSetBytes;
  limits.maxTotalBytes = kSetsInAll * limits.maxSetBytes;
  limits.maxSenderSets = kMaxSenderSets;
  limits.maxTotalSets = kMaxTotalSets;
  limits.timeoutMicros = kChunkSetTimeoutMicros;
  return limits;
}

size_t GelfChunkAssembler::SetKeyHash::operator()(const SetKey& key) const noexcept {
  return static_cast<size_t>(mix(key.id ^ seed) ^ mix(reinterpret_cast<uintptr_t>(key.sender)));
}

GelfChunkAssembler::GelfChunkAssembler(const GelfChunkLimits& limits)
    : limits_(limits), sets_(16, SetKeyHash{randomSeed()}) {
  // Room for at least one full set of one sender, so that the set a chunk belongs to never has
  // to be evicted for it.
  const size_t oneSet = kSetOverhead + limits_.maxSetBytes + kMaxChunks * sizeof(ChunkSet::Piece);
  limits_.maxSenderBytes = std::max(limits_.maxSenderBytes, oneSet);
  limits_.maxTotalBytes = std::max(limits_.maxTotalBytes, limits_.maxSenderBytes);
  limits_.maxSenderSets = std::max<size_t>(limits_.maxSenderSets, 1);
  limits_.maxTotalSets = std::max(limits_.maxTotalSets, limits_.maxSenderSets);
}

GelfChunkAssembler::~GelfChunkAssembler() = default;

size_t GelfChunkAssembler::heldSetsFor(std::string_view sender) const {
  auto it = senders_.find(sender);
  return it == senders_.end() ? 0 : it->second.sets;
}

size_t GelfChunkAssembler::heldBytesFor(std::string_view sender) const {
  auto it = senders_.find(sender);
  return it == senders_.end() ? 0 : it->second.bytes;
}

std::optional<int64_t> GelfChunkAssembler::nextDeadline() const {
  if (oldest_ == nullptr) return std::nullopt;
  return oldest_->deadline;
}

void GelfChunkAssembler::expire(int64_t nowMicros) {
  while (oldest_ != nullptr && oldest_->deadline <= nowMicros) {
    ++counters_.expired;
    drop(oldest_);
  }
}

ChunkOutcome GelfChunkAssembler::add(std::string_view sender, std::string_view datagram,
                                     int64_t nowMicros, std::string_view* message) {
  expire(nowMicros);
  if (datagram.size() < kChunkHeaderBytes || datagram[0] != '\x1e' || datagram[1] != '\x0f') {
    ++counters_.invalid;
    return ChunkOutcome::kInvalid;
  }
  uint64_t id;
  std::memcpy(&id, datagram.data() + 2, sizeof id);  // opaque bytes; byte order is irrelevant
  const auto sequence = static_cast<uint8_t>(datagram[10]);
  const auto count = static_cast<uint8_t>(datagram[11]);
  if (count == 0 || count > kMaxChunks || sequence >= count) {
    ++counters_.invalid;
    return ChunkOutcome::kInvalid;
  }
  const std::string_view piece = datagram.substr(kChunkHeaderBytes);

  ChunkSet* set = nullptr;
  auto senderIt = senders_.find(sender);
  if (senderIt != senders_.end()) {
    auto it = sets_.find(SetKey{&senderIt->second, id});
    if (it != sets_.end()) set = it->second.get();
  }
  if (set != nullptr && set->count != count) {
    ++counters_.invalid;
    return ChunkOutcome::kInvalid;
  }
  ++counters_.chunks;
  if (set == nullptr) {
    if (piece.size() > limits_.maxSetBytes) {
      ++counters_.oversize;
      return ChunkOutcome::kOversize;
    }
    if (count == 1) {
      // A message in one chunk needs no state: hand the piece out where it lies.
      ++counters_.completed;
      *message = piece;
      return ChunkOutcome::kComplete;
    }
    Sender& owner = senderFor(sender);
    const size_t charge = kSetOverhead + piece.size() + sizeof(ChunkSet::Piece);
    if (!makeRoom(owner, nullptr, charge, 1)) {
      // Unreachable by the constructor's limits; refused rather than held past a cap.
      if (owner.sets == 0) senders_.erase(senders_.find(owner.name));
      ++counters_.oversize;
      return ChunkOutcome::kOversize;
    }
    set = createSet(owner, id, count, nowMicros);
  } else {
    if (set->have.test(sequence)) {
      ++counters_.duplicate;
      return ChunkOutcome::kDuplicate;
    }
    if (set->payload.size() + piece.size() > limits_.maxSetBytes) {
      ++counters_.oversize;
      drop(set);
      return ChunkOutcome::kOversize;
    }
    if (!makeRoom(*set->sender, set, chargeAfter(*set, piece.size()) - set->charged, 0)) {
      // Unreachable by the constructor's limits; dropped rather than held past a cap.
      ++counters_.oversize;
      drop(set);
      return ChunkOutcome::kOversize;
    }
  }
  store(*set, sequence, piece);
  if (set->received < set->count) return ChunkOutcome::kNeedMore;
  ++counters_.completed;
  *message = assemble(*set);
  drop(set);
  return ChunkOutcome::kComplete;
}

GelfChunkAssembler::Sender& GelfChunkAssembler::senderFor(std::string_view sender) {
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    it = senders_.emplace(std::string(sender), Sender{}).first;
    it->second.name = it->first;
  }
  return it->second;
}

GelfChunkAssembler::ChunkSet* GelfChunkAssembler::createSet(Sender& sender, uint64_t id,
                                                            uint8_t count, int64_t nowMicros) {
  auto owned = std::make_unique<ChunkSet>();
  ChunkSet* set = owned.get();
  set->sender = &sender;
  set->id = id;
  set->count = count;
  set->deadline = nowMicros + limits_.timeoutMicros;
  sets_.emplace(SetKey{&sender, id}, std::move(owned));
  // Newest at the tail of both lists: times never decrease, so the heads hold the earliest
  // deadlines.
  set->older = newest_;
  if (newest_ != nullptr) newest_->newer = set;
  newest_ = set;
  if (oldest_ == nullptr) oldest_ = set;
  set->olderOfSender = sender.newest;
  if (sender.newest != nullptr) sender.newest->newerOfSender = set;
  sender.newest = set;
  if (sender.oldest == nullptr) sender.oldest = set;
  ++sender.sets;
  recharge(*set);
  return set;
}

bool GelfChunkAssembler::makeRoom(Sender& sender, const ChunkSet* keep, size_t extraBytes,
                                  size_t extraSets) {
  // The sender's own oldest sets first, then anyone's. `keep` (the set being added to) is the
  // one set never evicted here; the constructor's limits guarantee that it fits on its own.
  auto evictOldest = [&](ChunkSet* from, bool ofSender) {
    ChunkSet* victim = from;
    if (victim == keep) victim = ofSender ? victim->newerOfSender : victim->newer;
    if (victim == nullptr) return false;
    ++counters_.evicted;
    drop(victim);
    return true;
  };
  while (sender.sets + extraSets > limits_.maxSenderSets ||
         sender.bytes + extraBytes > limits_.maxSenderBytes) {
    if (!evictOldest(sender.oldest, true)) break;
  }
  while (sets_.size() + extraSets > limits_.maxTotalSets ||
         totalBytes_ + extraBytes > limits_.maxTotalBytes) {
    if (!evictOldest(oldest_, false)) break;
  }
  // Invariant: with `keep` alone left, everything fits (see the constructor).
  const bool fits = sender.sets + extraSets <= limits_.maxSenderSets &&
                    sender.bytes + extraBytes <= limits_.maxSenderBytes &&
                    sets_.size() + extraSets <= limits_.maxTotalSets &&
                    totalBytes_ + extraBytes <= limits_.maxTotalBytes;
  return !KINESYSLOG_BUG_IF(!fits, "GELF chunk set does not fit its caps alone");
}

size_t GelfChunkAssembler::payloadCapacityAfter(const ChunkSet& set, size_t pieceBytes) const {
  // vector::reserve allocates exactly what it is asked for: grow geometrically, but never past
  // the set's cap, so that what is charged is what is allocated.
  const size_t needed = set.payload.size() + pieceBytes;
  const size_t capacity = set.payload.capacity();
  if (needed <= capacity) return capacity;
  return std::min(std::max(needed, 2 * capacity), limits_.maxSetBytes);
}

size_t GelfChunkAssembler::piecesCapacityAfter(const ChunkSet& set) {
  const size_t needed = set.pieces.size() + 1;
  const size_t capacity = set.pieces.capacity();
  if (needed <= capacity) return capacity;
  return std::min<size_t>(std::max(needed, 2 * capacity), set.count);
}

size_t GelfChunkAssembler::chargeAfter(const ChunkSet& set, size_t pieceBytes) const {
  return kSetOverhead + payloadCapacityAfter(set, pieceBytes) +
         piecesCapacityAfter(set) * sizeof(ChunkSet::Piece);
}

void GelfChunkAssembler::store(ChunkSet& set, uint8_t sequence, std::string_view piece) {
  set.payload.reserve(payloadCapacityAfter(set, piece.size()));
  set.pieces.reserve(piecesCapacityAfter(set));
  set.pieces.push_back(ChunkSet::Piece{static_cast<uint32_t>(set.payload.size()),
                                       static_cast<uint32_t>(piece.size()), sequence});
  set.payload.insert(set.payload.end(), piece.begin(), piece.end());
  set.have.set(sequence);
  ++set.received;
  if (set.inOrder && sequence == set.nextInOrder) {
    ++set.nextInOrder;
  } else {
    set.inOrder = false;
  }
  recharge(set);
}

std::string_view GelfChunkAssembler::assemble(ChunkSet& set) {
  if (set.inOrder) {
    // Arrived as 0, 1, 2, ...: the payload already is the message.
    completed_.swap(set.payload);
  } else {
    std::sort(
        set.pieces.begin(), set.pieces.end(),
        [](const ChunkSet::Piece& a, const ChunkSet::Piece& b) { return a.sequence < b.sequence; });
    completed_.clear();
    completed_.reserve(set.payload.size());
    for (const ChunkSet::Piece& p : set.pieces) {
      const char* from = set.payload.data() + p.offset;
      completed_.insert(completed_.end(), from, from + p.length);
    }
  }
  return std::string_view(completed_.data(), completed_.size());
}

void GelfChunkAssembler::recharge(ChunkSet& set) {
  const size_t now =
      kSetOverhead + set.payload.capacity() + set.pieces.capacity() * sizeof(ChunkSet::Piece);
  set.sender->bytes += now - set.charged;
  totalBytes_ += now - set.charged;
  set.charged = now;
}

void GelfChunkAssembler::drop(ChunkSet* set) {
  Sender& sender = *set->sender;
  (set->older ? set->older->newer : oldest_) = set->newer;
  (set->newer ? set->newer->older : newest_) = set->older;
  (set->olderOfSender ? set->olderOfSender->newerOfSender : sender.oldest) = set->newerOfSender;
  (set->newerOfSender ? set->newerOfSender->olderOfSender : sender.newest) = set->olderOfSender;
  sender.bytes -= set->charged;
  totalBytes_ -= set->charged;
  --sender.sets;
  sets_.erase(SetKey{&sender, set->id});  // destroys *set
  if (sender.sets == 0) senders_.erase(senders_.find(sender.name));
}

}  // namespace kinesyslog::gelf
