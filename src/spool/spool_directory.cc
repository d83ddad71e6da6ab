#include "spool/spool_directory.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <system_error>

#include "metrics/problem_log.h"
#include "record/gzip.h"
#include "util/clock.h"
#include "util/durable_file.h"
#include "util/startup_error.h"

namespace kinesyslog::spool {
namespace {

constexpr std::string_view kFinalPrefix = "kinesyslog-";
constexpr std::string_view kFinalSuffix = ".gz";
constexpr size_t kSequenceDigits = 20;  // enough for any uint64_t, so names sort by sequence
constexpr std::string_view kTempPrefix = ".kinesyslog-tmp-";
constexpr std::string_view kCorruptDir = "corrupt";
std::optional<uint64_t> parseDigits(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `kinesyslog-<20 digits>.gz`
std::optional<uint64_t> parseFinalName(std::string_view name) {
  if (name.size() != kFinalPrefix.size() + kSequenceDigits + kFinalSuffix.size()) return {};
  if (!name.starts_with(kFinalPrefix) || !name.ends_with(kFinalSuffix)) return {};
  std::string_view digits = name.substr(kFinalPrefix.size(), kSequenceDigits);
  if (!allDigits(digits)) return {};
  return parseDigits(digits);
}

struct TempName {
  uint64_t sequence;
  uint64_t pid;
};

// `.kinesyslog-tmp-<sequence>-<pid>`
std::optional<TempName> parseTempName(std::string_view name) {
  if (!name.starts_with(kTempPrefix)) return {};
  name.remove_prefix(kTempPrefix.size());
  size_t dash = name.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view seq = name.substr(0, dash);
  std::string_view pid = name.substr(dash + 1);
  if (!allDigits(seq) || !allDigits(pid)) return {};
  auto s = parseDigits(seq);
  auto p = parseDigits(pid);
  if (!s || !p) return {};
  return TempName{*s, *p};
}

std::string finalName(uint64_t sequence) {
  return fmt::format("{}{:020}{}", kFinalPrefix, sequence, kFinalSuffix);
}

std::string tempName(uint64_t sequence) {
  return fmt::format("{}{}-{}", kTempPrefix, sequence, static_cast<long>(::getpid()));
}

// Reads a whole regular file into `data`, reusing its capacity. Returns false and sets `error`
// on failure.
bool readWholeFile(const std::filesystem::path& path, std::string& data, int& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = errno;
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = errno;
    ::close(fd);
    return false;
  }
  data.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == data.size()) data.resize(data.size() + 4096);  // the file may have grown
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(done);
  return true;
}

// A count of names and the first few of them, for one summary line.
struct NameSample {
  static constexpr size_t kShown = 5;
  uint64_t count = 0;
  std::vector<std::string> first;

  void add(const std::string& name) {
    if (count++ < kShown) first.push_back(name);
  }
  std::string text() const {
    std::string out;
    for (const auto& name : first) out += (out.empty() ? "" : ", ") + name;
    if (count > first.size()) out += fmt::format(" and {} more", count - first.size());
    return out;
  }
};

[[noreturn]] void throwNoPermission(const std::string& what, const std::filesystem::path& dir,
                                    const std::string& error) {
  throw StartupError(kExitNoPermission,
                     fmt::format("spool directory {}: {}: {}", dir.string(), what, error));
}

}  // namespace

SpoolDirectory::SpoolDirectory(std::filesystem::path dir, uint64_t maxBytes, const Clock& clock)
    : dir_(std::move(dir)), corruptDir_(dir_ / kCorruptDir), maxBytes_(maxBytes), clock_(clock) {
  ensureWritableDirectory(dir_, "spool directory");
  dirFd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd_ < 0) throwNoPermission("cannot open it", dir_, errnoText(errno));

  if (::flock(dirFd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      ::close(dirFd_);
      throw StartupError(kExitConfig,
                         fmt::format("spool directory {} is in use by another kinesyslog process; "
                                     "give each relay its own --spool-dir",
                                     dir_.string()));
    }
    spdlog::warn("spool directory {}: cannot lock it ({}); make sure no other relay uses it",
                 dir_.string(), errnoText(errno));
  }

  struct statfs fs {};
  if (::statfs(dir_.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
    spdlog::warn(
        "spool directory {} is on tmpfs: records not yet delivered are lost on reboot; "
        "set --spool-dir to a directory on disk",
        dir_.string());
  }

  // New sequences continue after every one on disk, so a new record always sorts after the
  // ones recover() will queue, and a new temporary name never meets an old one.
  uint64_t highest = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (auto seq = parseFinalName(name)) highest = std::max(highest, *seq);
    if (auto temp = parseTempName(name)) highest = std::max(highest, temp->sequence);
  }
  if (ec) {
    ::close(dirFd_);
    throwNoPermission("cannot list it", dir_, ec.message());
  }
  firstSequence_ = highest + 1;
  nextSequence_ = firstSequence_;
}

SpoolDirectory::~SpoolDirectory() {
  if (dirFd_ >= 0) ::close(dirFd_);  // also releases the flock
}

// What recovery gathers while it scans the directory.
struct SpoolDirectory::Recovered {
  std::vector<SpoolRecord> records;
  std::vector<std::pair<uint64_t, int64_t>> written;  // sequence, write time
  std::string data;                                   // one buffer for every file checked
  record::GzipMemberValidator validator;
  NameSample ignored;
};

RecoveryReport SpoolDirectory::recover() {
  RecoveryReport report;
  {
    std::lock_guard lock(mutex_);
    if (recovered_) return report;
    recovered_ = true;
  }
  Recovered found;
  scanForRecovery(report, found);
  std::sort(found.records.begin(), found.records.end(),
            [](const SpoolRecord& a, const SpoolRecord& b) { return a.sequence < b.sequence; });
  for (const auto& r : found.records) report.recoveredBytes += r.bytes;
  report.recovered = found.records.size();
  {
    std::lock_guard lock(mutex_);
    queue_.insert(queue_.begin(), std::make_move_iterator(found.records.begin()),
                  std::make_move_iterator(found.records.end()));
    bytes_ += report.recoveredBytes;
    pendingBytes_ += report.recoveredBytes;
    writtenMicros_.insert(found.written.begin(), found.written.end());
  }
  changed_.notify_all();

  if (report.recovered + report.corrupt + report.temporaryDiscarded > 0) {
    spdlog::info(
        "spool {}: recovered {} records ({} bytes) for delivery, moved {} corrupt to {}, "
        "discarded {} unfinished writes",
        dir_.string(), report.recovered, report.recoveredBytes, report.corrupt,
        corruptDir_.string(), report.temporaryDiscarded);
  }
  return report;
}

void SpoolDirectory::scanForRecovery(RecoveryReport& report, Recovered& found) {
  const uid_t self = ::geteuid();
  const auto pid = static_cast<uint64_t>(::getpid());
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::path path = it->path();
    const std::string name = path.filename().string();
    auto temp = parseTempName(name);
    auto sequence = parseFinalName(name);
    if (!temp && !sequence) continue;  // not ours: /tmp is shared
    if (temp && temp->pid == pid && temp->sequence >= firstSequence_) continue;  // in flight
    if (sequence && *sequence >= firstSequence_) continue;  // written by this process

    // A shared directory such as /tmp may hold files of other users or symlinks planted under
    // our names; delivering those would ship someone else's bytes, so they are left alone.
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;  // vanished meanwhile
    if (!S_ISREG(st.st_mode) || st.st_uid != self) {
      found.ignored.add(name);
      continue;
    }

    if (temp) {
      // A torn write is the normal trace of a crash, not corruption: the record never reached
      // its final name, so its producer never considered it spooled.
      if (::unlink(path.c_str()) == 0) {
        ++report.temporaryDiscarded;
      } else {
        spdlog::warn("spool: cannot delete leftover {}: {}", path.string(), errnoText(errno));
      }
      continue;
    }
    recoverFile(path, *sequence, report, found);
  }
  if (ec) spdlog::error("spool: cannot list {}: {}", dir_.string(), ec.message());
  if (found.ignored.count > 0) {
    // Planted names can number thousands: one line, not one per file.
    spdlog::warn(
        "spool {}: ignoring {} entries with spool names that are not regular files owned by "
        "this user (symlinks, directories, other users' files): {}",
        dir_.string(), found.ignored.count, found.ignored.text());
  }
}

void SpoolDirectory::recoverFile(const std::filesystem::path& path, uint64_t sequence,
                                 RecoveryReport& report, Recovered& found) {
  int error = 0;
  const bool read = readWholeFile(path, found.data, error);
  std::string reason = read ? std::string(found.validator.problem(found.data))
                            : fmt::format("cannot read: {}", errnoText(error));
  if (!reason.empty()) {
    ++report.corrupt;
    // Logged when it fails; the file stays in place, unqueued, and is judged again next start.
    (void)moveFileToCorrupt(path, reason);
    return;
  }
  found.records.push_back(SpoolRecord{sequence, path, found.data.size()});
  // The file's age by the wall clock, once, placed on the monotonic clock from here on (a file
  // dated in the future counts as written now).
  struct stat info {};
  const int64_t age =
      ::stat(path.c_str(), &info) == 0
          ? std::max<int64_t>(0, clock_.nowMicros() - (int64_t{info.st_mtim.tv_sec} * 1'000'000 +
                                                       info.st_mtim.tv_nsec / 1000))
          : 0;
  found.written.emplace_back(sequence, clock_.monotonicMicros() - age);
}

std::optional<SpoolRecord> SpoolDirectory::write(std::string_view gzipRecord) {
  uint64_t sequence;
  {
    std::lock_guard lock(mutex_);
    sequence = nextSequence_++;
  }
  const std::string temp = tempName(sequence);
  const std::string final = finalName(sequence);
  // A failing disk fails every record: reported as one problem kind, so it costs one log line
  // per 10 s (docs/design.md "Logging"), with the OS error of the latest failure in the line.
  auto report = [&](const char* step, int error, const std::string& name) {
    metrics::problems().report(
        metrics::Problem::kSpoolWriteFailed, SystemClock::instance().monotonicMicros(),
        fmt::format("cannot {} {}: {}; the record stays in memory and is retried", step,
                    (dir_ / name).string(), errnoText(error)));
  };
  auto fail = [&](const char* step, int error, const std::string& leftover) {
    report(step, error, leftover);
    ::unlinkat(dirFd_, leftover.c_str(), 0);
    return std::nullopt;
  };

  int fd = ::openat(dirFd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    report("create", errno, temp);
    return std::nullopt;
  }
  int error = writeAll(fd, gzipRecord);
  if (error != 0) {
    ::close(fd);
    return fail("write", error, temp);
  }
  if (::fsync(fd) != 0) {
    error = errno;
    ::close(fd);
    return fail("fsync", error, temp);
  }
  if (::close(fd) != 0) return fail("close", errno, temp);
  if (::renameat(dirFd_, temp.c_str(), dirFd_, final.c_str()) != 0) {
    return fail("rename", errno, temp);
  }
  // Until the directory is synced the rename may not survive a crash; reporting success
  // before that would let the producer forget a record that could vanish.
  if (::fsync(dirFd_) != 0) return fail("fsync the directory after writing", errno, final);

  SpoolRecord record{sequence, dir_ / final, gzipRecord.size()};
  const int64_t written = clock_.monotonicMicros();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(record);
    writtenMicros_.emplace(record.sequence, written);
    bytes_ += record.bytes;
    pendingBytes_ += record.bytes;
  }
  changed_.notify_all();
  return record;
}

bool SpoolDirectory::full() const {
  return bytes() >= maxBytes_;
}

uint64_t SpoolDirectory::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

SpoolState SpoolDirectory::state() const {
  std::lock_guard lock(mutex_);
  SpoolState s;
  s.records = writtenMicros_.size();
  s.bytes = bytes_;
  if (!writtenMicros_.empty()) {
    s.oldestAgeMicros =
        std::max<int64_t>(0, clock_.monotonicMicros() - writtenMicros_.begin()->second);
  }
  return s;
}

size_t SpoolDirectory::pendingCount() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

uint64_t SpoolDirectory::pendingBytes() const {
  std::lock_guard lock(mutex_);
  return pendingBytes_;
}

bool SpoolDirectory::waitFor(size_t records, uint64_t bytes,
                             std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  auto ready = [&] { return queue_.size() >= records || pendingBytes_ >= bytes; };
  changed_.wait_until(lock, deadline, [&] { return ready() || wakePending_; });
  wakePending_ = false;
  return ready();
}

std::vector<SpoolRecord> SpoolDirectory::take(size_t maxRecords, uint64_t maxBytes,
                                              std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return !queue_.empty() || wakePending_; });
  wakePending_ = false;
  std::vector<SpoolRecord> taken;
  uint64_t takenBytes = 0;
  while (!queue_.empty()) {
    const SpoolRecord& next = queue_.front();
    if (!taken.empty() && (taken.size() >= maxRecords || takenBytes + next.bytes > maxBytes)) {
      break;
    }
    takenBytes += next.bytes;
    taken.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  pendingBytes_ -= takenBytes;
  return taken;
}

void SpoolDirectory::requeue(std::vector<SpoolRecord> records) {
  {
    std::lock_guard lock(mutex_);
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      pendingBytes_ += it->bytes;
      queue_.push_front(std::move(*it));
    }
  }
  changed_.notify_all();
}

std::optional<std::string> SpoolDirectory::read(const SpoolRecord& r, int* error) const {
  std::string data;
  if (!readInto(r, data, error)) return std::nullopt;
  return data;
}

bool SpoolDirectory::readInto(const SpoolRecord& r, std::string& data, int* error) const {
  int readError = 0;
  if (!readWholeFile(r.path, data, readError)) {
    spdlog::error("spool: cannot read {}: {}", r.path.string(), errnoText(readError));
    if (error) *error = readError;
    return false;
  }
  if (data.size() != r.bytes) {
    if (error) *error = EBADMSG;
    spdlog::error("spool: {} changed size on disk ({} bytes, {} written)", r.path.string(),
                  data.size(), r.bytes);
    return false;
  }
  return true;
}

void SpoolDirectory::remove(const SpoolRecord& r) {
  if (::unlink(r.path.c_str()) != 0 && errno != ENOENT) {
    // The record was delivered; if the file survives it is delivered again after a restart.
    spdlog::error("spool: cannot delete delivered {}: {}", r.path.string(), errnoText(errno));
  }
  std::lock_guard lock(mutex_);
  bytes_ -= std::min(bytes_, r.bytes);
  writtenMicros_.erase(r.sequence);
}

void SpoolDirectory::moveToCorrupt(const SpoolRecord& r, std::string_view reason) {
  // Logged when it fails; the file stays in place, unqueued, and is judged again next start.
  (void)moveFileToCorrupt(r.path, reason);
  std::lock_guard lock(mutex_);
  bytes_ -= std::min(bytes_, r.bytes);
  writtenMicros_.erase(r.sequence);
}

bool SpoolDirectory::moveFileToCorrupt(const std::filesystem::path& file, std::string_view reason) {
  std::lock_guard lock(corruptMutex_);
  if (::mkdir(corruptDir_.c_str(), 0700) != 0 && errno != EEXIST) {
    spdlog::error("spool: {} is corrupt ({}) but {} cannot be created ({}); left in place",
                  file.string(), reason, corruptDir_.string(), errnoText(errno));
    return false;
  }
  // With the default spool /tmp, corrupt/ is /tmp/corrupt: only use it when it is ours.
  struct stat st {};
  if (::lstat(corruptDir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    spdlog::error("spool: {} is corrupt ({}) but {} is not a directory of this user; left in place",
                  file.string(), reason, corruptDir_.string());
    return false;
  }
  // Sequences restart from what is left in the spool, so an older corrupt file may already
  // hold the name: never overwrite one.
  std::filesystem::path target = corruptDir_ / file.filename();
  std::error_code ec;
  for (int n = 1; std::filesystem::exists(target, ec) && n < 1000; ++n) {
    target = corruptDir_ / fmt::format("{}.{}", file.filename().string(), n);
  }
  if (::rename(file.c_str(), target.c_str()) != 0) {
    spdlog::error("spool: {} is corrupt ({}) but cannot be moved to {} ({}); left in place",
                  file.string(), reason, target.string(), errnoText(errno));
    return false;
  }
  spdlog::warn("spool: {} is corrupt ({}); moved to {}", file.string(), reason, target.string());
  return true;
}

void SpoolDirectory::wake() {
  {
    std::lock_guard lock(mutex_);
    wakePending_ = true;
  }
  changed_.notify_all();
}

}  // namespace kinesyslog::spool
