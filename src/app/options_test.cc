#include "app/options.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <vector>

namespace kinesyslog::app {
namespace {

CommandLine parse(std::vector<const char*> words) {
  words.insert(words.begin(), "kinesyslog");
  return parseCommandLine(static_cast<int>(words.size()), words.data());
}

TEST(ParseByteSize, AcceptsSuffixes) {
  EXPECT_EQ(parseByteSize("4096"), 4096u);
  EXPECT_EQ(parseByteSize("4K"), 4096u);
  EXPECT_EQ(parseByteSize("4M"), 4u << 20);
  EXPECT_EQ(parseByteSize("1G"), 1u << 30);
  EXPECT_EQ(parseByteSize("2k"), 2048u);
  EXPECT_EQ(parseByteSize("2KiB"), std::nullopt);
  EXPECT_EQ(parseByteSize("2Ki"), std::nullopt);
  EXPECT_EQ(parseByteSize(""), std::nullopt);
  EXPECT_EQ(parseByteSize("M"), std::nullopt);
  EXPECT_EQ(parseByteSize("-1"), std::nullopt);
  EXPECT_EQ(parseByteSize("1.5M"), std::nullopt);
}

TEST(ParseSeconds, DecimalNumbersOnly) {
  EXPECT_EQ(parseSeconds("0.2"), 0.2);
  EXPECT_EQ(parseSeconds("60"), 60.0);
  EXPECT_EQ(parseSeconds("soon"), std::nullopt);
  EXPECT_EQ(parseSeconds("1s"), std::nullopt);
  EXPECT_EQ(parseSeconds("inf"), std::nullopt);
  EXPECT_EQ(parseSeconds(""), std::nullopt);
}

TEST(ParsePort, Range) {
  EXPECT_EQ(parsePort("0"), 0);
  EXPECT_EQ(parsePort("65535"), 65535);
  EXPECT_EQ(parsePort("65536"), std::nullopt);
  EXPECT_EQ(parsePort("-1"), std::nullopt);
  EXPECT_EQ(parsePort("5x"), std::nullopt);
  EXPECT_EQ(parsePort(""), std::nullopt);
}

TEST(CommandLine, ListenWithRepeatedPortsAndSizes) {
  auto c = parse({"listen", "--tcp-port", "5514", "--tcp-port", "5515", "--udp-port", "5514",
                  "--output-dir", "/x", "--flush-size", "1M", "--max-message-size", "128K"});
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.command, CommandLine::Command::kListen);
  EXPECT_EQ(c.listen.tcpPorts, (std::vector<uint16_t>{5514, 5515}));
  EXPECT_EQ(c.listen.udpPorts, (std::vector<uint16_t>{5514}));
  EXPECT_EQ(c.listen.flushSize, 1u << 20);
  EXPECT_EQ(c.listen.maxMessageSize, 128u * 1024);
  EXPECT_GE(c.listen.workers, 1u);
  EXPECT_TRUE(c.listen.tlsPorts.empty());
}

TEST(CommandLine, UsageErrorsExitTwo) {
  EXPECT_EQ(parse({"listen", "--no-such-option"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--max-message-size", "300000"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--rfc3164-timezone", "Mars/Olympus"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--compression-level", "13"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--tcp-port", "70000"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--flush-size", "lots"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--flush-size", "2G", "--udp-port", "1"}).exitCode, 2);
  EXPECT_EQ(parse({}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--flush-interval", "0"}).exitCode, 2);
  auto ok = parse({"listen", "--flush-interval", "0.25", "--udp-port", "1"});
  EXPECT_FALSE(ok.finished);
  EXPECT_EQ(ok.listen.flushIntervalSeconds, 0.25);
}

TEST(CommandLine, PartialBudgetHoldsOneMaximumMessagePerWorker) {
  // Each worker owns budget / workers and must be able to hold one message of the maximum size.
  auto fits = parse({"listen", "--udp-port", "1", "--workers", "4", "--max-message-size", "64K",
                     "--partial-budget", "256K"});
  EXPECT_FALSE(fits.finished);
  EXPECT_EQ(fits.listen.partialBudget, 256u * 1024);
  EXPECT_EQ(parse({"listen", "--udp-port", "1", "--workers", "4", "--max-message-size", "64K",
                   "--partial-budget", "255K"})
                .exitCode,
            2);
  EXPECT_EQ(parse({"listen", "--udp-port", "1", "--partial-budget", "0"}).exitCode, 2);
}

// Values with which the relay would start but could never deliver are usage errors.
TEST(CommandLine, SettingsThatCanNeverDeliverAreRefused) {
  auto exitCode = [](std::vector<const char*> words) {
    words.insert(words.begin(), {"listen", "--udp-port", "1", "--output-dir", "/x"});
    const CommandLine c = parse(words);
    return c.finished ? c.exitCode : -1;  // -1: accepted
  };
  // The spool must hold one record of the largest size (1,024,000 bytes).
  EXPECT_EQ(exitCode({"--spool-max-bytes", "0"}), 2);
  EXPECT_EQ(exitCode({"--spool-max-bytes", "1023999"}), 2);
  EXPECT_EQ(exitCode({"--spool-max-bytes", "1024000"}), -1);
  EXPECT_EQ(exitCode({"--spool-max-bytes", "1M"}), -1);
  // Each worker's share of the partial budget must hold one message of --max-message-size.
  EXPECT_EQ(exitCode({"--partial-budget", "0"}), 2);
  EXPECT_EQ(exitCode({"--partial-budget", "65535", "--workers", "1"}), 2);
  EXPECT_EQ(exitCode({"--partial-budget", "64K", "--workers", "1"}), -1);
  EXPECT_EQ(exitCode({"--partial-budget", "64K", "--workers", "2"}), 2);
  EXPECT_EQ(exitCode({"--partial-budget", "128K", "--workers", "2"}), -1);
  EXPECT_EQ(exitCode({"--partial-budget", "1K", "--max-message-size", "1K", "--workers", "1"}), -1);
  EXPECT_EQ(exitCode({"--workers", "0"}), 2);
  EXPECT_EQ(exitCode({"--workers", "-1"}), 2);
  EXPECT_EQ(exitCode({"--workers", "1"}), -1);
  EXPECT_EQ(exitCode({"--flush-size", "0"}), 2);
  EXPECT_EQ(exitCode({"--flush-size", "1023"}), 2);
  EXPECT_EQ(exitCode({"--flush-size", "1K"}), -1);
  EXPECT_EQ(exitCode({"--flush-interval", "0"}), 2);
  EXPECT_EQ(exitCode({"--flush-interval", "-1"}), 2);
  EXPECT_EQ(exitCode({"--flush-interval", "0.001"}), -1);
  EXPECT_EQ(exitCode({"--shutdown-grace", "0"}), 2);
  EXPECT_EQ(exitCode({"--shutdown-grace", "-5"}), 2);
  EXPECT_EQ(exitCode({"--shutdown-grace", "0.001"}), -1);
  EXPECT_EQ(exitCode({"--max-message-size", "0"}), 2);
  EXPECT_EQ(exitCode({"--tls-handshake-timeout", "0"}), 2);
  EXPECT_EQ(exitCode({"--compression-level", "0"}), 2);
}

TEST(CommandLine, TlsPortDefaultsOnlyWithCertAndKey) {
  auto c = parse({"listen", "--cert", "c.pem", "--key", "k.pem", "--output-dir", "/x"});
  EXPECT_EQ(c.listen.tlsPorts, (std::vector<uint16_t>{6514}));
  auto d = parse({"listen", "--cert", "c.pem", "--output-dir", "/x"});
  EXPECT_TRUE(d.listen.tlsPorts.empty());
}

TEST(CommandLine, TlsOptions) {
  auto c = parse({"listen", "--cert", "c.pem", "--key", "k.pem", "--output-dir", "/x"});
  EXPECT_EQ(c.listen.verifyClient, "none");
  EXPECT_EQ(c.listen.tlsMinVersion, "1.2");
  EXPECT_EQ(c.listen.tlsHandshakeTimeoutSeconds, 10);
  // --ca alone means client certificates are required (docs/design.md "Command line").
  auto m = parse({"listen",
                  "--cert",
                  "c.pem",
                  "--key",
                  "k.pem",
                  "--ca",
                  "ca.pem",
                  "--crl",
                  "ca.crl",
                  "--allowed-peer",
                  "a.example.com",
                  "--allowed-peer",
                  "*.example.net",
                  "--tls-min-version",
                  "1.3",
                  "--tls-ciphers",
                  "ECDHE-RSA-AES128-GCM-SHA256",
                  "--tls-handshake-timeout",
                  "0.5",
                  "--output-dir",
                  "/x"});
  ASSERT_FALSE(m.finished);
  EXPECT_EQ(m.listen.verifyClient, "required");
  EXPECT_EQ(m.listen.crl, "ca.crl");
  EXPECT_EQ(m.listen.allowedPeers, (std::vector<std::string>{"a.example.com", "*.example.net"}));
  EXPECT_EQ(m.listen.tlsMinVersion, "1.3");
  EXPECT_EQ(m.listen.tlsCiphers, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(m.listen.tlsHandshakeTimeoutSeconds, 0.5);
  auto o = parse({"listen", "--ca", "ca.pem", "--verify-client", "optional", "--output-dir", "/x"});
  EXPECT_EQ(o.listen.verifyClient, "optional");

  EXPECT_EQ(parse({"listen", "--tls-min-version", "1.1"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--verify-client", "maybe"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--allowed-peer", "a*.example.com", "--udp-port", "1"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--tls-handshake-timeout", "0", "--udp-port", "1"}).exitCode, 2);

  ::setenv("KINESYSLOG_ALLOWED_PEER", "a.example.com b.example.com", 1);
  auto e = parse({"listen", "--udp-port", "1"});
  ::unsetenv("KINESYSLOG_ALLOWED_PEER");
  EXPECT_EQ(e.listen.allowedPeers, (std::vector<std::string>{"a.example.com", "b.example.com"}));
}

TEST(CommandLine, ProxyTrustedNetworks) {
  auto c = parse({"listen", "--tcp-port", "1", "--proxy-trusted", "10.0.0.0/16", "--proxy-trusted",
                  "2001:db8::/32", "--proxy-trusted", "192.0.2.7"});
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.proxyTrusted,
            (std::vector<std::string>{"10.0.0.0/16", "2001:db8::/32", "192.0.2.7"}));
  EXPECT_EQ(parse({"listen", "--tcp-port", "1", "--proxy-trusted", "10.0.0.1/16"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--tcp-port", "1", "--proxy-trusted", "vpc"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--tcp-port", "1", "--proxy-trusted", "::/129"}).exitCode, 2);

  ::setenv("KINESYSLOG_PROXY_TRUSTED", "10.0.0.0/16 10.1.0.0/16", 1);
  auto e = parse({"listen", "--tcp-port", "1"});
  ::setenv("KINESYSLOG_PROXY_TRUSTED", "10.0.0.0/16 10.1.0.0/33", 1);
  auto bad = parse({"listen", "--tcp-port", "1"});
  ::unsetenv("KINESYSLOG_PROXY_TRUSTED");
  EXPECT_EQ(e.listen.proxyTrusted, (std::vector<std::string>{"10.0.0.0/16", "10.1.0.0/16"}));
  EXPECT_EQ(bad.exitCode, 2);
}

TEST(CommandLine, EnvironmentFillsWhatTheCommandLineLeftOut) {
  ::setenv("KINESYSLOG_TCP_PORT", "514 1514", 1);
  ::setenv("KINESYSLOG_UDP_PORT", "9", 1);
  ::setenv("KINESYSLOG_DEBUG", "true", 1);
  ::setenv("KINESYSLOG_OUTPUT_DIR", "/from/env", 1);
  auto c = parse({"listen", "--udp-port", "7"});
  ::unsetenv("KINESYSLOG_TCP_PORT");
  ::unsetenv("KINESYSLOG_UDP_PORT");
  ::unsetenv("KINESYSLOG_DEBUG");
  ::unsetenv("KINESYSLOG_OUTPUT_DIR");
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.tcpPorts, (std::vector<uint16_t>{514, 1514}));
  EXPECT_EQ(c.listen.udpPorts, (std::vector<uint16_t>{7}));  // the command line wins
  EXPECT_TRUE(c.listen.debug);
  EXPECT_EQ(c.listen.outputDir, "/from/env");
}

TEST(CommandLine, LogFormatTextOrJsonAlsoFromTheEnvironment) {
  EXPECT_EQ(parse({"listen", "--udp-port", "7"}).listen.logFormat, "text");
  EXPECT_EQ(parse({"listen", "--udp-port", "7", "--log-format", "json"}).listen.logFormat, "json");
  EXPECT_EQ(parse({"listen", "--udp-port", "7", "--log-format", "xml"}).exitCode, 2);
  ::setenv("KINESYSLOG_LOG_FORMAT", "json", 1);
  auto c = parse({"listen", "--udp-port", "7"});
  ::unsetenv("KINESYSLOG_LOG_FORMAT");
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.logFormat, "json");
}

TEST(CommandLine, StreamIsRepeatableOnTheCommandLineAndInTheEnvironment) {
  auto c = parse({"listen", "--stream", "logs-a", "--stream", "logs-b", "--tcp-port", "1"});
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.streams, (std::vector<std::string>{"logs-a", "logs-b"}));
  ::setenv("KINESYSLOG_STREAM", "logs-1 logs-2  logs-3", 1);
  auto e = parse({"listen", "--tcp-port", "1"});
  auto wins = parse({"listen", "--stream", "mine", "--tcp-port", "1"});
  ::unsetenv("KINESYSLOG_STREAM");
  ASSERT_FALSE(e.finished);
  EXPECT_EQ(e.listen.streams, (std::vector<std::string>{"logs-1", "logs-2", "logs-3"}));
  EXPECT_EQ(wins.listen.streams, (std::vector<std::string>{"mine"}));
}

TEST(CommandLine, MalformedEnvironmentValueIsAUsageError) {
  ::setenv("KINESYSLOG_FLUSH_INTERVAL", "soon", 1);
  auto c = parse({"listen", "--udp-port", "7"});
  ::unsetenv("KINESYSLOG_FLUSH_INTERVAL");
  EXPECT_EQ(c.exitCode, 2);
}

TEST(CommandLine, MetricsEndpointOptions) {
  auto c = parse({"listen", "--udp-port", "7"});
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.prometheusPort, 0);  // off
  EXPECT_EQ(c.listen.prometheusAddress, "0.0.0.0");
  EXPECT_EQ(c.listen.unhealthySpoolAgeSeconds, 300);

  ::setenv("KINESYSLOG_PROMETHEUS_PORT", "9100", 1);
  ::setenv("KINESYSLOG_PROMETHEUS_ADDRESS", "127.0.0.1", 1);
  ::setenv("KINESYSLOG_UNHEALTHY_SPOOL_AGE", "45", 1);
  c = parse({"listen", "--udp-port", "7"});
  ::unsetenv("KINESYSLOG_PROMETHEUS_PORT");
  ::unsetenv("KINESYSLOG_PROMETHEUS_ADDRESS");
  ::unsetenv("KINESYSLOG_UNHEALTHY_SPOOL_AGE");
  ASSERT_FALSE(c.finished);
  EXPECT_EQ(c.listen.prometheusPort, 9100);
  EXPECT_EQ(c.listen.prometheusAddress, "127.0.0.1");
  EXPECT_EQ(c.listen.unhealthySpoolAgeSeconds, 45);

  EXPECT_EQ(parse({"listen", "--udp-port", "7", "--prometheus-port", "70000"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--udp-port", "7", "--unhealthy-spool-age", "0"}).exitCode, 2);
  EXPECT_EQ(parse({"listen", "--udp-port", "7", "--unhealthy-spool-age", "soon"}).exitCode, 2);
}

TEST(CommandLine, Dump) {
  auto c = parse({"dump", "--json", "a", "b"});
  EXPECT_EQ(c.command, CommandLine::Command::kDump);
  EXPECT_TRUE(c.dump.json);
  EXPECT_EQ(c.dump.files, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace kinesyslog::app
