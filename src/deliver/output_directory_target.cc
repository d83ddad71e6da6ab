#include "deliver/output_directory_target.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "util/durable_file.h"
#include "util/startup_error.h"

namespace kinesyslog::deliver {
OutputDirectoryTarget::OutputDirectoryTarget(std::filesystem::path dir, std::string streamName,
                                             const Clock& clock)
    : dir_(std::move(dir)), streamName_(std::move(streamName)), clock_(clock) {
  if (streamName_.empty() ||
      streamName_.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    throw StartupError(
        kExitUsage,
        fmt::format("stream name '{}' cannot name objects in an output directory", streamName_));
  }
  ensureWritableDirectory(dir_, "output directory");
}

std::string OutputDirectoryTarget::nextUuid() {
  char id[record::kEventIdLength];
  ids_.next(id);
  return std::string(id, sizeof id);
}

std::string OutputDirectoryTarget::describe() const {
  return "output directory " + dir_.string();
}

std::string OutputDirectoryTarget::objectKey(std::string_view streamName, int64_t unixMicros,
                                             std::string_view uuid) {
  using namespace std::chrono;
  const sys_time<microseconds> time{microseconds(unixMicros)};
  const sys_days day = floor<days>(time);
  const year_month_day ymd(day);
  const hh_mm_ss hms(floor<seconds>(time) - day);
  const int y = static_cast<int>(ymd.year());
  const unsigned mo = static_cast<unsigned>(ymd.month());
  const unsigned d = static_cast<unsigned>(ymd.day());
  const auto h = hms.hours().count();
  return fmt::format("{:04}/{:02}/{:02}/{:02}/{}-1-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}", y, mo,
                     d, h, streamName, y, mo, d, h, hms.minutes().count(), hms.seconds().count(),
                     uuid);
}

PutResult OutputDirectoryTarget::put(std::span<const std::string> records) {
  PutResult result;
  result.accepted.assign(records.size(), false);
  if (records.empty()) return result;

  const std::string key = objectKey(streamName_, clock_.nowMicros(), nextUuid());
  const std::filesystem::path object = dir_ / key;
  const std::filesystem::path folder = object.parent_path();
  const std::filesystem::path temp = folder / ("." + object.filename().string() + ".tmp");
  auto fail = [&](const char* step, const std::filesystem::path& path, int error) {
    result.error = fmt::format("cannot {} {}: {}", step, path.string(), errnoText(error));
    return result;
  };

  // Create the hour folder one level at a time; a new folder's entry in its parent needs its
  // own fsync to survive a crash.
  std::filesystem::path current = dir_;
  for (const auto& part : std::filesystem::path(key).parent_path()) {
    std::filesystem::path next = current / part;
    if (::mkdir(next.c_str(), 0755) == 0) {
      if (int error = fsyncDirectory(current)) return fail("fsync", current, error);
    } else if (errno != EEXIST) {
      return fail("create", next, errno);
    }
    current = std::move(next);
  }

  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return fail("create", temp, errno);
  int error = 0;
  for (const auto& record : records) {
    if ((error = writeAll(fd, record)) != 0) break;
  }
  const char* step = "write";
  if (error == 0 && ::fsync(fd) != 0) {
    error = errno;
    step = "fsync";
  }
  if (::close(fd) != 0 && error == 0) {
    error = errno;
    step = "close";
  }
  if (error == 0 && ::rename(temp.c_str(), object.c_str()) != 0) {
    error = errno;
    step = "rename";
  }
  if (error != 0) {
    ::unlink(temp.c_str());
    return fail(step, temp, error);
  }
  // Until the folder is synced the rename may be lost in a crash, and the spool would already
  // have deleted the records: count them delivered only after this. The object stays (visible
  // objects never change); the retry may deliver the records twice, which at least once allows.
  if ((error = fsyncDirectory(folder)) != 0) return fail("fsync", folder, error);
  result.accepted.assign(records.size(), true);
  return result;
}

}  // namespace kinesyslog::deliver
