#pragma once

#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/loop_timer.h"
#include "net/worker_context.h"
#include "proto/proxy/proxy_header_parser.h"

namespace kinesyslog::net {

// The first stage of a connection on a --proxy-protocol port: reads the PROXY v1/v2 header and
// nothing else, then hands the socket on with the address its records are filed under (the
// proxied source, or the real peer for LOCAL, UNKNOWN, AF_UNSPEC and AF_UNIX). The header is
// peeked (MSG_PEEK) and only its exact length consumed, so whatever follows it (syslog, or a
// TLS ClientHello on a TLS port) is still in the socket for the next stage. A connection whose
// header is missing, malformed, truncated or later than the timeout is closed and counted; at
// shutdown a preface still waiting is closed (it has delivered nothing).
class ProxyPreface final : public std::enable_shared_from_this<ProxyPreface>,
                           public PendingConnection {
 public:
  // Receives the socket positioned just after the header, and the connection's source address.
  using Handoff = std::function<void(asio::ip::tcp::socket socket, std::string source)>;

  ProxyPreface(WorkerContext& worker, asio::ip::tcp::socket socket, std::string realPeer,
               uint16_t port, Handoff handoff);
  void start();
  // Shutdown: close without handing off.
  void abandon() override;

 private:
  void waitReadable();
  void onReadable();
  void onTimeout();
  void accept();
  void reject(std::string reason);
  // Closes the socket unless handed off, and lets the worker release this preface.
  void finish();

  WorkerContext& worker_;
  asio::ip::tcp::socket socket_;
  std::string realPeer_;
  uint16_t port_;
  Handoff handoff_;
  proxy::ProxyHeaderParser parser_;
  LoopTimer timer_;
  size_t peeked_ = 0;  // bytes of the stream already fed to the parser
  bool lowWaterRaised_ = false;
  bool finished_ = false;
};

}  // namespace kinesyslog::net
