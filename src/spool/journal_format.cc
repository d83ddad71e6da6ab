#include "spool/journal_format.h"

#include <libdeflate.h>

#include <bit>
#include <cstring>
#include <vector>

namespace kinesyslog::spool {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the journal is written in the machine's byte order, which must be little-endian");

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// A cursor over untrusted bytes: every read checks the bytes left.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool empty() const { return pos_ == data_.size(); }
  template <typename T>
  bool get(T& value) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool bytes(size_t n, std::string_view& out) {
    if (data_.size() - pos_ < n) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

uint32_t crcOf(std::string_view bytes) {
  return static_cast<uint32_t>(libdeflate_crc32(0, bytes.data(), bytes.size()));
}

// One parsed item, kept until its frame is known to be whole.
struct Item {
  char type;
  uint64_t serial;
  int64_t timestampMs;
  uint32_t count;
  std::string_view a, b;
};

// Parses a payload into items; false when an item is malformed.
bool parseItems(std::string_view payload, std::vector<Item>& items) {
  Reader in(payload);
  while (!in.empty()) {
    Item item{};
    if (!in.get(item.type) || !in.get(item.serial)) return false;
    switch (item.type) {
      case 'B': {
        uint16_t groupLength = 0, streamLength = 0;
        if (!in.get(groupLength) || !in.bytes(groupLength, item.a)) return false;
        if (!in.get(streamLength) || !in.bytes(streamLength, item.b)) return false;
        break;
      }
      case 'E':
        if (!in.get(item.timestampMs) || !in.get(item.count) || !in.bytes(item.count, item.a)) {
          return false;
        }
        break;
      case 'S':
        if (!in.get(item.count)) return false;
        break;
      default:
        return false;
    }
    items.push_back(item);
  }
  return true;
}

}  // namespace

void beginJournalFrame(std::string& frame) {
  frame.assign(kJournalFrameHeaderBytes, '\0');
}

void appendJournalBatchOpened(std::string& frame, uint64_t serial, std::string_view group,
                              std::string_view stream) {
  // Names longer than a u16 cannot come from a listener (groups are short, streams are
  // addresses); cut rather than write an item the reader would refuse.
  group = group.substr(0, kJournalMaxNameBytes);
  stream = stream.substr(0, kJournalMaxNameBytes);
  frame.push_back('B');
  put(frame, serial);
  put(frame, static_cast<uint16_t>(group.size()));
  frame.append(group);
  put(frame, static_cast<uint16_t>(stream.size()));
  frame.append(stream);
}

void appendJournalEvent(std::string& frame, uint64_t serial, int64_t timestampMs,
                        std::string_view message) {
  frame.push_back('E');
  put(frame, serial);
  put(frame, timestampMs);
  put(frame, static_cast<uint32_t>(message.size()));
  frame.append(message);
}

void appendJournalSpooled(std::string& frame, uint64_t serial, uint32_t eventsEnd) {
  frame.push_back('S');
  put(frame, serial);
  put(frame, eventsEnd);
}

bool hasJournalItems(const std::string& frame) {
  return frame.size() > kJournalFrameHeaderBytes;
}

void finishJournalFrame(std::string& frame) {
  const std::string_view payload(frame.data() + kJournalFrameHeaderBytes,
                                 frame.size() - kJournalFrameHeaderBytes);
  const uint32_t header[3] = {kJournalMagic, static_cast<uint32_t>(payload.size()), crcOf(payload)};
  std::memcpy(frame.data(), header, sizeof header);
}

JournalParseResult parseJournalSegment(std::string_view data, JournalItemSink& sink) {
  JournalParseResult result;
  std::vector<Item> items;
  Reader in(data);
  while (!in.empty()) {
    uint32_t magic = 0, length = 0, crc = 0;
    std::string_view payload;
    if (!in.get(magic) || !in.get(length) || !in.get(crc)) {
      result.problem = "torn frame header at the end";
      return result;
    }
    if (magic != kJournalMagic) {
      result.problem = "bad frame magic";
      return result;
    }
    if (!in.bytes(length, payload)) {
      result.problem = "torn frame at the end";
      return result;
    }
    if (crcOf(payload) != crc) {
      result.problem = "frame CRC mismatch";
      return result;
    }
    items.clear();
    if (!parseItems(payload, items)) {
      result.problem = "malformed item in a frame";
      return result;
    }
    for (const Item& item : items) {
      switch (item.type) {
        case 'B':
          sink.onBatchOpened(item.serial, item.a, item.b);
          break;
        case 'E':
          sink.onEvent(item.serial, item.timestampMs, item.a);
          break;
        case 'S':
          sink.onSpooled(item.serial, item.count);
          break;
      }
    }
    ++result.frames;
    result.validBytes += kJournalFrameHeaderBytes + length;
  }
  return result;
}

}  // namespace kinesyslog::spool
