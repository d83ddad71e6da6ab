#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinesyslog::app {

// Everything `kinesyslog listen` was told, validated. Field names follow the command line
// (docs/design.md "Command line"); every option may also come from KINESYSLOG_<OPTION>.
struct ListenOptions {
  // Firehose streams (--stream, repeatable): records are spread over them. With --output-dir
  // only the first is used, to name the objects.
  std::vector<std::string> streams;
  std::string address = "0.0.0.0";
  std::vector<uint16_t> udpPorts;
  std::vector<uint16_t> tcpPorts;
  std::vector<uint16_t> tlsPorts;  // empty unless given or --cert and --key (then 6514)
  std::vector<uint16_t> proxyProtocolPorts;
  std::vector<std::string> proxyTrusted;  // networks (CIDR) that may connect to those ports
  std::string cert;
  std::string key;
  std::string ca;
  std::string verifyClient;  // "" until resolved: "required" with --ca, else "none"
  std::string crl;
  std::vector<std::string> allowedPeers;
  std::string tlsCiphers;  // "" = the built-in ECDHE + AEAD list
  std::string tlsMinVersion = "1.2";
  double tlsHandshakeTimeoutSeconds = 10;
  std::string spoolDir = "/tmp";
  std::string outputDir;
  std::string region;
  std::string profile;
  std::string owner;
  std::string endpointUrl;
  std::string stsEndpointUrl;
  std::string groupPrefix;
  uint16_t prometheusPort = 0;  // 0: no metrics endpoint
  // All IPv4 addresses, as kinesyslog 2.x: load balancers and Kubernetes probes reach it; the
  // endpoint is read-only and carries no per-source data (docs/operations.md).
  std::string prometheusAddress = "0.0.0.0";
  double unhealthySpoolAgeSeconds = 300;
  bool gelf = false;
  bool debug = false;
  std::string logFormat = "text";  // "text" or "json"
  unsigned workers = 0;            // 0 until resolved: the number of cores
  uint64_t flushSize = 4 * 1024 * 1024;
  double flushIntervalSeconds = 60;
  uint64_t maxMessageSize = 65536;
  uint64_t spoolMaxBytes = 1024ull * 1024 * 1024;
  uint64_t partialBudget = 64 * 1024 * 1024;
  int compressionLevel = 6;
  std::string rfc3164Timezone = "UTC";
  double shutdownGraceSeconds = 10;
  double journalSyncSeconds = 1;
  bool noJournal = false;
};

struct DumpOptions {
  std::vector<std::string> files;
  bool json = false;
};

struct CommandLine {
  enum class Command { kNone, kListen, kDump, kVersion };
  Command command = Command::kNone;
  ListenOptions listen;
  DumpOptions dump;
  int exitCode = 0;       // set when parsing already decided the outcome (help, usage error)
  bool finished = false;  // true: exit with exitCode now
};

// Parses argv and the KINESYSLOG_* environment. Usage errors print one line to stderr and
// finish with exit code 2; --help prints the help text and finishes with 0.
CommandLine parseCommandLine(int argc, const char* const* argv);

// "0.2" -> 0.2 seconds; nullopt unless the whole text is a finite decimal number.
[[nodiscard]] std::optional<double> parseSeconds(std::string_view text);

// "514" -> 514; nullopt unless a decimal number from 0 to 65535.
[[nodiscard]] std::optional<uint16_t> parsePort(std::string_view text);

// "4M" -> 4194304; a byte count with an optional K/M/G suffix (KiB/MiB/GiB). nullopt if malformed.
[[nodiscard]] std::optional<uint64_t> parseByteSize(std::string_view text);

}  // namespace kinesyslog::app
