// Fuzz target for what the relay does at start-up with a spool directory left by an earlier run
// (src/spool/spool_directory.h recover(), then src/record/journal_replay.h replayJournal()). A
// directory (one per process, emptied before each input) is populated with files built from the
// input: valid records, records cut short, with bytes after them, two members in one file,
// garbage, empty files, leftover temporary files, names that are not the spool's, files already
// in corrupt/, and journal segments of built frames (torn or not) or garbage. Invariants:
//  - recovery queues exactly the finished files that are one valid gzip member (an oracle
//    decompresses each), in sequence order, with their bytes unchanged; moves every other
//    finished file to corrupt/ without losing its bytes or any file already there; deletes
//    every temporary file; leaves every other name alone; and counts each of these;
//  - the journal replay writes records that are valid gzip members holding exactly as many
//    events as it reports messages, and a second replay over the same directory replays nothing;
//  - a record written afterwards sorts after everything recovered.
#include <fmt/format.h>
#include <libdeflate.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "record/gzip.h"
#include "record/journal_replay.h"
#include "spool/journal_format.h"
#include "spool/message_journal.h"
#include "spool/spool_directory.h"

namespace {

namespace fs = std::filesystem;
using kinesyslog::spool::SpoolDirectory;

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

const fs::path& spoolPath() {
  static const fs::path path = [] {
    spdlog::set_level(spdlog::level::off);  // recovery warns per run; not the fuzzer's output
    // On tmpfs where there is one: recovery fsyncs, and a disk would make every run slow.
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "kinesyslog-fuzz-spool-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) __builtin_trap();
    return fs::path(pattern);
  }();
  // Removed when the process ends normally (a crash leaves it for a human to look at).
  static const struct Remover {
    ~Remover() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remover;
  return path;
}

void empty(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
}

void writeFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string gzipOf(std::string_view data) {
  std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
      libdeflate_alloc_compressor(1), &libdeflate_free_compressor);
  std::string out(libdeflate_gzip_compress_bound(c.get(), data.size()), '\0');
  out.resize(libdeflate_gzip_compress(c.get(), data.data(), data.size(), out.data(), out.size()));
  return out;
}

// The oracle: exactly one gzip member, decompressed completely with its CRC and length right.
bool oneValidMember(std::string_view data) {
  std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> d(
      libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  std::string out(data.size() * 1032 + 64, '\0');
  size_t in = 0;
  size_t produced = 0;
  return libdeflate_gzip_decompress_ex(d.get(), data.data(), data.size(), out.data(), out.size(),
                                       &in, &produced) == LIBDEFLATE_SUCCESS &&
         in == data.size();
}

std::string finalName(uint64_t sequence) {
  return fmt::format("kinesyslog-{:020}.gz", sequence);
}

// The events of one spool record (a gzip member of CloudWatch Logs JSON); -1 when unreadable.
int64_t eventsIn(std::string_view record) {
  const std::optional<std::string> json = kinesyslog::record::gunzip(record, 64 << 20);
  if (!json) return -1;
  static simdjson::dom::parser parser;
  simdjson::dom::array events;
  if (parser.parse(*json)["logEvents"].get(events)) return -1;
  return static_cast<int64_t>(events.size());
}

// One journal segment of built frames: batches opened, messages joining them (some for batches
// never opened), spooled marks; maybe a torn last frame.
std::string builtSegment(Input& in, uint64_t& messages) {
  std::string segment;
  const unsigned frames = 1 + in.byte() % 4;
  for (unsigned f = 0; f < frames; ++f) {
    std::string frame;
    kinesyslog::spool::beginJournalFrame(frame);
    const unsigned items = 1 + in.byte() % 6;
    for (unsigned i = 0; i < items; ++i) {
      const unsigned item = in.byte();
      const uint64_t serial = item >> 4 & 3;
      switch (item % 3) {
        case 0:
          kinesyslog::spool::appendJournalBatchOpened(frame, serial, "syslog_message",
                                                      serial & 1 ? "192.0.2.1" : "2001:db8::1");
          break;
        case 1:
          kinesyslog::spool::appendJournalEvent(frame, serial, 1'781'524'800'000 + item,
                                                in.bytes(in.byte() % 32));
          ++messages;
          break;
        default:
          kinesyslog::spool::appendJournalSpooled(frame, serial, in.byte() % 4);
          break;
      }
    }
    kinesyslog::spool::finishJournalFrame(frame);
    segment += frame;
  }
  if (in.byte() % 4 == 0 && segment.size() > 1)
    segment.resize(segment.size() - 1 - in.byte() % (segment.size() - 1));
  return segment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = spoolPath();
  empty(dir);
  Input in(data, size);

  std::map<std::string, std::string> finished;       // final name -> bytes
  std::map<std::string, std::string> others;         // names recovery must leave alone -> bytes
  std::map<std::string, std::string> corruptBefore;  // already in corrupt/
  std::set<std::string> temporaries;                 // names: the same name twice is one file
  uint64_t journaled = 0;
  unsigned segments = 0;
  const std::string run = "00000190a1b2c3d4";

  for (unsigned files = 0; !in.empty() && files < 24; ++files) {
    const unsigned op = in.byte();
    const uint64_t sequence = 1 + in.byte() % 32;
    switch (op % 10) {
      case 0: {  // a valid record
        finished[finalName(sequence)] = gzipOf(in.bytes(in.byte()));
        break;
      }
      case 1: {  // a record cut short
        std::string record = gzipOf(in.bytes(in.byte()));
        record.resize(in.byte() % record.size());
        finished[finalName(sequence)] = record;
        break;
      }
      case 2: {  // bytes after the member, or a second member
        std::string record = gzipOf(in.bytes(in.byte()));
        record += (op & 0x10) ? gzipOf("more") : std::string(in.bytes(1 + in.byte() % 8));
        finished[finalName(sequence)] = record;
        break;
      }
      case 3:  // garbage, maybe empty
        finished[finalName(sequence)] = std::string(in.bytes(in.byte()));
        break;
      case 4: {  // a record with one byte changed
        std::string record = gzipOf(in.bytes(in.byte()));
        record[in.byte() % record.size()] ^= static_cast<char>(1 + in.byte() % 255);
        finished[finalName(sequence)] = record;
        break;
      }
      case 5:  // a leftover temporary file of an earlier run
      {
        const std::string name = fmt::format(".kinesyslog-tmp-{}-{}", sequence, 1 + in.byte());
        writeFile(dir / name, in.bytes(in.byte() % 16));
        temporaries.insert(name);
        break;
      }
      case 6: {  // names that are not the spool's
        static constexpr const char* kNames[] = {"kinesyslog-12.gz",
                                                 "kinesyslog-{:020}.gz.bak",
                                                 "kinesyslog-{:020}.gzip",
                                                 "kinesyslog-99999999999999999999.gz",
                                                 "kinesyslog-0000000000000000001x.gz",
                                                 "notes.txt",
                                                 "Kinesyslog-{:020}.gz",
                                                 ".kinesyslog-tmp-{}",
                                                 ".kinesyslog-tmp-{}-x"};
        const std::string name = fmt::format(fmt::runtime(kNames[(op >> 4) % 9]), sequence);
        others[name] = gzipOf(in.bytes(in.byte() % 16));
        break;
      }
      case 7: {  // a file already in corrupt/ under a name recovery may also want
        corruptBefore[finalName(sequence)] = std::string(in.bytes(in.byte() % 16)) + "old";
        break;
      }
      case 8: {  // a journal segment of built frames
        std::string segment = builtSegment(in, journaled);
        others[kinesyslog::spool::journalSegmentName(run, op >> 4 & 1, segments++)] = segment;
        break;
      }
      default:  // a journal segment of raw bytes
        others[kinesyslog::spool::journalSegmentName(run, 2, segments++)] =
            std::string(in.bytes(in.byte()));
        break;
    }
  }
  for (const auto& [name, bytes] : finished) writeFile(dir / name, bytes);
  for (const auto& [name, bytes] : others) writeFile(dir / name, bytes);
  if (!corruptBefore.empty()) {
    fs::create_directory(dir / "corrupt");
    for (const auto& [name, bytes] : corruptBefore) writeFile(dir / "corrupt" / name, bytes);
  }

  std::vector<std::string> valid;  // in sequence order: names sort by sequence
  std::multiset<std::string> expectedCorrupt;
  for (const auto& [name, bytes] : corruptBefore) expectedCorrupt.insert(bytes);
  uint64_t validBytes = 0;
  for (const auto& [name, bytes] : finished) {
    if (oneValidMember(bytes)) {
      valid.push_back(name);
      validBytes += bytes.size();
    } else {
      expectedCorrupt.insert(bytes);
    }
  }

  SpoolDirectory spool(dir, 1ull << 30);
  const auto report = spool.recover();
  if (report.recovered != valid.size() || report.recoveredBytes != validBytes ||
      report.corrupt != finished.size() - valid.size() ||
      report.temporaryDiscarded != temporaries.size()) {
    __builtin_trap();
  }
  // Corrupt files keep their bytes, beside those that were there.
  std::multiset<std::string> corrupt;
  if (fs::exists(dir / "corrupt")) {
    for (const auto& entry : fs::directory_iterator(dir / "corrupt")) {
      corrupt.insert(readFile(entry.path()));
    }
  }
  if (corrupt != expectedCorrupt) __builtin_trap();

  const auto journal = kinesyslog::record::replayJournal(dir, spool, "123456789012", 1);
  if (journal.messages > journaled || journal.incomplete) __builtin_trap();

  // Everything recovered comes first, in order and unchanged; then the replayed records.
  const auto records = spool.take(1000, 1ull << 40, std::chrono::steady_clock::now());
  if (records.size() != valid.size() + journal.records) __builtin_trap();
  int64_t replayedEvents = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::optional<std::string> bytes = spool.read(records[i]);
    if (!bytes) __builtin_trap();
    if (i < valid.size()) {
      if (records[i].path.filename() != valid[i] || *bytes != finished[valid[i]]) __builtin_trap();
    } else {
      if (!oneValidMember(*bytes)) __builtin_trap();
      const int64_t events = eventsIn(*bytes);
      if (events <= 0) __builtin_trap();
      replayedEvents += events;
    }
    if (i > 0 && records[i].sequence <= records[i - 1].sequence) __builtin_trap();
  }
  if (replayedEvents != static_cast<int64_t>(journal.messages)) __builtin_trap();

  // Names that are not the spool's are untouched (journal segments are the replay's to delete).
  for (const auto& [name, bytes] : others) {
    if (name.starts_with("kinesyslog-journal-")) continue;
    if (!fs::exists(dir / name) || readFile(dir / name) != bytes) __builtin_trap();
  }
  // Nothing is replayed twice.
  const auto again = kinesyslog::record::replayJournal(dir, spool, "123456789012", 1);
  if (again.messages != 0 || again.records != 0) __builtin_trap();
  return 0;
}
