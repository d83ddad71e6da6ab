#include "net/datagram_wakeup.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <cerrno>

namespace kinesyslog::net {

namespace {

int newEpollSet(int socketFd) {
  const int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  // Added disarmed (no event but one-shot): asyncWait() arms it.
  epoll_event event{};
  event.events = EPOLLONESHOT;
  event.data.fd = socketFd;
  if (::epoll_ctl(set, EPOLL_CTL_ADD, socketFd, &event) != 0) {
    const int error = errno;
    ::close(set);
    throw std::system_error(error, std::generic_category(), "epoll_ctl(EPOLL_CTL_ADD)");
  }
  return set;
}

}  // namespace

DatagramWakeup::DatagramWakeup(asio::io_context& io, int socketFd)
    : socketFd_(socketFd), set_(io, newEpollSet(socketFd)) {}

void DatagramWakeup::asyncWait(std::function<void(const std::error_code&)> handler) {
  // Arming checks the socket's state at once (epoll_ctl(2) EPOLL_CTL_MOD), so datagrams that
  // arrived while it was disarmed wake the wait straight away.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.fd = socketFd_;
  if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_MOD, socketFd_, &event) != 0) {
    const std::error_code error(errno, std::generic_category());
    asio::post(set_.get_executor(), [handler = std::move(handler), error] { handler(error); });
    return;
  }
  set_.async_wait(asio::posix::stream_descriptor::wait_read,
                  [this, handler = std::move(handler)](const std::error_code& error) {
                    if (!error) {
                      // Taking the event from the set disarms the one-shot registration, so
                      // datagrams that arrive from now on raise nothing until the next wait.
                      epoll_event taken{};
                      (void)::epoll_wait(set_.native_handle(), &taken, 1, 0);
                    }
                    handler(error);
                  });
}

void DatagramWakeup::close() {
  std::error_code ignored;
  set_.close(ignored);  // pending wait ends with operation_aborted
}

}  // namespace kinesyslog::net
