// Covered by app/options_test.cc (parseCommandLine over the table) and
// tests/integration/test_options.py.
#include "app/option_table.h"

#include <fmt/format.h>

namespace kinesyslog::app {

OptionTable::OptionTable(CommandLine& result) {
  ListenOptions& o = result.listen;
  app.set_version_flag("--version", std::string("kinesyslog ") + KINESYSLOG_VERSION);
  app.require_subcommand(1);
  listen = app.add_subcommand("listen", "Receive messages and deliver them");
  addListenerOptions(o);
  addTlsOptions(o);
  addDestinationOptions(o);
  addTuningOptions(o);
  dump = app.add_subcommand("dump", "Print the events of delivered objects");
  dump->add_option("files", result.dump.files, "Delivered objects or spool files")->required();
  dump->add_flag("--json", result.dump.json, "One JSON object per event");
}

CLI::Option* OptionTable::option(CLI::Option* opt, bool flag) {
  environmentOptions.emplace_back(opt, flag);
  return opt;
}

CLI::Option* OptionTable::sizeOption(const std::string& name, uint64_t* target,
                                     const std::string& help) {
  return option(listen->add_option_function<std::string>(
      name,
      [target, name](const std::string& value) {
        auto parsed = parseByteSize(value);
        if (!parsed) throw CLI::ValidationError(name, "'" + value + "' is not a byte size");
        *target = *parsed;
      },
      help));
}

CLI::Option* OptionTable::secondsOption(const std::string& name, double* target, double min,
                                        double max, const std::string& help) {
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
}

// Ports are read as text so that a bad one is named with its range, not as CLI11's joined
// conversion failure.
CLI::Option* OptionTable::portsOption(const std::string& name, std::vector<uint16_t>* target,
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
}

// Where to listen.
void OptionTable::addListenerOptions(ListenOptions& o) {
  option(listen->add_option("--stream", o.streams,
                            "Firehose delivery stream name (repeatable: records are spread over "
                            "the streams by what each accepts)"));
  option(listen->add_option("--address", o.address, "Address to listen on")->capture_default_str());
  portsOption("--udp-port", &o.udpPorts, "UDP port (repeatable; 0 disables)");
  portsOption("--tcp-port", &o.tcpPorts, "TCP port (repeatable; 0 disables)");
  tlsPort = portsOption("--tls-port", &o.tlsPorts,
                        "TLS port (repeatable; default 6514 with --cert and --key)");
}

// TLS (RFC 5425) and the PROXY protocol.
void OptionTable::addTlsOptions(ListenOptions& o) {
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
}

// Spool, destination, AWS, records and metrics.
void OptionTable::addDestinationOptions(ListenOptions& o) {
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
}

// Input, logging, batching, limits and shutdown.
void OptionTable::addTuningOptions(ListenOptions& o) {
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
}

}  // namespace kinesyslog::app
