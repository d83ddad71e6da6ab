#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kinesyslog::net {

class WorkerContext;

// When and from whom a datagram handed to a DatagramProtocol was read.
struct DatagramRead {
  std::string_view source;  // the sender's address: the logStream
  int64_t receiveMicros;    // wall clock of the read, for events without a usable timestamp
  int64_t monotonicNow;     // monotonic clock of the read, for batch ages and expiry
};

// The message side of one UDP socket, as StreamProtocol is for a connection: the socket
// (net/udp_receiver.h) reads datagrams and counts datagrams, bytes and kernel drops; this turns
// each datagram into at most one event in the worker's batches and keeps its own tallies.
// Syslog is one message per datagram (RFC 5426 §3.1); GELF is plain, zlib, gzip or a chunk
// whose set it reassembles and expires (docs/design.md "Inputs"). Runs on the worker's thread
// only.
class DatagramProtocol {
 public:
  virtual ~DatagramProtocol() = default;
  // One datagram; returns true when it added an event (false: pending in a chunk set,
  // dropped, or empty; the protocol counts which).
  [[nodiscard]] virtual bool feed(std::string_view datagram, const DatagramRead& read) = 0;
  // Adds what happened since the last call to the process counters and the problem log; called
  // once per receive batch, so that the per-datagram path touches no atomics. `lastSource` names
  // the batch's last sender in problem lines.
  virtual void publishCounters(int64_t monotonicNow, std::string_view lastSource) = 0;
  // Shutdown: what is held can no longer complete; dropped, counted and published.
  virtual void finish(int64_t monotonicNow) = 0;
};

// The protocol for a UDP socket of the worker of `worker` whose log group is `group`.
std::unique_ptr<DatagramProtocol> makeDatagramProtocol(WorkerContext& worker, std::string group);

}  // namespace kinesyslog::net
