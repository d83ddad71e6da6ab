#include "app/listen_command.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>

#include "app/firehose_destination.h"
#include "deliver/output_directory_target.h"
#include "deliver/uploader.h"
#include "metrics/relay_counters.h"
#include "net/backpressure.h"
#include "net/listen_socket.h"
#include "net/worker.h"
#include "proto/syslog/local_zone.h"
#include "record/encoder_pool.h"
#include "spool/spool_directory.h"
#include "util/clock.h"
#include "util/startup_error.h"

namespace kinesyslog::app {

namespace {

constexpr const char* kOutputDirOwner = "000000000000";  // DESIGN §1 Record: owner

void setUpLogging(bool debug) {
  auto logger = spdlog::stderr_logger_mt("kinesyslog");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [%l] %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);
}

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

void raiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::vector<uint16_t> enabledPorts(const std::vector<uint16_t>& ports) {
  std::vector<uint16_t> enabled;
  for (uint16_t port : ports) {
    // Port 0 disables a listener, as in the seed (DESIGN §1); repeats are opened once.
    if (port != 0 && std::find(enabled.begin(), enabled.end(), port) == enabled.end()) {
      enabled.push_back(port);
    }
  }
  return enabled;
}

void refuseUnimplemented(const ListenOptions& o) {
  auto refuse = [](const std::string& what) {
    throw StartupError(kExitConfig, what + " is not supported by this build yet");
  };
  if (!enabledPorts(o.tlsPorts).empty()) refuse("TLS (--tls-port, --cert, --key)");
  if (!enabledPorts(o.proxyProtocolPorts).empty()) refuse("--proxy-protocol");
  if (o.prometheusPort && *o.prometheusPort != 0) refuse("--prometheus-port");
  if (o.outputDir.empty() && o.stream.empty()) {
    throw StartupError(kExitConfig,
                       "no destination: give --stream NAME (Firehose) or --output-dir DIR");
  }
}

}  // namespace

int runListen(const ListenOptions& o) {
  // Signals are taken by sigwait() below; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  setUpLogging(o.debug);
  boundAllocatorMemory();
  refuseUnimplemented(o);

  const auto udpPorts = enabledPorts(o.udpPorts);
  const auto tcpPorts = enabledPorts(o.tcpPorts);
  if (udpPorts.empty() && tcpPorts.empty()) {
    throw StartupError(kExitConfig, "no listener enabled: give --udp-port or --tcp-port");
  }
  const auto zone = syslog::LocalZone::find(o.rfc3164Timezone);
  if (!zone) throw StartupError(kExitUsage, "unknown time zone " + o.rfc3164Timezone);

  // Destination and spool before any listener opens: nothing is accepted that cannot be kept.
  std::unique_ptr<deliver::OutputDirectoryTarget> outputDirectory;
  std::unique_ptr<FirehoseDestination> firehose;
  deliver::DeliveryTarget* target = nullptr;
  std::string owner;
  if (!o.outputDir.empty()) {
    if (!o.region.empty() || !o.profile.empty() || !o.endpointUrl.empty() ||
        !o.stsEndpointUrl.empty()) {
      spdlog::warn("--output-dir is set: AWS options (--region, --profile, endpoints) are ignored");
    }
    outputDirectory = std::make_unique<deliver::OutputDirectoryTarget>(
        o.outputDir, o.stream.empty() ? "kinesyslog" : o.stream, SystemClock::instance());
    target = outputDirectory.get();
    owner = o.owner.empty() ? kOutputDirOwner : o.owner;
  } else {
    firehose = std::make_unique<FirehoseDestination>(o, SystemClock::instance());
    target = &firehose->target();
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

  for (uint16_t port : udpPorts) net::ensurePortFree(o.address, port, net::Transport::kUdp);
  for (uint16_t port : tcpPorts) net::ensurePortFree(o.address, port, net::Transport::kTcp);

  deliver::Uploader uploader(spool, *target, deliver::UploaderOptions{});
  uploader.start();
  record::EncoderPool encoders(o.workers, owner, o.compressionLevel, spool);
  // DESIGN §5 budgets memory at 2 flushes per worker: the batch being filled and one being
  // encoded. Encoders further behind than one flush per worker count as a full spool for
  // intake, so a burst waits in the kernel instead of in our heap.
  net::Backpressure backpressure([&spool] { return spool.full(); },
                                 [&encoders] { return encoders.queuedBytes(); },
                                 o.flushSize * o.workers, o.partialBudget);

  raiseDescriptorLimit();
  net::WorkerOptions workerOptions;
  workerOptions.maxMessageSize = o.maxMessageSize;
  workerOptions.zone = &*zone;
  workerOptions.flushSizeBytes = o.flushSize;
  workerOptions.flushIntervalMicros = static_cast<int64_t>(o.flushIntervalSeconds * 1e6);
  workerOptions.groupPrefix = o.groupPrefix;
  workerOptions.gelf = o.gelf;
  const bool ipv6 = o.address.find(':') != std::string::npos;
  std::vector<std::unique_ptr<net::Worker>> workers;
  for (unsigned i = 0; i < o.workers; ++i) {
    auto worker = std::make_unique<net::Worker>(i, workerOptions, encoders, backpressure);
    for (uint16_t port : udpPorts) {
      worker->addUdpSocket(net::openReusePortSocket(o.address, port, net::Transport::kUdp), port,
                           ipv6);
    }
    for (uint16_t port : tcpPorts) {
      worker->addTcpListener(net::openReusePortSocket(o.address, port, net::Transport::kTcp), port,
                             ipv6);
    }
    workers.push_back(std::move(worker));
  }
  for (auto& worker : workers) worker->start();

  std::string listening;
  for (uint16_t port : udpPorts) listening += fmt::format("udp {}:{}, ", o.address, port);
  for (uint16_t port : tcpPorts) listening += fmt::format("tcp {}:{}, ", o.address, port);
  listening.resize(listening.size() - 2);
  spdlog::info("ready: {} ({}); {} workers; spool {}; delivering to {}", listening,
               o.gelf ? "GELF" : "syslog", o.workers, o.spoolDir, target->describe());

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("{} received: draining connections and delivering (grace {} s)",
               signal == SIGTERM ? "SIGTERM" : "SIGINT", o.shutdownGraceSeconds);

  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(o.shutdownGraceSeconds * 1000));
  for (auto& worker : workers) worker->requestShutdown(deadline);
  for (auto& worker : workers) worker->join();
  encoders.drainAndStop();
  const bool delivered = uploader.drainAndStop(deadline);
  if (!delivered) {
    spdlog::warn("shutdown grace over: {} records stay in the spool {} for the next start",
                 spool.pendingCount(), o.spoolDir);
  }
  const auto& delivery = uploader.counters();
  metrics::counters().add(metrics::Counter::kRecordsDelivered, delivery.recordsDelivered.load());
  // Records not accepted, counted per attempt (a record retried three times counts three).
  metrics::counters().add(metrics::Counter::kDeliveryFailures, delivery.recordFailures.load());
  spdlog::info("final counters: {}", metrics::counters().format());
  return kExitOk;
}

}  // namespace kinesyslog::app
