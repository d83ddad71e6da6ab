#include "app/listen_command.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "app/firehose_destination.h"
#include "app/log_format.h"
#include "app/relay_endpoint.h"
#include "app/relay_signals.h"
#include "deliver/output_directory_target.h"
#include "deliver/uploader.h"
#include "metrics/relay_counters.h"
#include "net/backpressure.h"
#include "net/connection_limit.h"
#include "net/listen_socket.h"
#include "net/sender_address_steering.h"
#include "net/tls_context.h"
#include "net/worker.h"
#include "proto/syslog/local_zone.h"
#include "record/batch_buffer_pool.h"
#include "record/encoder_pool.h"
#include "record/journal_replay.h"
#include "spool/journal_syncer.h"
#include "spool/message_journal.h"
#include "spool/spool_directory.h"
#include "util/clock.h"
#include "util/startup_error.h"

namespace kinesyslog::app {

namespace {

constexpr const char* kOutputDirOwner = "000000000000";  // docs/design.md "Records": owner

// The relay keeps one descriptor per connection; the soft limit (often 1024) would refuse
// senders long before the machine is busy.
// Batches and records are megabytes each and live briefly on several threads. glibc's dynamic
// mmap threshold would move such blocks into per-thread heaps that are never given back, so
// the resident set would creep to the high-water mark of every arena. A fixed threshold keeps
// them mmap'd (returned on free) and a few arenas bound the rest.
void boundAllocatorMemory() {
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  ::mallopt(M_ARENA_MAX, 4);
}

// Spool writes still failing this long after the shutdown grace are given up (counted; the
// journal keeps their messages).
constexpr auto kEncoderGrace = std::chrono::seconds(5);
// The last resort: a disk or network that does not even answer (a hung fsync) must not keep the
// process from ending. Past the grace and this margin, the process exits at once, non-zero.
constexpr auto kShutdownWatchdogMargin = std::chrono::seconds(15);
constexpr int kExitShutdownStuck = 70;  // EX_SOFTWARE

void startShutdownWatchdog(std::chrono::steady_clock::time_point deadline) {
  std::thread([deadline] {
    std::this_thread::sleep_until(deadline + kShutdownWatchdogMargin);
    spdlog::critical(
        "shutdown still not finished {} s after the grace: the disk or network does not answer; "
        "exiting now (unspooled messages stay in the journal); counters: {}",
        std::chrono::duration_cast<std::chrono::seconds>(kShutdownWatchdogMargin).count(),
        metrics::counters().format());
    spdlog::shutdown();
    std::_Exit(kExitShutdownStuck);
  }).detach();
}

void raiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Connections share the descriptor limit with what the relay opens as it runs (spool files,
// journal segments, uploads): accepting stops at the limit less those (net/connection_limit.h).
// Called once everything of the start is open, the listening sockets included.
void limitConnections(net::Backpressure& backpressure, const ListenOptions& o) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  const uint64_t open = net::openDescriptorCount();
  const uint64_t most = net::connectionLimit(limit.rlim_cur, open,
                                             net::descriptorReserve(o.workers, o.streams.size()));
  backpressure.setMaxConnections(most);
  spdlog::info("connections: at most {} open at once (descriptor limit {}, {} in use at start)",
               most, limit.rlim_cur, open);
}

std::vector<uint16_t> enabledPorts(const std::vector<uint16_t>& ports) {
  std::vector<uint16_t> enabled;
  for (uint16_t port : ports) {
    // Port 0 disables a listener, as in kinesyslog 2.x (docs/design.md "Inputs"); repeats are
    // opened once.
    if (port != 0 && std::find(enabled.begin(), enabled.end(), port) == enabled.end()) {
      enabled.push_back(port);
    }
  }
  return enabled;
}

void requireDestination(const ListenOptions& o) {
  if (o.outputDir.empty() && o.streams.empty()) {
    throw StartupError(kExitConfig,
                       "no destination: give --stream NAME (Firehose) or --output-dir DIR");
  }
  for (size_t i = 0; i < o.streams.size(); ++i) {
    if (std::find(o.streams.begin(), o.streams.begin() + i, o.streams[i]) !=
        o.streams.begin() + i) {
      throw StartupError(kExitConfig, "--stream " + o.streams[i] + " is given twice");
    }
  }
}

net::TlsSettings tlsSettingsFrom(const ListenOptions& o) {
  net::TlsSettings s;
  s.certFile = o.cert;
  s.keyFile = o.key;
  s.caFile = o.ca;
  s.crlFile = o.crl;
  s.verifyClient = o.verifyClient == "required"   ? net::VerifyClient::kRequired
                   : o.verifyClient == "optional" ? net::VerifyClient::kOptional
                                                  : net::VerifyClient::kNone;
  s.allowedPeers = o.allowedPeers;
  if (!o.tlsCiphers.empty()) s.ciphers = o.tlsCiphers;
  s.minVersion = o.tlsMinVersion == "1.3" ? net::TlsMinVersion::kTls13 : net::TlsMinVersion::kTls12;
  return s;
}

std::string describeClientVerification(const net::TlsSettings& s) {
  std::string text = "client certificates ";
  switch (s.verifyClient) {
    case net::VerifyClient::kNone:
      return text + "not requested";
    case net::VerifyClient::kOptional:
      text += s.allowedPeers.empty() ? "optional" : "required (--allowed-peer)";
      break;
    case net::VerifyClient::kRequired:
      text += "required";
      break;
  }
  text += ", CA " + s.caFile;
  if (!s.crlFile.empty()) text += ", CRL " + s.crlFile;
  if (!s.allowedPeers.empty())
    text += ", " + std::to_string(s.allowedPeers.size()) + " allowed peer names";
  return text;
}

// SIGHUP (RFC 5425 deployments rotate certificates): the files are read and the new context
// checked completely before it replaces the old one; a broken file keeps the old context.
// Open connections keep the context they were accepted with.
void reloadTls(net::TlsContextHolder* holder, const net::TlsSettings& settings) {
  if (holder == nullptr) {
    spdlog::info("SIGHUP received: no TLS listener, nothing to reload");
    return;
  }
  try {
    auto context = net::TlsContext::load(settings);
    const std::string summary = context->certificateSummary();
    holder->replace(std::move(context));
    metrics::counters().add(metrics::Counter::kTlsReloads);
    spdlog::info(
        "SIGHUP received: TLS certificate, key, CA and CRL reloaded; new connections get "
        "certificate {}",
        summary);
  } catch (const StartupError& e) {
    metrics::counters().add(metrics::Counter::kTlsReloadFailures);
    spdlog::error("SIGHUP received: TLS reload failed, keeping the current certificate: {}",
                  e.what());
  }
}

// --proxy-protocol marks listeners; a port that is not one would silently do nothing, and a
// PROXY sender pointed at it would have its header taken for a message.
void checkProxyProtocolPorts(const ListenOptions& o) {
  const auto tcp = enabledPorts(o.tcpPorts);
  const auto tls = enabledPorts(o.tlsPorts);
  for (uint16_t port : enabledPorts(o.proxyProtocolPorts)) {
    if (std::find(tcp.begin(), tcp.end(), port) == tcp.end() &&
        std::find(tls.begin(), tls.end(), port) == tls.end()) {
      throw StartupError(kExitConfig, fmt::format("--proxy-protocol {}: not an enabled "
                                                  "--tcp-port or --tls-port",
                                                  port));
    }
  }
  // Nothing to protect, and nothing exposed: a warning, not a refusal.
  if (!o.proxyTrusted.empty() && enabledPorts(o.proxyProtocolPorts).empty()) {
    spdlog::warn("--proxy-trusted has no effect without a --proxy-protocol port");
  } else if (!o.proxyTrusted.empty()) {
    spdlog::info("PROXY protocol ports accept connections only from {}",
                 fmt::join(o.proxyTrusted, ", "));
  }
}

// The networks were validated with the command line (a bad one is a usage error).
net::ProxyTrust proxyTrustOf(const ListenOptions& o) {
  std::vector<net::IpNetwork> networks;
  for (const auto& text : o.proxyTrusted) networks.push_back(*net::parseNetwork(text).network);
  return net::ProxyTrust(std::move(networks));
}

// One socket per worker for a UDP port, in worker order. With --gelf and several workers the
// port's reuseport group then sends every GELF chunk of one sender address to one worker
// (net/sender_address_steering.h), attached once every socket has joined so that socket i is
// worker i's. Whole datagrams, and syslog, keep the kernel's 4-tuple hash. If the kernel refuses
// the program, only worker 0 keeps the port: one thread reads it, but the chunks of one message
// still meet (docs/operations.md, "GELF").
std::vector<int> openUdpSockets(const ListenOptions& o, uint16_t port) {
  std::vector<int> fds;
  for (unsigned i = 0; i < o.workers; ++i) {
    fds.push_back(net::openReusePortSocket(o.address, port, net::Transport::kUdp));
  }
  if (!o.gelf || fds.size() < 2) return fds;
  const int error = net::steerChunksBySenderAddress(fds[0], static_cast<unsigned>(fds.size()));
  if (error == 0) return fds;
  spdlog::warn(
      "GELF UDP port {}: the kernel refused the program that keeps each sender's chunks on one "
      "worker (SO_ATTACH_REUSEPORT_CBPF: {}); worker 0 alone reads this port, so that chunks "
      "sent from several source ports still meet",
      port, std::strerror(error));
  for (size_t i = 1; i < fds.size(); ++i) ::close(fds[i]);
  fds.resize(1);
  return fds;
}

// The relay's counters with the uploader's delivery counts added (they live in the uploader
// until exit), for the SIGUSR1 line and the final line.
std::string countersLine(const deliver::Uploader& uploader) {
  const auto& delivery = uploader.counters();
  const std::pair<metrics::Counter, uint64_t> plus[] = {
      {metrics::Counter::kRecordsDelivered, delivery.recordsDelivered.load()},
      // Records not accepted, counted per attempt (a record retried three times counts three).
      {metrics::Counter::kDeliveryFailures, delivery.recordFailures.load()},
  };
  return metrics::counters().format(plus);
}

}  // namespace

int runListen(const ListenOptions& o) {
  // Signals are taken by waitForSignal() below; every thread started from here on inherits
  // the mask.
  takeOverSignals();

  setUpLogging(logFormatNamed(o.logFormat), o.debug);
  boundAllocatorMemory();
  requireDestination(o);

  const auto udpPorts = enabledPorts(o.udpPorts);
  const auto tcpPorts = enabledPorts(o.tcpPorts);
  const auto tlsPorts = enabledPorts(o.tlsPorts);
  if (udpPorts.empty() && tcpPorts.empty() && tlsPorts.empty()) {
    throw StartupError(kExitConfig,
                       "no listener enabled: give --udp-port, --tcp-port or --tls-port (with "
                       "--cert and --key)");
  }
  for (uint16_t port : tlsPorts) {
    if (std::find(tcpPorts.begin(), tcpPorts.end(), port) != tcpPorts.end()) {
      throw StartupError(kExitConfig, "port " + std::to_string(port) +
                                          " is given both as --tcp-port and as --tls-port");
    }
  }
  checkProxyProtocolPorts(o);
  // TLS files are checked before anything else is opened or asked of AWS: a bad certificate
  // or key is a configuration error named in one line.
  const net::TlsSettings tlsSettings = tlsSettingsFrom(o);
  std::unique_ptr<net::TlsContextHolder> tls;
  if (!tlsPorts.empty()) {
    tls = std::make_unique<net::TlsContextHolder>(net::TlsContext::load(tlsSettings));
    spdlog::info("TLS certificate {}; {}", tls->current()->certificateSummary(),
                 describeClientVerification(tlsSettings));
  } else if (!o.ca.empty() || !o.crl.empty() || !o.allowedPeers.empty()) {
    spdlog::warn("--ca, --crl and --allowed-peer are ignored: no TLS listener is enabled");
  }
  const auto zone = syslog::LocalZone::find(o.rfc3164Timezone);
  if (!zone) throw StartupError(kExitUsage, "unknown time zone " + o.rfc3164Timezone);

  // Destination and spool before any listener opens: nothing is accepted that cannot be kept.
  std::unique_ptr<deliver::OutputDirectoryTarget> outputDirectory;
  std::unique_ptr<FirehoseDestination> firehose;
  std::vector<deliver::UploadStream> uploadStreams;
  std::string destination;
  std::string owner;
  if (!o.outputDir.empty()) {
    if (!o.region.empty() || !o.profile.empty() || !o.endpointUrl.empty() ||
        !o.stsEndpointUrl.empty()) {
      spdlog::warn("--output-dir is set: AWS options (--region, --profile, endpoints) are ignored");
    }
    // The output directory is one local destination: streams beyond the first only name
    // nothing, and one request at a time keeps the objects in spool order.
    if (o.streams.size() > 1) {
      spdlog::warn("--output-dir is set: only the first --stream ({}) is used, to name objects",
                   o.streams.front());
    }
    outputDirectory = std::make_unique<deliver::OutputDirectoryTarget>(
        o.outputDir, o.streams.empty() ? "kinesyslog" : o.streams.front(), SystemClock::instance());
    uploadStreams.push_back(
        {o.streams.empty() ? "kinesyslog" : o.streams.front(), {outputDirectory.get()}, false});
    destination = outputDirectory->describe();
    owner = o.owner.empty() ? kOutputDirOwner : o.owner;
  } else {
    firehose = std::make_unique<FirehoseDestination>(o, SystemClock::instance());
    uploadStreams = firehose->uploadStreams();
    destination = firehose->describe();
    owner = firehose->owner();
  }
  spool::SpoolDirectory spool(o.spoolDir, o.spoolMaxBytes);
  const auto recovery = spool.recover();
  metrics::counters().add(metrics::Counter::kSpoolRecovered, recovery.recovered);
  metrics::counters().add(metrics::Counter::kSpoolCorrupt, recovery.corrupt);
  if (recovery.recovered > 0 || recovery.corrupt > 0 || recovery.temporaryDiscarded > 0) {
    spdlog::info(
        "spool {}: {} records ({} bytes) from an earlier run queued for delivery first, "
        "{} corrupt moved to corrupt/, {} torn temporary files discarded",
        o.spoolDir, recovery.recovered, recovery.recoveredBytes, recovery.corrupt,
        recovery.temporaryDiscarded);
  }

  // What an earlier run had read but not spooled when it died, before any listener opens.
  const auto replay = record::replayJournal(o.spoolDir, spool, owner, o.compressionLevel);
  metrics::counters().add(metrics::Counter::kJournalReplayedMessages, replay.messages);
  metrics::counters().add(metrics::Counter::kJournalReplaySkipped, replay.alreadySpooled);
  metrics::counters().add(metrics::Counter::kJournalCorruptSegments, replay.corruptSegments);

  for (uint16_t port : udpPorts) net::ensurePortFree(o.address, port, net::Transport::kUdp);
  for (uint16_t port : tcpPorts) net::ensurePortFree(o.address, port, net::Transport::kTcp);
  for (uint16_t port : tlsPorts) net::ensurePortFree(o.address, port, net::Transport::kTcp);

  deliver::Uploader uploader(spool, std::move(uploadStreams), deliver::UploaderOptions{});
  // The metrics port is bound before any listener opens, so a port in use ends the start.
  std::unique_ptr<RelayEndpoint> endpoint;
  if (o.prometheusPort != 0) {
    endpoint = std::make_unique<RelayEndpoint>(o, spool, uploader,
                                               firehose ? &firehose->targets() : nullptr);
    endpoint->start();
  }
  uploader.start();
  // Spare batch buffers: about one flush per worker, the buffer each worker fills next while
  // its last one is encoded (docs/design.md "Performance targets" budgets two flushes per worker).
  record::BatchBufferPool batchBuffers(o.flushSize * o.workers + o.flushSize / 4);
  record::EncoderPool encoders(o.workers, owner, o.compressionLevel, spool, &batchBuffers);
  // docs/design.md "Performance targets" budgets memory at 2 flushes per worker: the batch being
  // filled and one being encoded. Encoders further behind than one flush per worker count as a full
  // spool for intake, so a burst waits in the kernel instead of in our heap.
  net::Backpressure backpressure([&spool] { return spool.full(); },
                                 [&encoders] { return encoders.queuedBytes(); },
                                 o.flushSize * o.workers);

  // One journal per I/O thread: what a read returned is written there before it joins a batch.
  std::vector<std::unique_ptr<spool::MessageJournal>> journals;
  std::unique_ptr<spool::JournalSyncer> journalSyncer;
  if (!o.noJournal) {
    const std::string run = spool::newJournalRun();
    // About one flush per segment: a segment goes once the batches that opened in it are
    // spooled, so a few segments per worker are on disk at a time.
    const uint64_t segmentBytes = std::max<uint64_t>(o.flushSize, 1 << 20);
    std::vector<spool::MessageJournal*> synced;
    for (unsigned i = 0; i < o.workers; ++i) {
      journals.push_back(std::make_unique<spool::MessageJournal>(o.spoolDir, run, i, segmentBytes,
                                                                 o.journalSyncSeconds == 0));
      synced.push_back(journals.back().get());
    }
    if (o.journalSyncSeconds > 0) {
      journalSyncer = std::make_unique<spool::JournalSyncer>(
          synced, std::chrono::milliseconds(static_cast<int64_t>(o.journalSyncSeconds * 1000)));
    }
  }

  raiseDescriptorLimit();
  net::WorkerOptions workerOptions;
  workerOptions.maxMessageSize = o.maxMessageSize;
  workerOptions.zone = &*zone;
  workerOptions.flushSizeBytes = o.flushSize;
  workerOptions.flushIntervalMicros = static_cast<int64_t>(o.flushIntervalSeconds * 1e6);
  workerOptions.groupPrefix = o.groupPrefix;
  workerOptions.gelf = o.gelf;
  workerOptions.batchBuffers = &batchBuffers;
  workerOptions.tlsHandshakeTimeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.tlsHandshakeTimeoutSeconds * 1000));
  workerOptions.proxyProtocolPorts = enabledPorts(o.proxyProtocolPorts);
  workerOptions.proxyTrust = proxyTrustOf(o);
  // Each worker owns an equal share, so the shares add up to a hard bound without any worker
  // touching another's connections.
  workerOptions.partialBudgetBytes = o.partialBudget / o.workers;
  const bool ipv6 = o.address.find(':') != std::string::npos;
  std::vector<std::vector<int>> udpSockets;  // [port][worker]
  for (uint16_t port : udpPorts) udpSockets.push_back(openUdpSockets(o, port));
  std::vector<std::unique_ptr<net::Worker>> workers;
  for (unsigned i = 0; i < o.workers; ++i) {
    auto worker = std::make_unique<net::Worker>(i, workerOptions, encoders, backpressure,
                                                journals.empty() ? nullptr : journals[i].get());
    for (size_t p = 0; p < udpPorts.size(); ++p) {
      if (i < udpSockets[p].size()) worker->addUdpSocket(udpSockets[p][i], udpPorts[p], ipv6);
    }
    for (uint16_t port : tcpPorts) {
      worker->addTcpListener(net::openReusePortSocket(o.address, port, net::Transport::kTcp), port,
                             ipv6);
    }
    for (uint16_t port : tlsPorts) {
      worker->addTcpListener(net::openReusePortSocket(o.address, port, net::Transport::kTcp), port,
                             ipv6, tls.get());
    }
    workers.push_back(std::move(worker));
  }
  limitConnections(backpressure, o);
  for (auto& worker : workers) worker->start();
  if (endpoint) endpoint->setListenersOpen(udpPorts.size() + tcpPorts.size() + tlsPorts.size());

  std::string listening;
  for (uint16_t port : udpPorts) listening += fmt::format("udp {}:{}, ", o.address, port);
  for (uint16_t port : tcpPorts) {
    listening += fmt::format("tcp {}:{}{}, ", o.address, port,
                             workerOptions.expectsProxyHeader(port) ? " (PROXY protocol)" : "");
  }
  for (uint16_t port : tlsPorts) {
    listening += fmt::format("tls {}:{}{}, ", o.address, port,
                             workerOptions.expectsProxyHeader(port) ? " (PROXY protocol)" : "");
  }
  listening.resize(listening.size() - 2);
  if (endpoint) {
    listening +=
        fmt::format("; metrics http://{}:{}/metrics", o.prometheusAddress, endpoint->port());
  }
  spdlog::info("ready: {} ({}); {} workers; spool {}; delivering to {}", listening,
               o.gelf ? "GELF" : "syslog", o.workers, o.spoolDir, destination);

  int signal = 0;
  for (bool running = true; running;) {
    signal = waitForSignal();
    switch (signalAction(signal)) {
      case SignalAction::kDrain:
        running = false;
        break;
      case SignalAction::kReloadTls:
        reloadTls(tls.get(), tlsSettings);
        break;
      case SignalAction::kLogCounters:
        spdlog::info("counters: {}", countersLine(uploader));
        break;
      case SignalAction::kIgnore:
        spdlog::debug("{} received: ignored", signalName(signal));
        break;
    }
  }
  spdlog::info("{} received: draining connections and delivering (grace {} s)", signalName(signal),
               o.shutdownGraceSeconds);

  // Load balancers stop sending here while the relay drains.
  if (endpoint) endpoint->setListenersOpen(0);
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(o.shutdownGraceSeconds * 1000));
  startShutdownWatchdog(deadline);
  for (auto& worker : workers) worker->requestShutdown(deadline);
  for (auto& worker : workers) worker->join();
  // Encoding what the workers flushed takes well under a second when the disk works; a disk that
  // refuses writes is given up on a few seconds past the grace, so SIGTERM always ends.
  const uint64_t unspooled =
      encoders.drainAndStop(std::max(deadline, std::chrono::steady_clock::now()) + kEncoderGrace);
  journalSyncer.reset();  // one last sync of every journal
  uint64_t journaledBatches = 0;
  for (auto& journal : journals) journaledBatches += journal->finish();
  if (unspooled > 0) {
    spdlog::error(
        "shutdown: {} messages could not be written to the spool {} in time (the disk refused "
        "them); {}",
        unspooled, o.spoolDir,
        journals.empty() ? "they are lost (--no-journal)"
                         : fmt::format("the journal keeps them ({} batches) and the next start "
                                       "replays them",
                                       journaledBatches));
  }
  const bool delivered = uploader.drainAndStop(deadline);
  if (!delivered) {
    spdlog::warn("shutdown grace over: {} records stay in the spool {} for the next start",
                 spool.pendingCount(), o.spoolDir);
  }
  if (endpoint) endpoint->stop();
  spdlog::info("final counters: {}", countersLine(uploader));
  return unspooled > 0 ? kExitUnspooled : kExitOk;
}

}  // namespace kinesyslog::app
