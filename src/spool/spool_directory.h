#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/clock.h"

namespace kinesyslog::spool {

// One finished spool file: a single gzip member holding one Firehose record.
struct SpoolRecord {
  uint64_t sequence = 0;
  std::filesystem::path path;
  uint64_t bytes = 0;  // file size, i.e. the record's size as Firehose counts it
};

// What the spool holds, for the metrics endpoint and the readiness check.
struct SpoolState {
  size_t records = 0;  // on disk and not yet delivered, taken ones included
  uint64_t bytes = 0;
  // How long ago the oldest of them was written, in microseconds; nullopt when the spool is
  // empty. Measured by the monotonic clock, so a step of the wall clock (NTP, `date -s`) does not
  // make a fresh backlog look a day old (and the relay unready) or hide an old one. A record of
  // an earlier run is as old as its file's modification time says at recovery.
  std::optional<int64_t> oldestAgeMicros;
};

struct [[nodiscard]] RecoveryReport {
  uint64_t temporaryDiscarded = 0;  // torn writes of a previous run, deleted
  uint64_t recovered = 0;           // valid finished files queued for delivery
  uint64_t corrupt = 0;             // finished files that failed validation, moved to corrupt/
  uint64_t recoveredBytes = 0;
};

// The durable spool of docs/design.md "Spool and delivery" (docs/contributing.md).
//
// Every record is its own file in the directory as given (`--spool-dir`, /tmp by default, so
// only names with our prefix are ever touched):
//   kinesyslog-<20-digit sequence>.gz       a finished record, queued for delivery
//   .kinesyslog-tmp-<sequence>-<pid>        a write in progress (hidden; discarded at start)
//   corrupt/kinesyslog-<sequence>.gz        a record that failed validation, kept for a human
// A finished name only ever appears through rename() after fsync, and the directory is fsync'd
// after the rename, so a finished file that exists after a crash holds the complete record.
//
// Thread safety: write() may be called from any number of threads at once; take(), requeue(),
// read(), remove() and moveToCorrupt() belong to the one uploader thread; recover() runs once
// at start, before anything else uses the spool. All methods are safe to call concurrently.
//
// The directory is flock()ed for the life of the object, so two relays never share one spool
// (each would deliver and delete the other's files).
class SpoolDirectory {
 public:
  // Creates the directory if needed and proves it writable by creating and deleting a probe
  // file. Throws StartupError(kExitNoPermission) naming the path and the OS error when it
  // cannot, and StartupError(kExitConfig) when another process holds the spool. Warns when the
  // directory is on tmpfs, which does not survive a reboot.
  SpoolDirectory(std::filesystem::path dir, uint64_t maxBytes,
                 const Clock& clock = SystemClock::instance());
  ~SpoolDirectory();
  SpoolDirectory(const SpoolDirectory&) = delete;
  SpoolDirectory& operator=(const SpoolDirectory&) = delete;

  // Deletes leftover temporary files (a torn write is the normal trace of a crash, not
  // corruption), validates every finished file left by an earlier run (one gzip member, CRC
  // and length correct, nothing after it), moves invalid ones to corrupt/ (warned and counted,
  // never deleted) and queues the valid ones in sequence order ahead of anything written by
  // this process. Only the first call does anything.
  RecoveryReport recover();

  // Durably writes one record: temporary name, write, fsync, rename, fsync the directory.
  // Returns the queued record, or std::nullopt (logged) when the disk refuses (ENOSPC, EIO...);
  // the caller still owns the data and retries later. Never throws.
  [[nodiscard]] std::optional<SpoolRecord> write(std::string_view gzipRecord);

  bool full() const;            // bytes() >= maxBytes
  uint64_t bytes() const;       // all spooled records not yet removed, taken ones included
  size_t pendingCount() const;  // queued records (not taken)
  uint64_t pendingBytes() const;
  uint64_t maxBytes() const { return maxBytes_; }
  SpoolState state() const;

  // Waits until the queue holds at least `records` records or at least `bytes` bytes, the
  // deadline passes or wake() is called. Returns whether the condition holds. The uploader
  // uses it to coalesce records into fuller batches before take().
  [[nodiscard]] bool waitFor(size_t records, uint64_t bytes,
                             std::chrono::steady_clock::time_point deadline);

  // Waits until at least one record is queued, the deadline passes or wake() is called; then
  // takes up to maxRecords records and maxBytes bytes (but always at least one record, even
  // one larger than maxBytes) off the queue, oldest first. May return an empty vector. Taken
  // records stay on disk until remove() or moveToCorrupt(), or go back with requeue().
  [[nodiscard]] std::vector<SpoolRecord> take(size_t maxRecords, uint64_t maxBytes,
                                              std::chrono::steady_clock::time_point deadline);
  // Puts taken records back at the front of the queue, keeping their order.
  void requeue(std::vector<SpoolRecord> records);
  // The file's bytes, or std::nullopt (logged) when it cannot be read or its size changed;
  // then `*error` (when given) holds the errno value, EBADMSG for a changed size. EMFILE,
  // ENFILE and ENOMEM say nothing about the file itself.
  [[nodiscard]] std::optional<std::string> read(const SpoolRecord& r, int* error = nullptr) const;
  // The same into `data`, reusing its capacity (the uploader's buffers live across requests).
  [[nodiscard]] bool readInto(const SpoolRecord& r, std::string& data, int* error = nullptr) const;
  // Deletes a delivered record's file; bytes() drops. No directory fsync: a delete lost in a
  // crash only means the record is delivered again (delivery is at least once).
  void remove(const SpoolRecord& r);
  // Moves a taken record that cannot be delivered (unreadable) to corrupt/, with a warning.
  // bytes() drops; the file is never deleted.
  void moveToCorrupt(const SpoolRecord& r, std::string_view reason);
  // Makes the current or the next waitFor()/take() return at once (shutdown). One wake
  // releases one wait.
  void wake();

  const std::filesystem::path& path() const { return dir_; }

 private:
  // Returns false (logged) when the file could not be moved and was left in place.
  struct Recovered;
  // recover()'s steps: the directory's files, then one finished file of an earlier run.
  void scanForRecovery(RecoveryReport& report, Recovered& found);
  void recoverFile(const std::filesystem::path& path, uint64_t sequence, RecoveryReport& report,
                   Recovered& found);
  [[nodiscard]] bool moveFileToCorrupt(const std::filesystem::path& file, std::string_view reason);

  const std::filesystem::path dir_;
  const std::filesystem::path corruptDir_;
  const uint64_t maxBytes_;
  int dirFd_ = -1;
  // Sequences below this were found on disk at construction and belong to recover().
  uint64_t firstSequence_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<SpoolRecord> queue_;  // guarded by mutex_
  uint64_t nextSequence_ = 0;      // guarded by mutex_
  uint64_t bytes_ = 0;             // guarded by mutex_
  uint64_t pendingBytes_ = 0;      // guarded by mutex_
  bool wakePending_ = false;       // guarded by mutex_
  bool recovered_ = false;         // guarded by mutex_
  const Clock& clock_;
  // Write time of every record on disk (the clock's monotonic microseconds), by sequence (the
  // oldest first for recovered records and new ones alike, since sequences grow with time): one
  // entry per record, never per message.
  std::map<uint64_t, int64_t> writtenMicros_;  // guarded by mutex_
  std::mutex corruptMutex_;                    // serialises moves into corrupt/ (unique names)
};

}  // namespace kinesyslog::spool
