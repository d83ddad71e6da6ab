#include "spool/message_journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "spool/journal_format.h"
#include "util/clock.h"
#include "util/durable_file.h"
#include "util/startup_error.h"

namespace kinesyslog::spool {

namespace {

constexpr std::string_view kPrefix = "kinesyslog-journal-";
constexpr size_t kRunDigits = 16;
constexpr size_t kWorkerDigits = 3;
constexpr size_t kSegmentDigits = 10;
// Serials carry the worker index above this bit, so they are unique within a run.
constexpr unsigned kWorkerShift = 48;

bool allOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isLowerHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f');
}

}  // namespace

struct MessageJournal::File {
  explicit File(int descriptor) : fd(descriptor) {}
  ~File() {
    if (fd >= 0) ::close(fd);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  int fd;
};

std::string journalSegmentName(std::string_view run, unsigned worker, uint64_t segment) {
  return fmt::format("{}{}-{:03}-{:010}", kPrefix, run, worker, segment);
}

std::optional<JournalSegmentName> parseJournalSegmentName(std::string_view name) {
  if (name.size() != kPrefix.size() + kRunDigits + 1 + kWorkerDigits + 1 + kSegmentDigits) {
    return std::nullopt;
  }
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const std::string_view run = name.substr(0, kRunDigits);
  const std::string_view worker = name.substr(kRunDigits + 1, kWorkerDigits);
  const std::string_view segment = name.substr(kRunDigits + 2 + kWorkerDigits);
  if (name[kRunDigits] != '-' || name[kRunDigits + 1 + kWorkerDigits] != '-') return std::nullopt;
  if (!allOf(run, isLowerHex) || !allOf(worker, isDigit) || !allOf(segment, isDigit)) {
    return std::nullopt;
  }
  JournalSegmentName parsed;
  parsed.run.assign(run);
  std::from_chars(worker.data(), worker.data() + worker.size(), parsed.worker);
  std::from_chars(segment.data(), segment.data() + segment.size(), parsed.segment);
  return parsed;
}

std::string newJournalRun() {
  return fmt::format("{:016x}", static_cast<uint64_t>(SystemClock::instance().nowMicros()));
}

MessageJournal::MessageJournal(std::filesystem::path dir, std::string run, unsigned worker,
                               uint64_t segmentBytes, bool syncEveryCommit)
    : dir_(std::move(dir)),
      run_(std::move(run)),
      worker_(worker),
      segmentBytes_(segmentBytes),
      syncEveryCommit_(syncEveryCommit) {
  std::lock_guard lock(mutex_);
  if (!openSegment(0)) {
    throw StartupError(
        kExitNoPermission,
        fmt::format("spool directory {}: cannot create journal segment {}: {}", dir_.string(),
                    journalSegmentName(run_, worker_, 0), errnoText(errno)));
  }
  beginJournalFrame(frame_);
}

MessageJournal::~MessageJournal() = default;

bool MessageJournal::openSegment(uint64_t segment) {
  const std::filesystem::path path = dir_ / journalSegmentName(run_, worker_, segment);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (current_ && currentDirty_) unsynced_.push_back(current_);
  current_ = std::make_shared<File>(fd);
  currentSegment_ = segment;
  currentBytes_ = 0;
  currentDirty_ = false;
  directoryDirty_ = true;
  segments_.push_back(segment);
  return true;
}

record::JournalTicket MessageJournal::openBatch(std::string_view group, std::string_view stream) {
  record::JournalTicket ticket;
  ticket.journal = this;
  ticket.serial = (uint64_t{worker_} << kWorkerShift) | ++nextSerial_;
  {
    std::lock_guard lock(mutex_);
    ticket.segment = currentSegment_;
    ++pins_[currentSegment_];
  }
  appendJournalBatchOpened(frame_, ticket.serial, group, stream);
  return ticket;
}

void MessageJournal::appendEvent(uint64_t serial, int64_t timestampMs, std::string_view message) {
  appendJournalEvent(frame_, serial, timestampMs, message);
}

void MessageJournal::commit() {
  if (!hasJournalItems(frame_)) return;
  finishJournalFrame(frame_);
  bool rotated = false;
  {
    std::lock_guard lock(mutex_);
    writeFrameLocked(frame_);
    if (syncEveryCommit_ && current_) ::fdatasync(current_->fd);
    if (currentBytes_ >= segmentBytes_ && !finished_) {
      if (openSegment(currentSegment_ + 1)) {
        rotated = true;
      } else {
        metrics::problems().report(
            metrics::Problem::kJournalWriteFailed, SystemClock::instance().monotonicMicros(),
            fmt::format("cannot create the next journal segment in {}: {}; writing on in the "
                        "current one",
                        dir_.string(), errnoText(errno)));
      }
    }
  }
  beginJournalFrame(frame_);
  if (rotated) removeReleasedSegments();
}

void MessageJournal::writeFrameLocked(std::string& frame) {
  if (!current_ || finished_) return;
  const int error = writeAll(current_->fd, frame);
  if (error == 0) {
    currentBytes_ += frame.size();
    currentDirty_ = true;
    metrics::counters().add(metrics::Counter::kJournalBytesWritten, frame.size());
    return;
  }
  // Cut a partly written frame back off, so that the segment stays a series of whole frames
  // and later frames stay readable. The messages are still in their batches; only the
  // protection against the process dying is missing for them.
  if (::ftruncate(current_->fd, static_cast<off_t>(currentBytes_)) != 0) {
    // The torn frame stays; replay stops reading the segment there.
  }
  metrics::counters().add(metrics::Counter::kJournalWriteErrors);
  metrics::problems().report(
      metrics::Problem::kJournalWriteFailed, SystemClock::instance().monotonicMicros(),
      fmt::format("cannot write journal segment {} in {}: {}; these messages are not protected "
                  "against the relay dying until they are spooled",
                  journalSegmentName(run_, worker_, currentSegment_), dir_.string(),
                  errnoText(error)));
}

void MessageJournal::spooled(const record::JournalTicket& ticket, uint32_t eventsEnd) {
  std::lock_guard lock(mutex_);
  beginJournalFrame(markFrame_);
  appendJournalSpooled(markFrame_, ticket.serial, eventsEnd);
  finishJournalFrame(markFrame_);
  writeFrameLocked(markFrame_);
}

void MessageJournal::release(const record::JournalTicket& ticket) {
  {
    std::lock_guard lock(mutex_);
    auto it = pins_.find(ticket.segment);
    if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  }
  removeReleasedSegments();
}

void MessageJournal::removeReleasedSegments() {
  std::vector<uint64_t> removable;
  {
    std::lock_guard lock(mutex_);
    // Segments are removed oldest first: a batch's spooled mark is written after its messages,
    // so it lies in the same or a later segment, and survives as long as any of them.
    const uint64_t limit =
        pins_.empty() ? currentSegment_ : std::min(currentSegment_, pins_.begin()->first);
    while (!segments_.empty() && segments_.front() < limit) {
      removable.push_back(segments_.front());
      segments_.pop_front();
    }
  }
  for (uint64_t segment : removable) {
    const std::filesystem::path path = dir_ / journalSegmentName(run_, worker_, segment);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("journal: cannot delete {}: {}", path.string(), errnoText(errno));
    }
  }
}

void MessageJournal::sync() {
  std::vector<std::shared_ptr<File>> files;
  bool directory = false;
  {
    std::lock_guard lock(mutex_);
    files.swap(unsynced_);
    if (currentDirty_ && current_) {
      files.push_back(current_);
      currentDirty_ = false;
    }
    directory = std::exchange(directoryDirty_, false);
  }
  for (const auto& file : files) ::fdatasync(file->fd);
  if (directory) fsyncDirectory(dir_);
}

size_t MessageJournal::finish() {
  std::vector<uint64_t> removable;
  {
    std::lock_guard lock(mutex_);
    if (finished_) return 0;
    size_t unspooled = 0;
    for (const auto& [segment, count] : pins_) unspooled += count;
    if (unspooled > 0) return unspooled;
    finished_ = true;
    current_.reset();
    unsynced_.clear();
    removable.assign(segments_.begin(), segments_.end());
    segments_.clear();
  }
  for (uint64_t segment : removable) {
    ::unlink((dir_ / journalSegmentName(run_, worker_, segment)).c_str());
  }
  return 0;
}

size_t MessageJournal::segmentsOnDisk() const {
  std::lock_guard lock(mutex_);
  return segments_.size();
}

}  // namespace kinesyslog::spool
