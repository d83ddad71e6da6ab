#include "net/proxy_preface.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"

namespace kinesyslog::net {

namespace {

using proxy::ProxyOutcome;

// The most a header can take: a v2 header at the parser's cap (a v1 line is at most 107 bytes).
// The parser always decides within this many bytes.
constexpr size_t kMaxHeaderBytes = 16 + proxy::ProxyHeaderParser::kMaxV2Length;

// MSG_PEEK cannot tell a peer that closed after part of a header from one that is merely slow:
// both leave the same bytes in the socket. POLLRDHUP can.
bool peerShutDown(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void setLowWater(int fd, int bytes) {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
}

std::string seconds(std::chrono::milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

ProxyPreface::ProxyPreface(WorkerContext& worker, asio::ip::tcp::socket socket,
                           std::string realPeer, uint16_t port, Handoff handoff)
    : worker_(worker),
      socket_(std::move(socket)),
      realPeer_(std::move(realPeer)),
      port_(port),
      handoff_(std::move(handoff)),
      timer_(worker.makeTimer()) {}

void ProxyPreface::start() {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
  timer_.expiresAfter(worker_.options().proxyHeaderTimeout);
  timer_.asyncWait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->finished_) return;
    self->onTimeout();
  });
  // At shutdown a queued connection gets one look (abandon() takes it): a header not complete
  // by now could not be followed by a delivery in time anyway.
  if (worker_.shuttingDown()) return abandon();
  // The header normally arrives with the connection (PROXY §2: "sent at once"): look before
  // waiting.
  onReadable();
}

void ProxyPreface::abandon() {
  if (finished_) return;
  // One last look: a header (and data) that has arrived, or a peer that has gone, is settled as
  // usual; only a connection still truly waiting is closed here.
  onReadable();
  if (finished_) return;
  metrics::counters().add(metrics::Counter::kProxyHeadersAbandoned);
  spdlog::debug("{} on port {}: closed at shutdown while waiting for its PROXY header", realPeer_,
                port_);
  finish();
}

void ProxyPreface::waitReadable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const std::error_code& error) {
                       if (error || self->finished_) return;
                       self->onReadable();
                     });
}

void ProxyPreface::onReadable() {
  auto& buffer = worker_.readBuffer();
  const size_t room = std::min(buffer.size(), kMaxHeaderBytes);
  const int fd = socket_.native_handle();
  ssize_t n = 0;
  do {
    n = ::recv(fd, buffer.data(), room, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return waitReadable();
    return reject(fmt::format("connection error after {} bytes of header: {}", peeked_,
                              std::strerror(errno)));
  }
  // The peek shows the stream from its start each time; only bytes not yet seen are fed. With
  // nothing new (a wake-up without new bytes) the parser's standing outcome decides.
  const size_t seen = static_cast<size_t>(n);
  ProxyOutcome outcome = parser_.outcome();
  if (seen > peeked_) {
    outcome = parser_.feed(std::string_view(buffer.data() + peeked_, seen - peeked_));
    peeked_ = seen;
  }
  switch (outcome) {
    case ProxyOutcome::kDone:
      return accept();
    case ProxyOutcome::kError:
      return reject(std::string(proxy::proxyErrorName(parser_.error())));
    case ProxyOutcome::kNeedMore:
      break;
  }
  if (seen == 0 || peerShutDown(fd)) {
    return reject(peeked_ == 0 ? std::string("closed without sending a PROXY header")
                               : fmt::format("closed after {} bytes of a PROXY header", peeked_));
  }
  if (seen >= room) return reject("PROXY header over the parser's caps");  // not reachable
  // The peeked bytes stay in the socket, so readiness would report them again and again: wake
  // only once more than them has arrived (or the peer closes, which always wakes). Reset to 1
  // before the hand-off.
  setLowWater(fd, static_cast<int>(seen + 1));
  lowWaterRaised_ = true;
  waitReadable();
}

void ProxyPreface::accept() {
  const int fd = socket_.native_handle();
  // Consume exactly the header (it is all in the socket: it was just peeked); what follows is
  // the next stage's.
  auto& buffer = worker_.readBuffer();
  size_t left = parser_.headerLength();
  while (left > 0) {
    const ssize_t n = ::recv(fd, buffer.data(), left, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return reject(fmt::format("connection error while consuming the PROXY header: {}",
                                n == 0 ? "closed" : std::strerror(errno)));
    }
    left -= static_cast<size_t>(n);
  }
  if (lowWaterRaised_) setLowWater(fd, 1);

  const proxy::ProxyHeader& header = parser_.header();
  std::string source = header.useRealPeer ? realPeer_ : header.sourceAddress;
  metrics::counters().add(metrics::Counter::kProxyHeadersAccepted);
  if (spdlog::should_log(spdlog::level::debug)) {
    const std::string via =
        header.awsVpcEndpointId.empty() ? "" : ", AWS VPC endpoint " + header.awsVpcEndpointId;
    if (header.useRealPeer) {
      spdlog::debug("{} on port {}: PROXY v{} header without a client address; kept the peer{}",
                    realPeer_, port_, header.version, via);
    } else {
      spdlog::debug("{} on port {}: PROXY v{} header, client {} port {}{}", realPeer_, port_,
                    header.version, header.sourceAddress, header.sourcePort, via);
    }
  }
  finished_ = true;
  timer_.cancel();
  handoff_(std::move(socket_), std::move(source));
  finish();
}

void ProxyPreface::onTimeout() {
  metrics::counters().add(metrics::Counter::kProxyHeaderTimeouts);
  worker_.problems().report(
      metrics::Problem::kProxyHeaderTimeout, worker_.clock().monotonicMicros(),
      fmt::format("{} on port {}: no complete PROXY header within {} ({} bytes received); closed",
                  realPeer_, port_, seconds(worker_.options().proxyHeaderTimeout), peeked_));
  finish();
}

void ProxyPreface::reject(std::string reason) {
  metrics::counters().add(metrics::Counter::kProxyHeadersRejected);
  worker_.problems().report(metrics::Problem::kProxyHeaderRejected,
                            worker_.clock().monotonicMicros(),
                            fmt::format("{} on port {}: {}; closed", realPeer_, port_, reason));
  finish();
}

void ProxyPreface::finish() {
  finished_ = true;
  std::error_code ignored;
  timer_.cancel();
  if (socket_.is_open()) socket_.close(ignored);
  worker_.forgetPreface(this);
}

}  // namespace kinesyslog::net
