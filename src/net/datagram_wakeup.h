#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <functional>
#include <system_error>

namespace kinesyslog::net {

// Wakes a worker once when a UDP socket has datagrams to read, and not again until it is asked
// to wait once more.
//
// Why not let the worker's event loop watch the socket itself: Asio registers descriptors with
// the loop's epoll set edge-triggered and for good, so every datagram that arrives raises an
// event. While UdpReceiver deliberately waits to fill a batch (its coalescing timer), each
// arriving datagram still woke the thread for nothing: at 200,000 evenly paced datagrams/s a
// worker slept and woke about 25,000 times a second, and the scheduler's share was the largest
// cost of UDP receiving after the copies (profile of a paced UDP run). Here the socket sits alone
// in an epoll set of its own, registered one-shot (EPOLLONESHOT, epoll_ctl(2)): after one event
// it raises nothing until asyncWait() arms it again. The worker's loop watches only that set.
class DatagramWakeup {
 public:
  // Does not own `socketFd`. Throws std::system_error when the epoll set cannot be made (a
  // start-up failure: out of descriptors).
  DatagramWakeup(asio::io_context& io, int socketFd);
  DatagramWakeup(const DatagramWakeup&) = delete;
  DatagramWakeup& operator=(const DatagramWakeup&) = delete;

  // Calls `handler` once the socket has a datagram (at once if it already has one), with an
  // error when close() came first. One wait at a time.
  void asyncWait(std::function<void(const std::error_code&)> handler);
  // Ends the pending wait (its handler sees asio::error::operation_aborted) and closes the set.
  void close();
  // The one descriptor the worker's loop watches for this socket (tests).
  int descriptor() { return set_.native_handle(); }

 private:
  int socketFd_;
  asio::posix::stream_descriptor set_;  // owns the epoll descriptor
};

}  // namespace kinesyslog::net
