// Covered by net/worker_test.cc and by the handler tests that build a context of their own.
#include "net/worker_context.h"

#include "metrics/problem_log.h"
#include "proto/gelf/gelf_event.h"

namespace kinesyslog::net {

namespace {
constexpr size_t kReadBufferBytes = 256 * 1024;
}  // namespace

WorkerContext::WorkerContext(const WorkerOptions& options, record::BatchSink& sink,
                             Backpressure& backpressure, record::BatchJournal* journal,
                             WorkerTime time, metrics::ProblemLog* problems)
    : options_(options),
      time_(time),
      problems_(problems != nullptr ? problems : &metrics::problems()),
      partialBudget_(options.partialBudgetBytes),
      io_(1),
      batcher_(options.flushSizeBytes, options.flushIntervalMicros, sink, options.batchBuffers,
               journal),
      backpressure_(backpressure),
      readBuffer_(kReadBufferBytes),
      gelfParser_(options.gelf ? std::make_unique<gelf::GelfParser>(options.maxMessageSize)
                               : nullptr) {}

WorkerContext::~WorkerContext() = default;

std::string WorkerContext::groupFor(uint16_t port) const {
  if (options_.groupPrefix.empty()) return options_.gelf ? "gelf_message" : "syslog_message";
  // kinesyslog 2.x layout (docs/design.md "Records"): PREFIX/syslog/PORT or PREFIX/gelf/PORT.
  return options_.groupPrefix + (options_.gelf ? "/gelf/" : "/syslog/") + std::to_string(port);
}

void WorkerContext::beginShutdown(std::function<void()> whenIdle) {
  shuttingDown_ = true;
  whenIdle_ = std::move(whenIdle);
}

void WorkerContext::adopt(std::shared_ptr<DrainableConnection> connection) {
  connections_.adopt(std::move(connection));
}

void WorkerContext::forget(DrainableConnection* connection) {
  if (connections_.forget(connection, io_) && shuttingDown_ && connections_.empty() && whenIdle_) {
    whenIdle_();
  }
}

void WorkerContext::adoptPreface(std::shared_ptr<PendingConnection> preface) {
  prefaces_.adopt(std::move(preface));
}

void WorkerContext::forgetPreface(PendingConnection* preface) {
  prefaces_.forget(preface, io_);
}

}  // namespace kinesyslog::net
