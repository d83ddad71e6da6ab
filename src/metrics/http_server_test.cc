#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "util/startup_error.h"

namespace kinesyslog::metrics {
namespace {

EndpointPages pages(bool ready = true) {
  EndpointPages p;
  p.metrics = [] { return std::string("m_total 1\n"); };
  p.readiness = [ready] { return Readiness{ready, ready ? "ready" : "spool full"}; };
  return p;
}

HttpRequest request(std::string method, std::string target) {
  return HttpRequest{std::move(method), std::move(target), 1};
}

TEST(HttpAnswer, ServesTheThreePages) {
  EXPECT_EQ(answer(request("GET", "/metrics"), pages()).body, "m_total 1\n");
  EXPECT_EQ(answer(request("GET", "/metrics"), pages()).contentType,
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(answer(request("GET", "/healthz"), pages()).status, 200);
  EXPECT_EQ(answer(request("HEAD", "/readyz?verbose"), pages()).status, 200);
  const auto notReady = answer(request("GET", "/readyz"), pages(false));
  EXPECT_EQ(notReady.status, 503);
  EXPECT_EQ(notReady.body, "spool full\n");
}

TEST(HttpAnswer, RefusesOtherMethodsAndPaths) {
  EXPECT_EQ(answer(request("POST", "/metrics"), pages()).status, 405);
  EXPECT_EQ(answer(request("OPTIONS", "/nothing"), pages()).status, 405);
  EXPECT_EQ(answer(request("GET", "/"), pages()).status, 404);
  EXPECT_EQ(answer(request("GET", "/metrics/"), pages()).status, 404);
  EXPECT_EQ(answer(request("GET", "/../etc/passwd"), pages()).status, 404);
}

TEST(HttpAnswer, HeadHasNoBody) {
  HttpResponse r;
  r.body = "abc";
  const std::string head = serialize(r, true);
  EXPECT_NE(head.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_TRUE(serialize(r, false).ends_with("\r\n\r\nabc"));
}

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Everything the server sends until it closes.
std::string exchange(uint16_t port, const std::string& bytes) {
  const int fd = connectTo(port);
  if (!bytes.empty()) {
    EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
  }
  std::string got;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) got.append(buffer, size_t(n));
  ::close(fd);
  return got;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    HttpServerOptions o;
    o.port = 0;
    o.timeout = std::chrono::milliseconds(300);
    o.maxConnections = 2;
    server_ = std::make_unique<HttpServer>(o, pages());
    server_->start();
  }
  uint16_t port() const { return server_->port(); }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersAndCloses) {
  const auto got = exchange(port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\nm_total 1\n")) << got;
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, RefusesBadRequests) {
  EXPECT_TRUE(exchange(port(), std::string("GARBAGE\0\r\n\r\n", 12)).starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(exchange(port(), "POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
                  .starts_with("HTTP/1.1 413 "));
  EXPECT_TRUE(exchange(port(), "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                  .starts_with("HTTP/1.1 413 "));
  EXPECT_TRUE(exchange(port(), "DELETE /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
  EXPECT_TRUE(exchange(port(), "GET /admin HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
}

TEST_F(HttpServerTest, SlowRequestGets408) {
  EXPECT_TRUE(exchange(port(), "GET /metrics HTTP/1.1\r\n").starts_with("HTTP/1.1 408 "));
  EXPECT_TRUE(exchange(port(), "").starts_with("HTTP/1.1 408 "));
  EXPECT_EQ(server_->snapshot().connectionsTimedOut, 2u);
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitAreClosed) {
  const int a = connectTo(port());
  const int b = connectTo(port());
  // The third is closed at once while the first two wait for their requests.
  EXPECT_EQ(exchange(port(), "GET /healthz HTTP/1.1\r\n\r\n"), "");
  ::close(a);
  ::close(b);
  EXPECT_EQ(server_->snapshot().connectionsRefused, 1u);
}

TEST(HttpServer, PortInUseIsAConfigurationError) {
  HttpServer first(HttpServerOptions{}, pages());
  HttpServerOptions o;
  o.port = first.port();
  try {
    HttpServer second(o, pages());
    FAIL() << "bound twice";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitConfig);
  }
  o.address = "not-an-address";
  EXPECT_THROW(HttpServer(o, pages()), StartupError);
}

}  // namespace
}  // namespace kinesyslog::metrics
