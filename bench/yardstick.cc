// kinesyslog_yardstick: the compression yardstick of the bench harness (docs/design.md "Performance
// targets"). Reads delivered objects (concatenated gzip members, RFC 1952 §2.2, one record each),
// and recompresses each record's JSON once with libdeflate at the given level, measuring the thread
// CPU time of the compression calls alone. The harness divides that time by the relay's CPU time to
// get the compression share.
//
//   kinesyslog_yardstick --level L [--list FILE] [FILE...]
//
// Prints one JSON line: {"records":N,"json_bytes":J,"compressed_bytes":C,"cpu_seconds":S,
// "level":L,"files":F}. Exit 0 on success, 1 when a file cannot be read or is not a series of
// intact gzip members, 2 for a usage error.
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "record/gzip.h"
#include "record/record_encoder.h"

namespace kinesyslog::bench {
namespace {

// A record's JSON never exceeds the encoder's cap; a member inflating past it is not ours.
constexpr size_t kMaxMemberBytes = record::kMaxRecordJsonBytes;
constexpr size_t kFirstOutputGuess = size_t{1} << 20;

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Totals {
  uint64_t records = 0;
  uint64_t jsonBytes = 0;
  uint64_t compressedBytes = 0;
  double cpuSeconds = 0;
};

class Yardstick {
 public:
  explicit Yardstick(int level)
      : compressor_(level), decompressor_(libdeflate_alloc_decompressor()) {
    if (!decompressor_) throw std::bad_alloc();
    json_.resize(kFirstOutputGuess);
  }

  const Totals& totals() const { return totals_; }

  // False (with a message on stderr) when `path` is unreadable or not intact gzip members.
  bool addFile(const std::string& path) {
    if (!readFile(path)) {
      std::fprintf(stderr, "kinesyslog_yardstick: cannot read %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return false;
    }
    const std::string_view data(file_.data(), file_.size());
    if (data.empty()) {
      std::fprintf(stderr, "kinesyslog_yardstick: %s is empty\n", path.c_str());
      return false;
    }
    size_t pos = 0;
    while (pos < data.size()) {
      const auto member = inflateMember(data.substr(pos));
      if (!member) {
        std::fprintf(stderr, "kinesyslog_yardstick: %s: bad gzip member at byte %zu\n",
                     path.c_str(), pos);
        return false;
      }
      pos += member->first;
      recompress(std::string_view(json_.data(), member->second));
    }
    return true;
  }

 private:
  // Reads the whole file into file_ (reused across files: thousands of objects, one buffer).
  bool readFile(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat info {};
    bool ok = fstat(fd, &info) == 0;
    file_.resize(ok ? static_cast<size_t>(info.st_size) : 0);
    size_t done = 0;
    while (ok && done < file_.size()) {
      const ssize_t got = read(fd, file_.data() + done, file_.size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ok = got == 0;  // the file shrank: keep what was read
        file_.resize(done);
        break;
      }
      done += static_cast<size_t>(got);
    }
    const int saved = errno;
    close(fd);
    errno = saved;
    return ok;
  }

  // Decodes the first gzip member of `in` into json_; returns (bytes read, bytes written).
  // libdeflate needs room for the whole member up front; grow and retry until it fits.
  std::optional<std::pair<size_t, size_t>> inflateMember(std::string_view in) {
    while (true) {
      size_t inUsed = 0;
      size_t outUsed = 0;
      const libdeflate_result result = libdeflate_gzip_decompress_ex(
          decompressor_.get(), in.data(), in.size(), json_.data(), json_.size(), &inUsed, &outUsed);
      if (result == LIBDEFLATE_SUCCESS) return std::make_pair(inUsed, outUsed);
      if (result != LIBDEFLATE_INSUFFICIENT_SPACE || json_.size() >= kMaxMemberBytes) {
        return std::nullopt;
      }
      json_.resize(std::min(json_.size() * 2, kMaxMemberBytes));
    }
  }

  // The measured part: exactly one gzip compression of the record's JSON, as the relay does.
  void recompress(std::string_view json) {
    const size_t bound = compressor_.maxCompressedSize(json.size());
    if (out_.size() < bound) out_.resize(bound);
    const double before = threadCpuSeconds();
    const size_t size = compressor_.compress(json, out_.data(), out_.size());
    const double after = threadCpuSeconds();
    totals_.cpuSeconds += after - before;
    totals_.records += 1;
    totals_.jsonBytes += json.size();
    totals_.compressedBytes += size;
  }

  record::GzipCompressor compressor_;
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor_;
  std::vector<char> file_;
  std::vector<char> json_;
  std::vector<char> out_;
  Totals totals_;
};

bool readList(const std::string& listFile, std::vector<std::string>& files) {
  std::ifstream in(listFile);
  if (!in) {
    std::fprintf(stderr, "kinesyslog_yardstick: cannot read %s\n", listFile.c_str());
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) files.push_back(line);
  }
  return true;
}

int run(int argc, char** argv) {
  CLI::App app{
      "kinesyslog compression yardstick: CPU time libdeflate needs to gzip delivered "
      "records' JSON"};
  int level = 6;
  std::string listFile;
  std::vector<std::string> files;
  app.add_option("--level", level, "libdeflate compression level")
      ->required()
      ->check(CLI::Range(record::kMinCompressionLevel, record::kMaxCompressionLevel));
  app.add_option("--list", listFile, "File naming one delivered object per line");
  app.add_option("files", files, "Delivered objects (concatenated gzip members)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (!listFile.empty() && !readList(listFile, files)) return 1;
  if (files.empty()) {
    std::fprintf(stderr, "kinesyslog_yardstick: no files given\n");
    return 2;
  }
  Yardstick yardstick(level);
  for (const std::string& file : files) {
    if (!yardstick.addFile(file)) return 1;
  }
  const Totals& t = yardstick.totals();
  std::printf(
      "{\"records\":%llu,\"json_bytes\":%llu,\"compressed_bytes\":%llu,\"cpu_seconds\":%.6f,"
      "\"level\":%d,\"files\":%zu}\n",
      static_cast<unsigned long long>(t.records), static_cast<unsigned long long>(t.jsonBytes),
      static_cast<unsigned long long>(t.compressedBytes), t.cpuSeconds, level, files.size());
  return 0;
}

}  // namespace
}  // namespace kinesyslog::bench

int main(int argc, char** argv) {
  return kinesyslog::bench::run(argc, argv);
}
