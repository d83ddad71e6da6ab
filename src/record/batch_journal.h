#pragma once

#include <cstdint>
#include <string_view>

namespace kinesyslog::record {

class BatchJournal;

// Which journal holds a batch's messages, under which serial, and which journal segment the
// batch keeps from deletion until it is spooled. Moves with the batch (SourceBatch::journal).
struct JournalTicket {
  BatchJournal* journal = nullptr;  // null: the journal is off (--no-journal)
  uint64_t serial = 0;              // unique within the run (worker index in the high bits)
  uint64_t segment = 0;             // the segment that was current when the batch opened
};

// The write-ahead journal of one I/O thread (docs/operations.md "Journal"): every message that
// joins a batch is first appended here, so that a message the relay has read survives the
// relay's death (SIGKILL, a crash, the OOM killer) even while its batch is only in memory.
//
// The I/O thread calls openBatch(), appendEvent() and commit(); encoder threads call spooled()
// and release() once the batch's records are in the spool.
class BatchJournal {
 public:
  virtual ~BatchJournal() = default;

  // I/O thread. A batch of (group, stream) starts: returns its ticket and keeps the current
  // segment until release().
  [[nodiscard]] virtual JournalTicket openBatch(std::string_view group,
                                                std::string_view stream) = 0;
  // I/O thread. One message joined the batch `serial`; held in memory until commit().
  virtual void appendEvent(uint64_t serial, int64_t timestampMs, std::string_view message) = 0;
  // I/O thread, after each read: writes what appendEvent() and openBatch() gathered since the
  // last commit with one write (no fsync on the data path).
  virtual void commit() = 0;

  // Any thread. The first `eventsEnd` events of the batch are durably in the spool; a replay
  // after a crash must not deliver them again.
  virtual void spooled(const JournalTicket& ticket, uint32_t eventsEnd) = 0;
  // Any thread. The batch is done with the journal (all spooled): its segment may go.
  virtual void release(const JournalTicket& ticket) = 0;
};

}  // namespace kinesyslog::record
