// Fuzz target for the command line and KINESYSLOG_* environment parser (src/app/options.h).
// Input layout: byte 0 (bits 0-2) is how many environment variables to set, bit 3 whether
// argv[1] is `listen`; the rest is split at NUL bytes into words. The first words are the
// environment values, each named by the next byte of its word (an option's KINESYSLOG_ name);
// the others are argv. A word starting with \x01 is `--` and the option its next byte names,
// so every option is one byte away. Invariants:
//  - parsing never crashes or throws anything but the documented StartupError: it either
//    finishes (help or version: exit 0; a usage error: exit 2) or yields a command;
//  - a listen command holds only values the checks allow (message size 1..262144, flush size
//    1K..1G, one message per worker within the partial budget, at least one worker, a client
//    verification mode);
//  - the same argv and environment parsed again give the same result.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "app/options.h"
#include "util/startup_error.h"

namespace {

using kinesyslog::app::CommandLine;
using kinesyslog::app::ListenOptions;

constexpr std::string_view kOptions[] = {"stream",
                                         "address",
                                         "udp-port",
                                         "tcp-port",
                                         "tls-port",
                                         "proxy-protocol",
                                         "proxy-trusted",
                                         "cert",
                                         "key",
                                         "ca",
                                         "verify-client",
                                         "crl",
                                         "allowed-peer",
                                         "tls-ciphers",
                                         "tls-min-version",
                                         "tls-handshake-timeout",
                                         "spool-dir",
                                         "output-dir",
                                         "region",
                                         "profile",
                                         "owner",
                                         "endpoint-url",
                                         "sts-endpoint-url",
                                         "group-prefix",
                                         "prometheus-port",
                                         "prometheus-address",
                                         "unhealthy-spool-age",
                                         "gelf",
                                         "debug",
                                         "log-format",
                                         "workers",
                                         "flush-size",
                                         "flush-interval",
                                         "max-message-size",
                                         "spool-max-bytes",
                                         "partial-budget",
                                         "compression-level",
                                         "rfc3164-timezone",
                                         "shutdown-grace",
                                         "journal-sync",
                                         "no-journal",
                                         "help",
                                         "version",
                                         "json"};
constexpr size_t kOptionCount = sizeof kOptions / sizeof kOptions[0];

std::string envName(std::string_view option) {
  std::string name = "KINESYSLOG_";
  for (char c : option)
    name += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return name;
}

auto listenFields(const ListenOptions& o) {
  return std::tie(o.streams, o.address, o.udpPorts, o.tcpPorts, o.tlsPorts, o.proxyProtocolPorts,
                  o.proxyTrusted, o.cert, o.key, o.ca, o.verifyClient, o.crl, o.allowedPeers,
                  o.tlsCiphers, o.tlsMinVersion, o.tlsHandshakeTimeoutSeconds, o.spoolDir,
                  o.outputDir, o.region, o.profile, o.owner, o.endpointUrl, o.stsEndpointUrl,
                  o.groupPrefix, o.prometheusPort, o.prometheusAddress, o.unhealthySpoolAgeSeconds,
                  o.gelf, o.debug, o.logFormat, o.workers, o.flushSize, o.flushIntervalSeconds,
                  o.maxMessageSize, o.spoolMaxBytes, o.partialBudget, o.compressionLevel,
                  o.rfc3164Timezone, o.shutdownGraceSeconds, o.journalSyncSeconds, o.noJournal);
}

bool same(const CommandLine& a, const CommandLine& b) {
  return a.command == b.command && a.exitCode == b.exitCode && a.finished == b.finished &&
         listenFields(a.listen) == listenFields(b.listen) && a.dump.files == b.dump.files &&
         a.dump.json == b.dump.json;
}

// Usage errors and help go to stderr and stdout: kept out of the fuzzer's own output.
class Quiet {
 public:
  Quiet() {
    static const int devNull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    savedOut_ = ::dup(1);
    savedErr_ = ::dup(2);
    ::dup2(devNull, 1);
    ::dup2(devNull, 2);
  }
  ~Quiet() {
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(savedOut_, 1);
    ::dup2(savedErr_, 2);
    ::close(savedOut_);
    ::close(savedErr_);
  }

 private:
  int savedOut_;
  int savedErr_;
};

struct Outcome {
  CommandLine line;
  bool startupError = false;
  int startupExit = 0;
};

Outcome parse(const std::vector<std::string>& words) {
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());
  Outcome outcome;
  Quiet quiet;
  try {
    outcome.line = kinesyslog::app::parseCommandLine(static_cast<int>(argv.size()), argv.data());
  } catch (const kinesyslog::StartupError& e) {
    outcome.startupError = true;
    outcome.startupExit = e.exitCode();
  } catch (...) {
    __builtin_trap();  // only the documented configuration exception may leave the parser
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const unsigned envCount = data[0] & 7;
  std::vector<std::string> words;
  {
    std::string word;
    for (size_t i = 1; i < size; ++i) {
      if (data[i] == 0) {
        words.push_back(std::move(word));
        word.clear();
      } else {
        word += static_cast<char>(data[i]);
      }
    }
    words.push_back(std::move(word));
  }

  std::vector<std::string> setNames;
  size_t next = 0;
  for (unsigned e = 0; e < envCount && next < words.size(); ++e, ++next) {
    const std::string& w = words[next];
    if (w.empty()) continue;
    const std::string name = envName(kOptions[static_cast<unsigned char>(w[0]) % kOptionCount]);
    ::setenv(name.c_str(), w.c_str() + 1, 1);
    setNames.push_back(name);
  }
  std::vector<std::string> argv = {"kinesyslog"};
  if (data[0] & 8) argv.push_back("listen");
  for (; next < words.size(); ++next) {
    std::string w = words[next];
    if (w.size() >= 2 && w[0] == '\x01') {
      w = "--" + std::string(kOptions[static_cast<unsigned char>(w[1]) % kOptionCount]) +
          w.substr(2);
    }
    argv.push_back(std::move(w));
  }

  const Outcome first = parse(argv);
  const Outcome second = parse(argv);
  for (const std::string& name : setNames) ::unsetenv(name.c_str());

  if (first.startupError != second.startupError || first.startupExit != second.startupExit ||
      !same(first.line, second.line)) {
    __builtin_trap();
  }
  if (first.startupError) return 0;
  const CommandLine& line = first.line;
  if (line.finished) {
    if (line.exitCode != 0 && line.exitCode != kinesyslog::kExitUsage) __builtin_trap();
    return 0;
  }
  if (line.exitCode != 0) __builtin_trap();
  if (line.command == CommandLine::Command::kDump) {
    if (line.dump.files.empty()) __builtin_trap();
    return 0;
  }
  if (line.command != CommandLine::Command::kListen) __builtin_trap();
  const ListenOptions& o = line.listen;
  if (o.maxMessageSize < 1 || o.maxMessageSize > 262144 || o.flushSize < 1024 ||
      o.flushSize > (1ull << 30) || o.workers < 1 ||
      o.partialBudget / o.workers < o.maxMessageSize || o.verifyClient.empty()) {
    __builtin_trap();
  }
  return 0;
}
