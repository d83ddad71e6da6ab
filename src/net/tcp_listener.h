#pragma once

#include <sys/socket.h>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "metrics/listener_counters.h"
#include "metrics/problem_log.h"

namespace kinesyslog::net {

class Worker;
class TlsContextHolder;

// One listening TCP socket of one worker; hands accepted connections to the worker. With a
// TLS context holder it is a TLS port (RFC 5425): each connection takes the context current
// at its accept.
class TcpListener {
 public:
  TcpListener(Worker& worker, int fd, uint16_t port, bool ipv6,
              const TlsContextHolder* tls = nullptr);
  void start();
  // Shutdown: accepts what is already queued (those senders have written data we owe them),
  // then closes the socket.
  void acceptQueuedAndClose();

 private:
  void acceptNext();
  // Tries accepting again in 100 ms, counted and logged (once per kind per 10 s): the connection
  // limit is reached, or accept failed (EMFILE and friends). Waiting instead of retrying at once
  // keeps the loop from spinning; the kernel's listen queue keeps the senders meanwhile.
  void pauseAccepting(metrics::Problem kind, const std::string& detail);
  void adopt(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer);
  // --proxy-trusted, checked at accept on a --proxy-protocol port: false (counted, logged, the
  // socket left to close) for a peer outside it.
  bool trustedProxy(const sockaddr* peer, socklen_t length, const std::string& source);
  // Every accepted connection ends up here, with the address its records are filed under: the
  // peer, or on a --proxy-protocol port the client its PROXY header names. The one place where
  // a connection becomes a syslog stream (a TLS port adds its handshake here, after the header).
  void handOff(asio::ip::tcp::socket socket, std::string source);

  Worker& worker_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retryTimer_;
  uint16_t port_;
  std::string group_;
  const TlsContextHolder* tls_;  // null: plain TCP; outlives the workers
  bool proxyProtocol_;
  asio::ip::tcp::endpoint peer_;  // filled by each accept
  std::shared_ptr<metrics::ListenerCounters> counters_;
};

}  // namespace kinesyslog::net
