#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "record/batch_journal.h"

namespace kinesyslog::spool {

// Journal segments live in the spool directory beside the records, under names no other file
// of the relay uses:
//   kinesyslog-journal-<run: 16 hex digits>-<worker: 3 digits>-<segment: 10 digits>
// The run is the relay start's wall-clock time, so names sort by run, worker and segment.
struct JournalSegmentName {
  std::string run;
  unsigned worker = 0;
  uint64_t segment = 0;
};
std::string journalSegmentName(std::string_view run, unsigned worker, uint64_t segment);
[[nodiscard]] std::optional<JournalSegmentName> parseJournalSegmentName(std::string_view name);
// A run id for this start of the relay (16 lowercase hex digits).
std::string newJournalRun();

// The journal of one I/O thread (record::BatchJournal). Frames go to the current segment file
// with one write() each; a segment that reaches segmentBytes is closed and the next one
// opened. A segment is deleted once it is not the current one and no batch that opened in it or
// before it is still unspooled: its messages are then all in spool records.
//
// Thread safety: the I/O-thread calls of BatchJournal belong to one thread; spooled(), release(),
// sync() and finish() may come from any thread. Writes to a segment (the I/O thread's frames and
// the encoders' spooled marks) are serialised by one mutex, so frames never interleave, and a
// write that fails part-way is cut back off the file, so the segment stays a series of whole
// frames.
class MessageJournal final : public record::BatchJournal {
 public:
  // Creates the first segment in `dir`. Throws StartupError(kExitNoPermission) when it cannot.
  // `syncEveryCommit`: fdatasync after every commit (--journal-sync 0).
  MessageJournal(std::filesystem::path dir, std::string run, unsigned worker, uint64_t segmentBytes,
                 bool syncEveryCommit);
  ~MessageJournal() override;
  MessageJournal(const MessageJournal&) = delete;
  MessageJournal& operator=(const MessageJournal&) = delete;

  [[nodiscard]] record::JournalTicket openBatch(std::string_view group,
                                                std::string_view stream) override;
  void appendEvent(uint64_t serial, int64_t timestampMs, std::string_view message) override;
  void commit() override;
  void spooled(const record::JournalTicket& ticket, uint32_t eventsEnd) override;
  void release(const record::JournalTicket& ticket) override;

  // fdatasync of every segment written since the last call, and of the directory when a segment
  // was created (the background syncer, every --journal-sync seconds).
  void sync();
  // Clean shutdown, once the encoders have stopped: deletes every segment of this journal when
  // no batch is left unspooled, and returns 0; otherwise keeps them (the next start replays
  // them) and returns how many batches are unspooled.
  [[nodiscard]] size_t finish();

  size_t segmentsOnDisk() const;  // for tests and logs

 private:
  struct File;
  [[nodiscard]] bool openSegment(uint64_t segment);  // mutex_ held
  void writeFrameLocked(std::string& frame);
  void removeReleasedSegments();

  const std::filesystem::path dir_;
  const std::string run_;
  const unsigned worker_;
  const uint64_t segmentBytes_;
  const bool syncEveryCommit_;

  // I/O thread only.
  std::string frame_;
  uint64_t nextSerial_ = 0;

  mutable std::mutex mutex_;
  std::shared_ptr<File> current_;                // guarded by mutex_
  uint64_t currentSegment_ = 0;                  // guarded by mutex_
  uint64_t currentBytes_ = 0;                    // guarded by mutex_: whole frames written
  bool currentDirty_ = false;                    // guarded by mutex_: written since last sync
  bool directoryDirty_ = false;                  // guarded by mutex_: a segment was created
  std::vector<std::shared_ptr<File>> unsynced_;  // guarded by mutex_: closed, not yet synced
  std::deque<uint64_t> segments_;                // guarded by mutex_: on disk, oldest first
  std::map<uint64_t, uint32_t> pins_;            // guarded by mutex_: open batches per segment
  std::string markFrame_;                        // guarded by mutex_
  bool finished_ = false;                        // guarded by mutex_
};

}  // namespace kinesyslog::spool
