// Fuzz target for spool::parseJournalSegment, the reader of journal segments found at start
// (torn by a crash, damaged on disk, or planted). The input is read twice: as a whole segment,
// and as the payload of a frame with a correct CRC, so that item parsing is reached rather than
// stopped by the checksum. Invariants: no crash or over-read, whole frames only, and the items
// read back, written again with the frame builder, read the same.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spool/journal_format.h"

namespace {

using namespace kinesyslog::spool;

// Writes every item it is given into a new frame.
class Rewriter final : public JournalItemSink {
 public:
  Rewriter() { beginJournalFrame(frame); }
  void onBatchOpened(uint64_t serial, std::string_view group, std::string_view stream) override {
    appendJournalBatchOpened(frame, serial, group, stream);
    ++items;
  }
  void onEvent(uint64_t serial, int64_t timestampMs, std::string_view message) override {
    appendJournalEvent(frame, serial, timestampMs, message);
    ++items;
  }
  void onSpooled(uint64_t serial, uint32_t eventsEnd) override {
    appendJournalSpooled(frame, serial, eventsEnd);
    ++items;
  }
  std::string frame;
  size_t items = 0;
};

void checkOne(std::string_view segment) {
  Rewriter first;
  const JournalParseResult result = parseJournalSegment(segment, first);
  if (result.validBytes > segment.size()) std::abort();
  if (result.problem.empty() != (result.validBytes == segment.size())) std::abort();
  if (result.frames == 0 && first.items != 0) std::abort();
  finishJournalFrame(first.frame);
  Rewriter second;
  const JournalParseResult again = parseJournalSegment(first.frame, second);
  if (!again.problem.empty() || second.items != first.items) std::abort();
  finishJournalFrame(second.frame);
  if (second.frame != first.frame) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  checkOne(in);
  std::string framed;
  beginJournalFrame(framed);
  framed.append(in);
  finishJournalFrame(framed);
  checkOne(framed);
  return 0;
}
