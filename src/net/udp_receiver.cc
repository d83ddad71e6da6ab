#include "net/udp_receiver.h"

#include <cerrno>
#include <cstring>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/listen_socket.h"
#include "net/worker.h"
#include "proto/syslog/datagram.h"
#include "proto/syslog/syslog_event.h"
#include "util/clock.h"

namespace kinesyslog::net {

UdpReceiver::UdpReceiver(Worker& worker, int fd, uint16_t port, bool ipv6)
    : worker_(worker),
      socket_(worker.io(), ipv6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), fd),
      group_(worker.groupFor(port)),
      buffers_(kBatch * kDatagramBytes),
      headers_(kBatch),
      iovecs_(kBatch),
      addresses_(kBatch) {}

void UdpReceiver::start() {
  waitReadable();
}

void UdpReceiver::waitReadable() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const std::error_code& error) {
    if (error) return;  // closed
    // A bounded number of batches per wake-up keeps one busy port from starving the others.
    readBatches(8);
    if (!worker_.shuttingDown()) waitReadable();
  });
}

bool UdpReceiver::readBatches(int maxBatches) {
  using metrics::Counter;
  auto& counters = metrics::counters();
  const auto& options = worker_.options();
  for (int round = 0; round < maxBatches; ++round) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iovecs_[i] = {buffers_.data() + i * kDatagramBytes, kDatagramBytes};
      headers_[i].msg_hdr = {};
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
      headers_[i].msg_hdr.msg_name = &addresses_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int received =
        ::recvmmsg(socket_.native_handle(), headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) {
      if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        metrics::problems().report(metrics::Problem::kConnectionError,
                                   SystemClock::instance().monotonicMicros(),
                                   std::string("UDP receive: ") + std::strerror(errno));
      }
      return false;
    }
    counters.add(Counter::kUdpDatagrams, static_cast<uint64_t>(received));
    if (worker_.backpressure().intakeBlocked()) {
      counters.add(Counter::kUdpDropped, static_cast<uint64_t>(received));
      metrics::problems().report(metrics::Problem::kUdpDroppedSpoolFull,
                                 SystemClock::instance().monotonicMicros(),
                                 "spool full or encoders behind; datagrams dropped");
      continue;
    }
    const int64_t receiveMicros = SystemClock::instance().nowMicros();
    const int64_t monotonic = SystemClock::instance().monotonicMicros();
    uint64_t messages = 0, bytes = 0, truncated = 0, rewritten = 0;
    for (int i = 0; i < received; ++i) {
      const msghdr& header = headers_[i].msg_hdr;
      if (header.msg_namelen != lastAddressLength_ ||
          std::memcmp(&addresses_[i], &lastAddress_, header.msg_namelen) != 0) {
        lastAddressLength_ = header.msg_namelen;
        std::memcpy(&lastAddress_, &addresses_[i], header.msg_namelen);
        lastSource_ = addressText(&addresses_[i], header.msg_namelen);
      }
      std::string_view datagram(buffers_.data() + static_cast<size_t>(i) * kDatagramBytes,
                                headers_[i].msg_len);
      bytes += datagram.size();
      datagram = syslog::unwrapDatagram(datagram);
      auto& batch = worker_.batcher().batchFor(group_, lastSource_, monotonic);
      auto appended = syslog::appendSyslogEvent(batch, datagram, receiveMicros, lastSource_,
                                                *options.zone, options.maxMessageSize);
      if (appended.bytes == 0) continue;
      ++messages;
      truncated += appended.truncated;
      rewritten += appended.rewritten;
      worker_.batcher().committed(appended.bytes);
    }
    counters.add(Counter::kMessagesReceived, messages);
    counters.add(Counter::kBytesReceived, bytes);
    counters.add(Counter::kMessagesRewritten, rewritten);
    if (truncated > 0) {
      counters.add(Counter::kMessagesTruncated, truncated);
      metrics::problems().report(metrics::Problem::kMessageTruncated, monotonic,
                                 "UDP message longer than --max-message-size from " + lastSource_);
    }
    if (received < static_cast<int>(kBatch)) return false;
  }
  return true;
}

void UdpReceiver::drainAndClose() {
  while (readBatches(64)) {
  }
  std::error_code ignored;
  socket_.close(ignored);
}

}  // namespace kinesyslog::net
