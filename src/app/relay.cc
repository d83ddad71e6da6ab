// Covered by tests/integration/test_startup.py, tests/integration/test_shutdown.py,
// tests/integration/test_signals.py and tests/integration/test_journal.py (the relay's phases).
#include "app/relay.h"

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

Relay::Relay(const ListenOptions& options) : o_(options) {}

Relay::~Relay() = default;

int Relay::run() {
  // Signals are taken by waitForSignal(); every thread started from here on inherits the mask.
  takeOverSignals();
  setUpLogging(logFormatNamed(o_.logFormat), o_.debug);
  boundAllocatorMemory();
  checkConfiguration();
  openDestinationAndSpool();
  openListeners();
  const int signal = runUntilSignal();
  drain(signal);
  deliver();
  return report();
}

// Everything the command line alone can refuse, before anything is opened or asked of AWS.
void Relay::checkConfiguration() {
  requireDestination(o_);
  udpPorts_ = enabledPorts(o_.udpPorts);
  tcpPorts_ = enabledPorts(o_.tcpPorts);
  tlsPorts_ = enabledPorts(o_.tlsPorts);
  if (udpPorts_.empty() && tcpPorts_.empty() && tlsPorts_.empty()) {
    throw StartupError(kExitConfig,
                       "no listener enabled: give --udp-port, --tcp-port or --tls-port (with "
                       "--cert and --key)");
  }
  for (uint16_t port : tlsPorts_) {
    if (std::find(tcpPorts_.begin(), tcpPorts_.end(), port) != tcpPorts_.end()) {
      throw StartupError(kExitConfig, "port " + std::to_string(port) +
                                          " is given both as --tcp-port and as --tls-port");
    }
  }
  checkProxyProtocolPorts(o_);
  // TLS files are checked before anything else is opened or asked of AWS: a bad certificate
  // or key is a configuration error named in one line.
  tlsSettings_ = tlsSettingsFrom(o_);
  if (!tlsPorts_.empty()) {
    tls_ = std::make_unique<net::TlsContextHolder>(net::TlsContext::load(tlsSettings_));
    spdlog::info("TLS certificate {}; {}", tls_->current()->certificateSummary(),
                 describeClientVerification(tlsSettings_));
  } else if (!o_.ca.empty() || !o_.crl.empty() || !o_.allowedPeers.empty()) {
    spdlog::warn("--ca, --crl and --allowed-peer are ignored: no TLS listener is enabled");
  }
  zone_ = syslog::LocalZone::find(o_.rfc3164Timezone);
  if (!zone_) throw StartupError(kExitUsage, "unknown time zone " + o_.rfc3164Timezone);
}

// Destination and spool before any listener opens: nothing is accepted that cannot be kept.
void Relay::openDestinationAndSpool() {
  std::vector<deliver::UploadStream> uploadStreams = openDestination();
  spool_ = std::make_unique<spool::SpoolDirectory>(o_.spoolDir, o_.spoolMaxBytes);
  recoverSpool();
  for (uint16_t port : udpPorts_) net::ensurePortFree(o_.address, port, net::Transport::kUdp);
  for (uint16_t port : tcpPorts_) net::ensurePortFree(o_.address, port, net::Transport::kTcp);
  for (uint16_t port : tlsPorts_) net::ensurePortFree(o_.address, port, net::Transport::kTcp);

  uploader_ = std::make_unique<deliver::Uploader>(*spool_, std::move(uploadStreams),
                                                  deliver::UploaderOptions{});
  // The metrics port is bound before any listener opens, so a port in use ends the start.
  if (o_.prometheusPort != 0) {
    endpoint_ = std::make_unique<RelayEndpoint>(o_, *spool_, *uploader_,
                                                firehose_ ? &firehose_->targets() : nullptr);
    endpoint_->start();
  }
  uploader_->start();
  // Spare batch buffers: about one flush per worker, the buffer each worker fills next while
  // its last one is encoded (docs/design.md "Performance targets" budgets two flushes per worker).
  batchBuffers_ =
      std::make_unique<record::BatchBufferPool>(o_.flushSize * o_.workers + o_.flushSize / 4);
  encoders_ = std::make_unique<record::EncoderPool>(o_.workers, owner_, o_.compressionLevel,
                                                    *spool_, batchBuffers_.get());
  // docs/design.md "Performance targets" budgets memory at 2 flushes per worker: the batch being
  // filled and one being encoded. Encoders further behind than one flush per worker count as a full
  // spool for intake, so a burst waits in the kernel instead of in our heap.
  backpressure_ = std::make_unique<net::Backpressure>(
      [spool = spool_.get()] { return spool->full(); },
      [encoders = encoders_.get()] { return encoders->queuedBytes(); }, o_.flushSize * o_.workers);
  openJournals();
}

// The output directory or the Firehose streams; returns what the uploader delivers to.
std::vector<deliver::UploadStream> Relay::openDestination() {
  std::vector<deliver::UploadStream> uploadStreams;
  if (o_.outputDir.empty()) {
    firehose_ = std::make_unique<FirehoseDestination>(o_, SystemClock::instance());
    destination_ = firehose_->describe();
    owner_ = firehose_->owner();
    return firehose_->uploadStreams();
  }
  if (!o_.region.empty() || !o_.profile.empty() || !o_.endpointUrl.empty() ||
      !o_.stsEndpointUrl.empty()) {
    spdlog::warn("--output-dir is set: AWS options (--region, --profile, endpoints) are ignored");
  }
  // The output directory is one local destination: streams beyond the first only name
  // nothing, and one request at a time keeps the objects in spool order.
  if (o_.streams.size() > 1) {
    spdlog::warn("--output-dir is set: only the first --stream ({}) is used, to name objects",
                 o_.streams.front());
  }
  const std::string stream = o_.streams.empty() ? "kinesyslog" : o_.streams.front();
  outputDirectory_ = std::make_unique<deliver::OutputDirectoryTarget>(o_.outputDir, stream,
                                                                      SystemClock::instance());
  uploadStreams.push_back({stream, {outputDirectory_.get()}, false});
  destination_ = outputDirectory_->describe();
  owner_ = o_.owner.empty() ? kOutputDirOwner : o_.owner;
  return uploadStreams;
}

// What an earlier run left: finished records queued for delivery first, then what it had read
// but not spooled when it died (the journal), before any listener opens.
void Relay::recoverSpool() {
  const auto recovery = spool_->recover();
  metrics::counters().add(metrics::Counter::kSpoolRecovered, recovery.recovered);
  metrics::counters().add(metrics::Counter::kSpoolCorrupt, recovery.corrupt);
  if (recovery.recovered > 0 || recovery.corrupt > 0 || recovery.temporaryDiscarded > 0) {
    spdlog::info(
        "spool {}: {} records ({} bytes) from an earlier run queued for delivery first, "
        "{} corrupt moved to corrupt/, {} torn temporary files discarded",
        o_.spoolDir, recovery.recovered, recovery.recoveredBytes, recovery.corrupt,
        recovery.temporaryDiscarded);
  }
  const auto replay = record::replayJournal(o_.spoolDir, *spool_, owner_, o_.compressionLevel);
  metrics::counters().add(metrics::Counter::kJournalReplayedMessages, replay.messages);
  metrics::counters().add(metrics::Counter::kJournalReplaySkipped, replay.alreadySpooled);
  metrics::counters().add(metrics::Counter::kJournalCorruptSegments, replay.corruptSegments);
}

// One journal per I/O thread: what a read returned is written there before it joins a batch.
void Relay::openJournals() {
  if (o_.noJournal) return;
  const std::string run = spool::newJournalRun();
  // About one flush per segment: a segment goes once the batches that opened in it are
  // spooled, so a few segments per worker are on disk at a time.
  const uint64_t segmentBytes = std::max<uint64_t>(o_.flushSize, 1 << 20);
  std::vector<spool::MessageJournal*> synced;
  for (unsigned i = 0; i < o_.workers; ++i) {
    journals_.push_back(std::make_unique<spool::MessageJournal>(o_.spoolDir, run, i, segmentBytes,
                                                                o_.journalSyncSeconds == 0));
    synced.push_back(journals_.back().get());
  }
  if (o_.journalSyncSeconds > 0) {
    journalSyncer_ = std::make_unique<spool::JournalSyncer>(
        synced, std::chrono::milliseconds(static_cast<int64_t>(o_.journalSyncSeconds * 1000)));
  }
}

net::WorkerOptions Relay::workerOptions() const {
  net::WorkerOptions w;
  w.maxMessageSize = o_.maxMessageSize;
  w.zone = &*zone_;
  w.flushSizeBytes = o_.flushSize;
  w.flushIntervalMicros = static_cast<int64_t>(o_.flushIntervalSeconds * 1e6);
  w.groupPrefix = o_.groupPrefix;
  w.gelf = o_.gelf;
  w.batchBuffers = batchBuffers_.get();
  w.tlsHandshakeTimeout =
      std::chrono::milliseconds(static_cast<int64_t>(o_.tlsHandshakeTimeoutSeconds * 1000));
  w.proxyProtocolPorts = enabledPorts(o_.proxyProtocolPorts);
  w.proxyTrust = proxyTrustOf(o_);
  // Each worker owns an equal share, so the shares add up to a hard bound without any worker
  // touching another's connections.
  w.partialBudgetBytes = o_.partialBudget / o_.workers;
  return w;
}

// One worker per I/O thread, each with its own socket of every port (SO_REUSEPORT), started.
void Relay::openListeners() {
  raiseDescriptorLimit();
  const net::WorkerOptions options = workerOptions();
  const bool ipv6 = o_.address.find(':') != std::string::npos;
  std::vector<std::vector<int>> udpSockets;  // [port][worker]
  for (uint16_t port : udpPorts_) udpSockets.push_back(openUdpSockets(o_, port));
  for (unsigned i = 0; i < o_.workers; ++i) {
    auto worker = std::make_unique<net::Worker>(options, *encoders_, *backpressure_,
                                                journals_.empty() ? nullptr : journals_[i].get());
    for (size_t p = 0; p < udpPorts_.size(); ++p) {
      if (i < udpSockets[p].size()) worker->addUdpSocket(udpSockets[p][i], udpPorts_[p]);
    }
    for (uint16_t port : tcpPorts_) {
      worker->addTcpListener(net::openReusePortSocket(o_.address, port, net::Transport::kTcp), port,
                             ipv6);
    }
    for (uint16_t port : tlsPorts_) {
      worker->addTcpListener(net::openReusePortSocket(o_.address, port, net::Transport::kTcp), port,
                             ipv6, tls_.get());
    }
    workers_.push_back(std::move(worker));
  }
  limitConnections(*backpressure_, o_);
  for (auto& worker : workers_) worker->start();
  if (endpoint_)
    endpoint_->setListenersOpen(udpPorts_.size() + tcpPorts_.size() + tlsPorts_.size());
  spdlog::info("ready: {} ({}); {} workers; spool {}; delivering to {}", describeListeners(options),
               o_.gelf ? "GELF" : "syslog", o_.workers, o_.spoolDir, destination_);
}

std::string Relay::describeListeners(const net::WorkerOptions& options) const {
  std::string listening;
  for (uint16_t port : udpPorts_) listening += fmt::format("udp {}:{}, ", o_.address, port);
  for (uint16_t port : tcpPorts_) {
    listening += fmt::format("tcp {}:{}{}, ", o_.address, port,
                             options.expectsProxyHeader(port) ? " (PROXY protocol)" : "");
  }
  for (uint16_t port : tlsPorts_) {
    listening += fmt::format("tls {}:{}{}, ", o_.address, port,
                             options.expectsProxyHeader(port) ? " (PROXY protocol)" : "");
  }
  listening.resize(listening.size() - 2);
  if (endpoint_) {
    listening +=
        fmt::format("; metrics http://{}:{}/metrics", o_.prometheusAddress, endpoint_->port());
  }
  return listening;
}

// Until SIGTERM or SIGINT; SIGHUP reloads TLS, SIGUSR1 logs the counters. Returns the signal.
int Relay::runUntilSignal() {
  for (;;) {
    const int signal = waitForSignal();
    switch (signalAction(signal)) {
      case SignalAction::kDrain:
        return signal;
      case SignalAction::kReloadTls:
        reloadTls(tls_.get(), tlsSettings_);
        break;
      case SignalAction::kLogCounters:
        spdlog::info("counters: {}", countersLine(*uploader_));
        break;
      case SignalAction::kIgnore:
        spdlog::debug("{} received: ignored", signalName(signal));
        break;
    }
  }
}

// The workers drain their connections and flush; the encoders spool what they flushed.
void Relay::drain(int signal) {
  spdlog::info("{} received: draining connections and delivering (grace {} s)", signalName(signal),
               o_.shutdownGraceSeconds);
  // Load balancers stop sending here while the relay drains.
  if (endpoint_) endpoint_->setListenersOpen(0);
  deadline_ = std::chrono::steady_clock::now() +
              std::chrono::milliseconds(static_cast<int64_t>(o_.shutdownGraceSeconds * 1000));
  startShutdownWatchdog(deadline_);
  for (auto& worker : workers_) worker->requestShutdown(deadline_);
  for (auto& worker : workers_) worker->join();
  // Encoding what the workers flushed takes well under a second when the disk works; a disk that
  // refuses writes is given up on a few seconds past the grace, so SIGTERM always ends.
  unspooled_ = encoders_->drainAndStop(std::max(deadline_, std::chrono::steady_clock::now()) +
                                       kEncoderGrace);
  journalSyncer_.reset();  // one last sync of every journal
  uint64_t journaledBatches = 0;
  for (auto& journal : journals_) journaledBatches += journal->finish();
  if (unspooled_ > 0) {
    spdlog::error(
        "shutdown: {} messages could not be written to the spool {} in time (the disk refused "
        "them); {}",
        unspooled_, o_.spoolDir,
        journals_.empty() ? "they are lost (--no-journal)"
                          : fmt::format("the journal keeps them ({} batches) and the next start "
                                        "replays them",
                                        journaledBatches));
  }
}

// The spool is delivered until it is empty or the grace is over.
void Relay::deliver() {
  if (!uploader_->drainAndStop(deadline_)) {
    spdlog::warn("shutdown grace over: {} records stay in the spool {} for the next start",
                 spool_->pendingCount(), o_.spoolDir);
  }
  if (endpoint_) endpoint_->stop();
}

int Relay::report() {
  spdlog::info("final counters: {}", countersLine(*uploader_));
  return unspooled_ > 0 ? kExitUnspooled : kExitOk;
}

}  // namespace kinesyslog::app
