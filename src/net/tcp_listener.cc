#include "net/tcp_listener.h"

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
  acceptor_.async_accept([this](const std::error_code& error, asio::ip::tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (error) {
      // EMFILE and friends: back off briefly instead of spinning; the queue keeps the sender.
      metrics::problems().report(
          metrics::Problem::kAcceptError, SystemClock::instance().monotonicMicros(),
          "accept on port " + std::to_string(port_) + ": " + error.message());
      retryTimer_.expires_after(std::chrono::milliseconds(100));
      retryTimer_.async_wait([this](const std::error_code& e) {
        if (!e && acceptor_.is_open()) acceptNext();
      });
      return;
    }
    adopt(std::move(socket));
    acceptNext();
  });
}

void TcpListener::adopt(asio::ip::tcp::socket socket) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  std::string source = "unknown";
  if (::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    source = addressText(&peer, length);
  }
  metrics::counters().add(metrics::Counter::kTcpConnectionsAccepted);
  if (proxyProtocol_) {
    // DESIGN §1 Inputs: the header comes first, before anything else (TLS included).
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

void TcpListener::handOff(asio::ip::tcp::socket socket, std::string source) {
  // A TLS port's handshake starts here, after the PROXY header (RFC 5425 §4.2, DESIGN §1).
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
    acceptor_.accept(socket, error);
    if (error) break;
    adopt(std::move(socket));
  }
  acceptor_.close(error);
}

}  // namespace kinesyslog::net
