#include "record/journal_replay.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <vector>

#include "record/record_encoder.h"
#include "spool/journal_format.h"
#include "spool/message_journal.h"
#include "spool/spool_directory.h"
#include "util/durable_file.h"

namespace kinesyslog::record {

namespace {

struct SegmentFile {
  unsigned worker;
  uint64_t segment;
  std::filesystem::path path;
};

bool readFile(const std::filesystem::path& path, std::string& data) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  data.clear();
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    data.append(buffer, static_cast<size_t>(n));
  }
}

// The batches of one run, rebuilt from its segments.
class RunCollector final : public spool::JournalItemSink {
 public:
  struct Batch {
    SourceBatch messages;
    uint32_t spooledEnd = 0;  // the first events already in spool records
  };

  void onBatchOpened(uint64_t serial, std::string_view group, std::string_view stream) override {
    auto [it, added] = batches_.try_emplace(serial);
    if (!added) return;  // a serial opens once; a repeat would be damage, ignored
    it->second.messages.group.assign(group);
    it->second.messages.stream.assign(stream);
    order_.push_back(serial);
  }
  void onEvent(uint64_t serial, int64_t timestampMs, std::string_view message) override {
    auto it = batches_.find(serial);
    if (it == batches_.end()) {
      // Its opening was in a segment already deleted: the batch was spooled (segments go only
      // after their batches are), so nothing is lost.
      ++orphans_;
      return;
    }
    it->second.messages.addEvent(timestampMs, message);
  }
  void onSpooled(uint64_t serial, uint32_t eventsEnd) override {
    uint32_t& end = spooledEnd_[serial];
    end = std::max(end, eventsEnd);
  }

  const std::vector<uint64_t>& order() const { return order_; }
  Batch& batch(uint64_t serial) {
    Batch& b = batches_[serial];
    if (auto it = spooledEnd_.find(serial); it != spooledEnd_.end()) b.spooledEnd = it->second;
    return b;
  }
  uint64_t orphans() const { return orphans_; }

 private:
  std::unordered_map<uint64_t, Batch> batches_;
  std::unordered_map<uint64_t, uint32_t> spooledEnd_;
  std::vector<uint64_t> order_;
  uint64_t orphans_ = 0;
};

// Writes replayed records to the spool and marks each in the run's last segment.
class ReplaySink final : public RecordSink {
 public:
  ReplaySink(spool::SpoolDirectory& spool, int markFd) : spool_(spool), markFd_(markFd) {}
  void start(uint64_t serial, uint32_t firstEvent) {
    serial_ = serial;
    eventsEnd_ = firstEvent;
  }
  bool failed() const { return failed_; }
  uint64_t records() const { return records_; }

  void onRecord(std::string_view gzipRecord, size_t eventCount) override {
    if (failed_) return;
    if (!spool_.write(gzipRecord)) {
      failed_ = true;
      return;
    }
    ++records_;
    eventsEnd_ += static_cast<uint32_t>(eventCount);
    if (markFd_ < 0) return;
    spool::beginJournalFrame(mark_);
    spool::appendJournalSpooled(mark_, serial_, eventsEnd_);
    spool::finishJournalFrame(mark_);
    // A lost mark only means that a crash during this replay delivers these messages twice.
    writeAll(markFd_, mark_);
  }

 private:
  spool::SpoolDirectory& spool_;
  int markFd_;
  std::string mark_;
  uint64_t serial_ = 0;
  uint32_t eventsEnd_ = 0;
  uint64_t records_ = 0;
  bool failed_ = false;
};

using Runs = std::map<std::string, std::vector<SegmentFile>>;

// The segments in `dir`, by run, each run's in worker and segment order.
Runs findRuns(const std::filesystem::path& dir, JournalReplayReport& report) {
  Runs runs;
  const uid_t self = ::geteuid();
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = spool::parseJournalSegmentName(it->path().filename().string());
    if (!name) continue;
    // As for spool records: a shared directory may hold planted names; never replay those.
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != self) {
      ++report.ignoredFiles;
      continue;
    }
    runs[name->run].push_back(SegmentFile{name->worker, name->segment, it->path()});
  }
  if (ec) spdlog::error("journal: cannot list {}: {}", dir.string(), ec.message());
  if (report.ignoredFiles > 0) {
    spdlog::warn(
        "journal: ignored {} files named like journal segments in {} that are not "
        "regular files of this user",
        report.ignoredFiles, dir.string());
  }
  for (auto& [run, files] : runs) {
    std::sort(files.begin(), files.end(), [](const SegmentFile& a, const SegmentFile& b) {
      return a.worker != b.worker ? a.worker < b.worker : a.segment < b.segment;
    });
  }
  return runs;
}

// The whole run is read before anything is replayed: a batch's spooled marks may come after its
// messages, in a later segment. `data` is the read buffer, kept for its capacity.
void collectRun(const std::vector<SegmentFile>& files, RunCollector& collector,
                JournalReplayReport& report, std::string& data) {
  for (const SegmentFile& file : files) {
    ++report.segments;
    if (!readFile(file.path, data)) {
      spdlog::error("journal: cannot read {}: {}; skipped", file.path.string(), errnoText(errno));
      ++report.corruptSegments;
      continue;
    }
    const spool::JournalParseResult parsed = spool::parseJournalSegment(data, collector);
    if (!parsed.problem.empty()) {
      ++report.corruptSegments;
      spdlog::warn(
          "journal: {}: {} at byte {}; {} bytes after it not read (the tail of a "
          "write the relay's death interrupted)",
          file.path.string(), parsed.problem, parsed.validBytes, data.size() - parsed.validBytes);
    }
  }
  report.orphanMessages += collector.orphans();
}

struct Replayed {
  uint64_t messages = 0;
  uint64_t skipped = 0;  // already spooled
};

// Encodes each batch's messages not yet spooled into `sink`; stops when the spool refuses one.
Replayed replayBatches(RunCollector& collector, RecordEncoder& encoder, ReplaySink& sink) {
  Replayed replayed;
  for (uint64_t serial : collector.order()) {
    RunCollector::Batch& batch = collector.batch(serial);
    const auto& events = batch.messages.events;
    const size_t first = std::min<size_t>(batch.spooledEnd, events.size());
    replayed.skipped += first;
    if (first == events.size()) continue;
    SourceBatch rest;
    rest.group = batch.messages.group;
    rest.stream = batch.messages.stream;
    for (size_t i = first; i < events.size(); ++i) {
      rest.addEvent(events[i].timestampMs, batch.messages.message(events[i]));
    }
    sink.start(serial, static_cast<uint32_t>(first));
    encoder.encode(rest, sink);
    if (sink.failed()) break;
    replayed.messages += events.size() - first;
  }
  return replayed;
}

}  // namespace

JournalReplayReport replayJournal(const std::filesystem::path& dir, spool::SpoolDirectory& spool,
                                  const std::string& owner, int compressionLevel,
                                  bool removeReplayedSegments) {
  JournalReplayReport report;
  Runs runs = findRuns(dir, report);
  RecordEncoder encoder(owner, compressionLevel);
  std::string data;
  for (auto& [run, files] : runs) {
    ++report.runs;
    RunCollector collector;
    collectRun(files, collector, report, data);

    // Marks of this replay go to the run's last segment, after every mark of the run itself.
    const int markFd = ::open(files.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ReplaySink sink(spool, markFd);
    const Replayed replayed = replayBatches(collector, encoder, sink);
    if (markFd >= 0) {
      ::fdatasync(markFd);
      ::close(markFd);
    }
    report.messages += replayed.messages;
    report.alreadySpooled += replayed.skipped;
    report.records += sink.records();
    if (sink.failed()) {
      report.incomplete = true;
      spdlog::error(
          "journal: the spool refused a record while replaying run {}; its {} segments "
          "stay in {} and are replayed at the next start",
          run, files.size(), dir.string());
      continue;
    }
    if (removeReplayedSegments) {
      for (const SegmentFile& file : files) ::unlink(file.path.c_str());
    }
    spdlog::info(
        "journal: replayed {} messages the relay had read before it stopped (run {}, {} "
        "segments) into {} spool records; {} already spooled were skipped",
        replayed.messages, run, files.size(), sink.records(), replayed.skipped);
  }
  return report;
}

}  // namespace kinesyslog::record
