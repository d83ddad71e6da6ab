#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/options.h"
#include "net/tls_context.h"
#include "net/worker_context.h"
#include "proto/syslog/local_zone.h"

namespace kinesyslog::deliver {
class OutputDirectoryTarget;
class Uploader;
struct UploadStream;
}  // namespace kinesyslog::deliver
namespace kinesyslog::net {
class Backpressure;
class Worker;
}  // namespace kinesyslog::net
namespace kinesyslog::record {
class BatchBufferPool;
class EncoderPool;
}  // namespace kinesyslog::record
namespace kinesyslog::spool {
class JournalSyncer;
class MessageJournal;
class SpoolDirectory;
}  // namespace kinesyslog::spool

namespace kinesyslog::app {

class FirehoseDestination;
class RelayEndpoint;

// `kinesyslog listen`: the relay's life in the phases an operator reads in its log
// (docs/operations.md): check the configuration, open the destination and the spool (recovering
// what an earlier run left), open the listeners ("ready"), run until SIGTERM or SIGINT, drain
// the connections into the spool, deliver the spool within the grace, report the final
// counters. Start-up problems throw StartupError. Covered by the integration tests
// (tests/integration/test_startup.py, test_shutdown.py, test_signals.py and the rest), which
// run the relay as users do.
class Relay {
 public:
  explicit Relay(const ListenOptions& options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // All phases in order; returns the process exit code.
  int run();

 private:
  void checkConfiguration();
  void openDestinationAndSpool();
  std::vector<deliver::UploadStream> openDestination();
  void recoverSpool();
  void openJournals();
  net::WorkerOptions workerOptions() const;
  void openListeners();
  std::string describeListeners(const net::WorkerOptions& options) const;
  int runUntilSignal();
  void drain(int signal);
  void deliver();
  int report();

  const ListenOptions& o_;
  std::vector<uint16_t> udpPorts_, tcpPorts_, tlsPorts_;
  net::TlsSettings tlsSettings_;
  // Declared in the order they are made, so that they are destroyed in reverse: workers first,
  // the destination last.
  std::unique_ptr<net::TlsContextHolder> tls_;
  std::optional<syslog::LocalZone> zone_;
  std::unique_ptr<deliver::OutputDirectoryTarget> outputDirectory_;
  std::unique_ptr<FirehoseDestination> firehose_;
  std::string destination_;
  std::string owner_;
  std::unique_ptr<spool::SpoolDirectory> spool_;
  std::unique_ptr<deliver::Uploader> uploader_;
  std::unique_ptr<RelayEndpoint> endpoint_;
  std::unique_ptr<record::BatchBufferPool> batchBuffers_;
  std::unique_ptr<record::EncoderPool> encoders_;
  std::unique_ptr<net::Backpressure> backpressure_;
  std::vector<std::unique_ptr<spool::MessageJournal>> journals_;
  std::unique_ptr<spool::JournalSyncer> journalSyncer_;
  std::vector<std::unique_ptr<net::Worker>> workers_;
  std::chrono::steady_clock::time_point deadline_{};
  uint64_t unspooled_ = 0;
};

}  // namespace kinesyslog::app
