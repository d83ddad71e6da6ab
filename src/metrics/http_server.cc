#include "metrics/http_server.h"

#include <fmt/format.h>

#include <array>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "metrics/exposition.h"
#include "util/startup_error.h"

namespace kinesyslog::metrics {

namespace {

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

}  // namespace

HttpResponse answer(const HttpRequest& request, const EndpointPages& pages) {
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
  if (request.method != "GET" && request.method != "HEAD") {
    return plain(405, "method not allowed: only GET and HEAD");
  }
  if (!known) return plain(404, "not found: /metrics, /healthz and /readyz are served");
  if (path == "/healthz") return plain(200, "alive");
  if (path == "/readyz") {
    const Readiness r = pages.readiness();
    return plain(r.ready ? 200 : 503, r.reason);
  }
  HttpResponse r;
  r.contentType = std::string(Exposition::kContentType);
  r.body = pages.metrics();
  return r;
}

std::string serialize(const HttpResponse& response, bool head) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n",
      response.status, reasonPhrase(response.status), response.contentType, response.body.size());
  if (response.status == 405) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!head) out += response.body;
  return out;
}

// One accepted connection: read the head, answer once, close. Lives on the endpoint's thread.
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer& server, asio::ip::tcp::socket socket)
      : server_(server), socket_(std::move(socket)), deadline_(server.io_) {}

  void start() {
    deadline_.expires_after(server_.options_.timeout);
    deadline_.async_wait([self = shared_from_this()](const std::error_code& error) {
      if (!error) self->onTimeout();
    });
    readMore();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    deadline_.cancel();
    socket_.close(ignored);
    server_.connections_.erase(this);
  }

 private:
  void readMore() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](const std::error_code& error, size_t n) {
                              self->onRead(error, n);
                            });
  }

  void onRead(const std::error_code& error, size_t n) {
    if (closed_) return;
    if (error) {
      close();  // the peer left before the head was complete: nobody to answer
      return;
    }
    switch (parser_.feed(std::string_view(buffer_.data(), n))) {
      case HttpParseOutcome::kNeedMore:
        readMore();
        return;
      case HttpParseOutcome::kError:
        respond(plain(httpStatusFor(parser_.error()), "bad request"), false);
        return;
      case HttpParseOutcome::kDone:
        respond(answer(parser_.request(), server_.pages_), parser_.request().method == "HEAD");
        return;
    }
  }

  void respond(const HttpResponse& response, bool head) {
    server_.count(response.status);
    answered_ = true;
    out_ = serialize(response, head);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const std::error_code& error, size_t) {
                        if (self->closed_) return;
                        if (error) {
                          self->close();
                          return;
                        }
                        self->lingerThenClose();
                      });
  }

  // Closing with unread request bytes would reset the connection and could destroy the answer
  // before the client reads it; so the sending side is shut and what still arrives is read and
  // discarded until the peer closes (or the deadline).
  void lingerThenClose() {
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](const std::error_code& error, size_t) {
                              if (self->closed_) return;
                              if (error) {
                                self->close();
                              } else {
                                self->lingerThenClose();
                              }
                            });
  }

  void onTimeout() {
    if (closed_) return;
    if (!answered_) {
      server_.count(408);
      {
        std::lock_guard lock(server_.mutex_);
        ++server_.counts_.connectionsTimedOut;
      }
      // One non-blocking attempt: a client that does not read gets no more of our time.
      const std::string text = serialize(plain(408, "request timeout"), false);
      std::error_code ignored;
      socket_.non_blocking(true, ignored);
      socket_.write_some(asio::buffer(text), ignored);
    }
    close();
  }

  HttpServer& server_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer deadline_;
  HttpRequestParser parser_;
  std::array<char, 2048> buffer_{};
  std::string out_;
  bool answered_ = false;
  bool closed_ = false;
};

HttpServer::HttpServer(HttpServerOptions options, EndpointPages pages)
    : options_(std::move(options)), pages_(std::move(pages)), acceptor_(io_), retryTimer_(io_) {
  std::error_code error;
  const auto address = asio::ip::make_address(options_.address, error);
  if (error) {
    throw StartupError(kExitConfig, fmt::format("--prometheus-address '{}' is not an IP address",
                                                options_.address));
  }
  const asio::ip::tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    const std::string where =
        fmt::format("metrics endpoint {}:{}", options_.address, options_.port);
    if (error == asio::error::access_denied) {
      throw StartupError(kExitNoPermission, where + ": " + error.message());
    }
    throw StartupError(kExitConfig, where + ": " + error.message());
  }
  port_ = acceptor_.local_endpoint().port();
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  if (thread_.joinable()) return;
  acceptNext();
  thread_ = std::thread([this] { io_.run(); });
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    std::error_code ignored;
    acceptor_.close(ignored);
    retryTimer_.cancel();
    auto open = connections_;
    for (auto& [raw, connection] : open) connection->close();
    io_.stop();
  });
  thread_.join();
}

void HttpServer::acceptNext() {
  acceptor_.async_accept([this](const std::error_code& error, asio::ip::tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) {
      if (connections_.size() >= options_.maxConnections) {
        // Counted before the close, so that whoever sees the close also sees the count.
        {
          std::lock_guard lock(mutex_);
          ++counts_.connectionsRefused;
        }
        std::error_code ignored;
        socket.close(ignored);
      } else {
        auto connection = std::make_shared<Connection>(*this, std::move(socket));
        connections_.emplace(connection.get(), connection);
        connection->start();
      }
      acceptNext();
      return;
    }
    // EMFILE and the like end one accept, not the endpoint; retrying at once would spin.
    retryTimer_.expires_after(std::chrono::milliseconds(100));
    retryTimer_.async_wait([this](const std::error_code& e) {
      if (!e && acceptor_.is_open()) acceptNext();
    });
  });
}

void HttpServer::count(int status) {
  std::lock_guard lock(mutex_);
  ++counts_.responses[status];
}

HttpSnapshot HttpServer::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace kinesyslog::metrics
