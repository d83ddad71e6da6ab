#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <string>

namespace kinesyslog::net {

class Worker;

// One listening TCP socket of one worker; hands accepted connections to the worker.
class TcpListener {
 public:
  TcpListener(Worker& worker, int fd, uint16_t port, bool ipv6);
  void start();
  // Shutdown: accepts what is already queued (those senders have written data we owe them),
  // then closes the socket.
  void acceptQueuedAndClose();

 private:
  void acceptNext();
  void adopt(asio::ip::tcp::socket socket);

  Worker& worker_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retryTimer_;
  uint16_t port_;
  std::string group_;
};

}  // namespace kinesyslog::net
