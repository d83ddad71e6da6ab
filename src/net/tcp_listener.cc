#include "net/tcp_listener.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/listen_socket.h"
#include "net/proxy_preface.h"
#include "net/tcp_connection.h"
#include "net/tls_context.h"
#include "net/worker.h"
#include "util/clock.h"

namespace kinesyslog::net {

TcpListener::TcpListener(Worker& worker, int fd, uint16_t port, bool ipv6,
                         const TlsContextHolder* tls)
    : worker_(worker),
      acceptor_(worker.io(), ipv6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd),
      retryTimer_(worker.io()),
      port_(port),
      group_(worker.groupFor(port)),
      tls_(tls),
      proxyProtocol_(worker.options().expectsProxyHeader(port)),
      counters_(metrics::listeners().add(tls != nullptr ? "tls" : "tcp", port)) {}

void TcpListener::start() {
  acceptNext();
}

void TcpListener::acceptNext() {
  // Connections share the descriptor limit with the relay's own files (net/connection_limit.h):
  // past their share, new connections wait in the listen queue until one closes.
  const uint64_t open = metrics::counters().get(metrics::Counter::kTcpConnectionsActive);
  if (worker_.backpressure().connectionsFull(open)) {
    pauseAccepting(metrics::Problem::kConnectionLimit,
                   fmt::format("port {}: {} connections open, the most the descriptor limit "
                               "leaves room for; new connections wait in the listen queue",
                               port_, open));
    return;
  }
  // The peer's address comes with the accept: getpeername() afterwards fails for a peer that
  // has already reset (a health check), which would leave it unnamed.
  acceptor_.async_accept(peer_, [this](const std::error_code& error, asio::ip::tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (error) {
      pauseAccepting(metrics::Problem::kAcceptError,
                     "accept on port " + std::to_string(port_) + ": " + error.message());
      return;
    }
    adopt(std::move(socket), peer_);
    acceptNext();
  });
}

void TcpListener::pauseAccepting(metrics::Problem kind, const std::string& detail) {
  metrics::counters().add(metrics::Counter::kTcpAcceptPauses);
  metrics::problems().report(kind, SystemClock::instance().monotonicMicros(), detail);
  retryTimer_.expires_after(std::chrono::milliseconds(100));
  retryTimer_.async_wait([this](const std::error_code& e) {
    if (!e && acceptor_.is_open()) acceptNext();
  });
}

void TcpListener::adopt(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer) {
  const auto* address = static_cast<const sockaddr*>(peer.data());
  const auto length = static_cast<socklen_t>(peer.size());
  std::string source = address->sa_family == AF_UNSPEC ? "unknown" : addressText(address, length);
  metrics::counters().add(metrics::Counter::kTcpConnectionsAccepted);
  if (proxyProtocol_ && !trustedProxy(address, length, source)) return;
  if (proxyProtocol_) {
    // docs/design.md "Inputs": the header comes first, before anything else (TLS included).
    auto preface =
        std::make_shared<ProxyPreface>(worker_, std::move(socket), std::move(source), port_,
                                       [this](asio::ip::tcp::socket s, std::string client) {
                                         handOff(std::move(s), std::move(client));
                                       });
    worker_.adoptPreface(preface);
    preface->start();
    return;
  }
  handOff(std::move(socket), std::move(source));
}

bool TcpListener::trustedProxy(const sockaddr* peer, socklen_t length, const std::string& source) {
  const ProxyTrust& trust = worker_.options().proxyTrust;
  if (trust.trusts(peer, length)) return true;
  // Refused at accept, before a byte is read: a header from this peer would let it choose the
  // logStream of its records. The caller drops the socket; with its data unread the close is a
  // reset, which tells the sender plainly.
  metrics::counters().add(metrics::Counter::kProxyUntrustedPeers);
  metrics::problems().report(
      metrics::Problem::kProxyUntrustedPeer, SystemClock::instance().monotonicMicros(),
      fmt::format("{} on port {}: not in --proxy-trusted; closed", source, port_));
  return false;
}

void TcpListener::handOff(asio::ip::tcp::socket socket, std::string source) {
  // A TLS port's handshake starts here, after the PROXY header (RFC 5425 §4.2, docs/design.md
  // "Inputs").
  auto connection =
      std::make_shared<TcpConnection>(worker_, std::move(socket), std::move(source), group_,
                                      tls_ ? tls_->current() : nullptr, counters_.get());
  worker_.adopt(connection);
  connection->start();
}

void TcpListener::acceptQueuedAndClose() {
  std::error_code error;
  retryTimer_.cancel();
  acceptor_.non_blocking(true, error);
  for (;;) {
    asio::ip::tcp::socket socket(worker_.io());
    acceptor_.accept(socket, peer_, error);
    if (error) break;
    adopt(std::move(socket), peer_);
  }
  acceptor_.close(error);
}

}  // namespace kinesyslog::net
