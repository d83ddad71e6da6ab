#include "app/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "net/peer_name.h"
#include "net/proxy_trust.h"
#include "proto/syslog/local_zone.h"
#include "record/record_encoder.h"
#include "util/startup_error.h"

namespace kinesyslog::app {

namespace {

constexpr uint64_t kMaxMessageSizeLimit = 262144;  // docs/design.md "Events": "at most 262144"

std::string envNameFor(const std::string& longName) {
  std::string name = "KINESYSLOG_";
  for (char c : longName) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

bool envFlagTrue(std::string_view value) {
  return value == "1" || value == "true" || value == "TRUE" || value == "True" || value == "yes" ||
         value == "on";
}

std::vector<std::string> splitWhitespace(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> parts;
  for (std::string part; in >> part;) parts.push_back(part);
  return parts;
}

}  // namespace

std::optional<double> parseSeconds(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t multiplier = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    multiplier = last == 'K' ? 1024ull : last == 'M' ? 1024ull * 1024 : 1024ull * 1024 * 1024;
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 15) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value * multiplier;
}

CommandLine parseCommandLine(int argc, const char* const* argv) {
  CommandLine result;
  ListenOptions& o = result.listen;

  CLI::App app{"kinesyslog: relays Syslog and GELF to AWS Kinesis Data Firehose", "kinesyslog"};
  app.set_version_flag("--version", std::string("kinesyslog ") + KINESYSLOG_VERSION);
  app.require_subcommand(1);

  CLI::App* listen = app.add_subcommand("listen", "Receive messages and deliver them");
  std::vector<std::pair<CLI::Option*, bool>> envOptions;  // option, is a flag
  auto option = [&](CLI::Option* opt, bool flag = false) {
    envOptions.emplace_back(opt, flag);
    return opt;
  };
  auto sizeOption = [&](const std::string& name, uint64_t* target, const std::string& help) {
    return option(listen->add_option_function<std::string>(
        name,
        [target, name](const std::string& value) {
          auto parsed = parseByteSize(value);
          if (!parsed) throw CLI::ValidationError(name, "'" + value + "' is not a byte size");
          *target = *parsed;
        },
        help));
  };

  auto secondsOption = [&](const std::string& name, double* target, double min, double max,
                           const std::string& help) {
    return option(listen->add_option_function<std::string>(
        name,
        [=](const std::string& value) {
          auto seconds = parseSeconds(value);
          if (!seconds) throw CLI::ValidationError(name, "'" + value + "' is not a number");
          if (*seconds < min || *seconds > max) {
            throw CLI::ValidationError(
                name, fmt::format("'{}' is out of range ({} to {} s)", value, min, max));
          }
          *target = *seconds;
        },
        help));
  };

  option(listen->add_option("--stream", o.streams,
                            "Firehose delivery stream name (repeatable: records are spread over "
                            "the streams by what each accepts)"));
  option(listen->add_option("--address", o.address, "Address to listen on")->capture_default_str());
  // Ports are read as text so that a bad one is named with its range, not as CLI11's joined
  // conversion failure.
  auto portsOption = [&](const std::string& name, std::vector<uint16_t>* target,
                         const std::string& help) {
    return option(listen->add_option_function<std::vector<std::string>>(
        name,
        [target, name](const std::vector<std::string>& values) {
          target->clear();
          for (const auto& value : values) {
            auto port = parsePort(value);
            if (!port) {
              throw CLI::ValidationError(name, "'" + value + "' is not a port (0 to 65535)");
            }
            target->push_back(*port);
          }
        },
        help));
  };
  portsOption("--udp-port", &o.udpPorts, "UDP port (repeatable; 0 disables)");
  portsOption("--tcp-port", &o.tcpPorts, "TCP port (repeatable; 0 disables)");
  CLI::Option* tlsPort = portsOption("--tls-port", &o.tlsPorts,
                                     "TLS port (repeatable; default 6514 with --cert and --key)");
  option(listen->add_option("--cert", o.cert, "TLS certificate chain (PEM)"));
  option(listen->add_option("--key", o.key, "TLS private key (PEM)"));
  option(listen->add_option("--ca", o.ca, "CA bundle for client certificates"));
  option(listen
             ->add_option("--verify-client", o.verifyClient,
                          "Client certificates: none, optional or required (required with --ca)")
             ->check(CLI::IsMember({"none", "optional", "required"})));
  option(listen->add_option("--allowed-peer", o.allowedPeers,
                            "Accept only client certificates with this DNS name (repeatable; "
                            "*.example.com matches one label)"));
  option(
      listen->add_option("--crl", o.crl, "Certificate revocation lists for client certificates"));
  option(listen->add_option("--tls-ciphers", o.tlsCiphers,
                            "TLS 1.2 cipher list (OpenSSL syntax; default ECDHE with AEAD only)"));
  option(listen->add_option("--tls-min-version", o.tlsMinVersion, "Lowest TLS version: 1.2 or 1.3")
             ->check(CLI::IsMember({"1.2", "1.3"}))
             ->capture_default_str());
  secondsOption("--tls-handshake-timeout", &o.tlsHandshakeTimeoutSeconds, 0.1, 600,
                "Seconds a TLS client has to complete its handshake (10)");
  portsOption("--proxy-protocol", &o.proxyProtocolPorts,
              "Expect PROXY protocol v1/v2 on this TCP or TLS port (repeatable)");
  option(listen->add_option("--proxy-trusted", o.proxyTrusted,
                            "Accept --proxy-protocol connections only from this network "
                            "(CIDR or address; repeatable; default: from anyone)"));
  option(listen->add_option("--spool-dir", o.spoolDir, "Spool directory")->capture_default_str());
  option(listen->add_option("--output-dir", o.outputDir,
                            "Deliver to this local directory instead of Firehose"));
  option(listen->add_option("--region", o.region, "AWS region"));
  option(listen->add_option("--profile", o.profile, "AWS profile"));
  option(listen->add_option("--owner", o.owner, "AWS account id written as the records' owner"));
  option(listen->add_option("--endpoint-url", o.endpointUrl, "Firehose endpoint URL"));
  option(listen->add_option("--sts-endpoint-url", o.stsEndpointUrl, "STS endpoint URL"));
  option(listen->add_option("--group-prefix", o.groupPrefix,
                            "Log group prefix: groups become PREFIX/syslog/PORT "
                            "(PREFIX/gelf/PORT with --gelf)"));
  option(listen
             ->add_option("--prometheus-port", o.prometheusPort,
                          "Serve /metrics, /healthz and /readyz on this port (0: off)")
             ->capture_default_str());
  option(listen
             ->add_option("--prometheus-address", o.prometheusAddress,
                          "Address of the metrics endpoint (127.0.0.1 keeps it local)")
             ->capture_default_str());
  secondsOption("--unhealthy-spool-age", &o.unhealthySpoolAgeSeconds, 1, 604800,
                "/readyz answers 503 when the oldest spooled record, or the run of failed "
                "uploads, is this old (300 s)");
  option(listen->add_flag("--gelf", o.gelf, "Receive GELF instead of Syslog on every listener"),
         true);
  option(listen->add_flag("--debug", o.debug, "Debug logging"), true);
  option(listen
             ->add_option("--log-format", o.logFormat,
                          "Log lines on stderr: text, or json (one JSON object per line)")
             ->check(CLI::IsMember({"text", "json"}))
             ->capture_default_str());
  option(listen->add_option("--workers", o.workers, "I/O threads (default: cores)")
             ->check(CLI::Range(1u, 256u)));
  sizeOption("--flush-size", &o.flushSize, "Flush a worker's buffers at this many bytes (4M)");
  secondsOption("--flush-interval", &o.flushIntervalSeconds, 0.001, 86400,
                "Flush a source's buffer when its oldest message is this old (60 s)");
  sizeOption("--max-message-size", &o.maxMessageSize, "Longest message in bytes (65536)");
  sizeOption("--spool-max-bytes", &o.spoolMaxBytes, "Spool size limit (1G)");
  sizeOption("--partial-budget", &o.partialBudget,
             "Bytes of partial messages all connections may hold together (64M)");
  option(listen->add_option("--compression-level", o.compressionLevel, "gzip level 1..12")
             ->check(CLI::Range(1, 12))
             ->capture_default_str());
  option(listen
             ->add_option("--rfc3164-timezone", o.rfc3164Timezone,
                          "Zone of timestamps without offset (IANA name or UTC)")
             ->capture_default_str());
  // A grace of 0 would close every connection at SIGTERM before reading what its sender wrote.
  secondsOption("--shutdown-grace", &o.shutdownGraceSeconds, 0.001, 3600,
                "Seconds to drain connections and deliver at shutdown (10)");
  secondsOption("--journal-sync", &o.journalSyncSeconds, 0, 3600,
                "Seconds of journal a power failure can take; 0: fdatasync every write (1)");
  option(listen->add_flag("--no-journal", o.noJournal,
                          "No journal: messages read but not yet spooled die with the process"),
         true);

  CLI::App* dump = app.add_subcommand("dump", "Print the events of delivered objects");
  dump->add_option("files", result.dump.files, "Delivered objects or spool files")->required();
  dump->add_flag("--json", result.dump.json, "One JSON object per event");

  std::vector<std::string> args(argv, argv + argc);
  auto parse = [&](const std::vector<std::string>& words) {
    std::vector<const char*> pointers;
    for (const auto& w : words) pointers.push_back(w.c_str());
    app.clear();
    app.parse(static_cast<int>(pointers.size()), pointers.data());
  };

  try {
    parse(args);
    // CLI11 does not split repeats in one variable; docs/design.md "Command line" wants "514 1514"
    // to mean two ports, so options not given on the command line are appended from the environment
    // and the whole line is parsed again (the command line wins).
    if (listen->parsed()) {
      std::vector<std::string> extra;
      for (auto& [opt, flag] : envOptions) {
        if (opt->count() > 0) continue;
        const std::string name = opt->get_lnames().front();
        const char* value = std::getenv(envNameFor(name).c_str());
        if (value == nullptr) continue;
        if (flag) {
          if (envFlagTrue(value)) extra.push_back("--" + name);
          continue;
        }
        auto words = opt->get_items_expected_max() > 1 ? splitWhitespace(value)
                                                       : std::vector<std::string>{value};
        for (auto& word : words) {
          extra.push_back("--" + name);
          extra.push_back(word);
        }
      }
      if (!extra.empty()) {
        auto all = args;
        all.insert(all.end(), extra.begin(), extra.end());
        parse(all);
      }
    }
  } catch (const CLI::CallForHelp&) {
    // CLI11's help() shows the subcommand that was given (`kinesyslog listen --help`), once.
    std::fputs(app.help().c_str(), stdout);
    result.finished = true;
    return result;
  } catch (const CLI::CallForVersion&) {
    std::printf("kinesyslog %s\n", KINESYSLOG_VERSION);
    result.finished = true;
    return result;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kinesyslog: error: %s (see --help)\n", e.what());
    result.exitCode = kExitUsage;
    result.finished = true;
    return result;
  }

  if (dump->parsed()) {
    result.command = CommandLine::Command::kDump;
    return result;
  }
  result.command = CommandLine::Command::kListen;

  auto usage = [&](const std::string& message) {
    std::fprintf(stderr, "kinesyslog: error: %s (see --help)\n", message.c_str());
    result.exitCode = kExitUsage;
    result.finished = true;
    return result;
  };
  if (o.maxMessageSize == 0 || o.maxMessageSize > kMaxMessageSizeLimit) {
    return usage("--max-message-size " + std::to_string(o.maxMessageSize) +
                 " is out of range (1 to 262144)");
  }
  // Batch offsets are 32-bit; a flush size past 1 GiB also makes no sense for 4 MiB requests.
  if (o.flushSize < 1024 || o.flushSize > (1ull << 30)) {
    return usage("--flush-size must be between 1K and 1G");
  }
  // Values that start a relay that can never deliver are refused (docs/operations.md): a spool
  // that cannot hold one record of the largest size would never accept it (TCP stays paused,
  // every datagram is dropped).
  if (o.spoolMaxBytes < record::kMaxRecordBytes) {
    return usage(
        fmt::format("--spool-max-bytes {} is below one record ({} bytes, the Firehose "
                    "record limit)",
                    o.spoolMaxBytes, record::kMaxRecordBytes));
  }
  if (!syslog::LocalZone::find(o.rfc3164Timezone)) {
    return usage("--rfc3164-timezone: unknown time zone '" + o.rfc3164Timezone + "'");
  }
  for (const auto& peer : o.allowedPeers) {
    if (!net::validAllowedPeer(peer)) {
      return usage("--allowed-peer '" + peer +
                   "' is not a DNS name (a '*' may only stand as the whole first label, '*.')");
    }
  }
  for (const auto& trusted : o.proxyTrusted) {
    const auto parsed = net::parseNetwork(trusted);
    if (!parsed.network) return usage("--proxy-trusted '" + trusted + "': " + parsed.error);
  }
  if (o.verifyClient.empty()) o.verifyClient = o.ca.empty() ? "none" : "required";
  if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());
  // Each worker owns an equal share of the partial-message budget and must be able to hold one
  // message of the maximum size; a smaller share would cut every message longer than it.
  if (o.partialBudget / o.workers < o.maxMessageSize) {
    return usage("--partial-budget " + std::to_string(o.partialBudget) +
                 " is below one --max-message-size (" + std::to_string(o.maxMessageSize) +
                 ") per worker (" + std::to_string(o.workers) + " workers)");
  }
  // docs/design.md "Command line": the TLS port defaults to 6514 only when a certificate and key
  // are given.
  if (tlsPort->count() == 0 && !o.cert.empty() && !o.key.empty()) o.tlsPorts = {6514};
  return result;
}

}  // namespace kinesyslog::app
