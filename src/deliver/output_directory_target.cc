#include "deliver/output_directory_target.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <random>
#include <system_error>

#include "util/startup_error.h"

namespace kinesyslog::deliver {
namespace {

std::string errnoText(int error) {
  return std::system_category().message(error);
}

// Writes all of `data`, retrying short writes and EINTR. Returns 0 or an errno value.
int writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// Returns 0 or an errno value.
int fsyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

// A random (version 4) UUID, RFC 9562 §5.4. Only uniqueness matters here.
std::string randomUuid() {
  std::array<unsigned char, 16> b{};
  if (::getrandom(b.data(), b.size(), GRND_NONBLOCK) != static_cast<ssize_t>(b.size())) {
    static thread_local std::mt19937_64 fallback{std::random_device{}()};
    for (auto& byte : b) byte = static_cast<unsigned char>(fallback());
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

[[noreturn]] void throwNoPermission(const std::string& what, const std::filesystem::path& dir,
                                    const std::string& error) {
  throw StartupError(kExitNoPermission,
                     fmt::format("output directory {}: {}: {}", dir.string(), what, error));
}

}  // namespace

OutputDirectoryTarget::OutputDirectoryTarget(std::filesystem::path dir, std::string streamName,
                                             const Clock& clock)
    : dir_(std::move(dir)), streamName_(std::move(streamName)), clock_(clock) {
  if (streamName_.empty() ||
      streamName_.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    throw StartupError(
        kExitUsage,
        fmt::format("stream name '{}' cannot name objects in an output directory", streamName_));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throwNoPermission("cannot create it", dir_, ec.message());
  if (!std::filesystem::is_directory(dir_, ec)) {
    throwNoPermission("cannot use it", dir_, ec ? ec.message() : "not a directory");
  }
  // Permission bits say little (root, ACLs, read-only mounts): prove it by writing a file.
  // O_EXCL: never open (or truncate through) a file or symlink that is already there.
  std::filesystem::path probe;
  int fd = -1;
  for (int n = 0; fd < 0 && n < 100; ++n) {
    probe = dir_ / fmt::format(".kinesyslog-probe-{}-{}", static_cast<long>(::getpid()), n);
    fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  int error = fd < 0 ? errno : writeAll(fd, "x");
  if (fd >= 0) ::close(fd);
  if (fd >= 0 && ::unlink(probe.c_str()) != 0 && error == 0) error = errno;
  if (error != 0) throwNoPermission("cannot write in it", dir_, errnoText(error));
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

PutResult OutputDirectoryTarget::put(const std::vector<std::string>& records) {
  PutResult result;
  result.accepted.assign(records.size(), false);
  if (records.empty()) return result;

  const std::string key = objectKey(streamName_, clock_.nowMicros(), randomUuid());
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
