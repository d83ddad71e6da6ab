#include "aws/curl_http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kinesyslog::aws {
namespace {

using namespace std::chrono_literals;

struct ReceivedRequest {
  int connection = 0;  // which accepted connection carried it (0, 1, ...)
  std::string method;
  std::string target;
  HttpHeaders headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (strcasecmp(key.c_str(), std::string(name).c_str()) == 0) return value;
    }
    return std::nullopt;
  }
};

// Bound to 127.0.0.1 on an ephemeral port without accepting: connections complete in the
// kernel's backlog and then nobody ever answers.
class ListeningSocket {
 public:
  ListeningSocket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
  }
  ~ListeningSocket() { close(); }
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A minimal HTTP/1.1 server on a thread: parses requests (Content-Length bodies only), records
// them with the connection they came on, and answers each with what the responder returns
// (raw bytes). Connections stay open until the client closes them, so keep-alive is visible.
class TestServer {
 public:
  using Responder = std::function<std::string(const ReceivedRequest&)>;

  explicit TestServer(Responder responder = okResponder)
      : responder_(std::move(responder)), thread_([this] { run(); }) {}
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (const Connection& connection : connections_) ::close(connection.fd);
  }

  uint16_t port() const { return socket_.port(); }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connectionsAccepted() const { return accepted_; }

  static std::string okResponder(const ReceivedRequest&) {
    return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: Yes\r\nx-amzn-RequestId: r-1\r\n\r\n"
           "hello";
  }

 private:
  struct Connection {
    int fd;
    int id;
    std::string buffer;
  };

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds;
      fds.push_back({socket_.fd(), POLLIN, 0});
      for (const Connection& connection : connections_) fds.push_back({connection.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept4(socket_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) connections_.push_back({fd, accepted_++, {}});
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Connection& connection = connections_[i - 1];
        char chunk[4096];
        const ssize_t n = ::read(connection.fd, chunk, sizeof chunk);
        if (n <= 0) {
          ::close(connection.fd);
          connection.fd = -1;
          continue;
        }
        connection.buffer.append(chunk, static_cast<size_t>(n));
        serve(connection);
      }
      std::erase_if(connections_, [](const Connection& c) { return c.fd < 0; });
    }
  }

  void serve(Connection& connection) {
    while (true) {
      const size_t headEnd = connection.buffer.find("\r\n\r\n");
      if (headEnd == std::string::npos) return;
      ReceivedRequest request;
      request.connection = connection.id;
      const std::string head = connection.buffer.substr(0, headEnd);
      size_t lineEnd = head.find("\r\n");
      const std::string requestLine = head.substr(0, lineEnd);
      const size_t firstSpace = requestLine.find(' ');
      const size_t lastSpace = requestLine.rfind(' ');
      request.method = requestLine.substr(0, firstSpace);
      request.target = requestLine.substr(firstSpace + 1, lastSpace - firstSpace - 1);
      while (lineEnd != std::string::npos) {
        const size_t start = lineEnd + 2;
        lineEnd = head.find("\r\n", start);
        const std::string line = head.substr(start, lineEnd - start);
        const size_t colon = line.find(':');
        const size_t valueStart = line.find_first_not_of(' ', colon + 1);
        request.headers.emplace_back(
            line.substr(0, colon), valueStart == std::string::npos ? "" : line.substr(valueStart));
      }
      const size_t length = std::stoul(request.header("Content-Length").value_or("0"));
      if (connection.buffer.size() < headEnd + 4 + length) return;
      request.body = connection.buffer.substr(headEnd + 4, length);
      connection.buffer.erase(0, headEnd + 4 + length);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const std::string answer = responder_(request);
      if (::write(connection.fd, answer.data(), answer.size()) !=
          static_cast<ssize_t>(answer.size())) {
        ADD_FAILURE() << "short write";
      }
    }
  }

  ListeningSocket socket_;
  Responder responder_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<Connection> connections_;  // server thread only
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;  // last: starts after everything above exists
};

constexpr const char* kProxyVariables[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                           "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

// Hermetic: proxy variables of the machine running the tests are cleared, and restored after.
class CurlHttpClientTest : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kProxyVariables) {
      if (const char* value = std::getenv(name)) saved_[name] = value;
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : kProxyVariables) ::unsetenv(name);
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }

  std::map<std::string, std::string> saved_;
};

TEST_F(CurlHttpClientTest, PostSendsMethodTargetHeadersAndBody) {
  TestServer server;
  CurlHttpClient client;
  HttpRequest request;
  request.method = "POST";
  request.url = server.url("/path/x?Action=Test&y=1");
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "Firehose_20150804.PutRecordBatch"},
                     {"X-Empty", ""}};
  request.body = std::string("{\"a\":1}\0tail", 12);

  const HttpResponse response = client.send(request);

  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.transportFailed());
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.header("x-test"), "Yes");
  EXPECT_EQ(response.header("X-Amzn-RequestId"), "r-1");
  EXPECT_EQ(response.header("Missing"), "");
  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].target, "/path/x?Action=Test&y=1");
  EXPECT_EQ(received[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(received[0].header("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(received[0].header("X-Amz-Target"), "Firehose_20150804.PutRecordBatch");
  EXPECT_EQ(received[0].header("X-Empty"), "");
  EXPECT_EQ(received[0].header("Content-Length"), "12");
  EXPECT_EQ(received[0].body, request.body);
  EXPECT_EQ(received[0].header("Expect"), std::nullopt);
  EXPECT_EQ(received[0].header("Accept"), std::nullopt);
}

TEST_F(CurlHttpClientTest, GetSendsNoBodyAndNoDefaultContentType) {
  TestServer server;
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.url("/latest/meta-data/");
  request.headers = {{"Host", "example.amazonaws.com"}};
  ASSERT_EQ(client.send(request).status, 200);

  HttpRequest post;
  post.method = "POST";
  post.url = server.url();
  ASSERT_EQ(client.send(post).status, 200);

  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/latest/meta-data/");
  EXPECT_EQ(received[0].header("Host"), "example.amazonaws.com");  // ours, which we signed
  EXPECT_EQ(received[0].header("Content-Length"), std::nullopt);
  EXPECT_EQ(received[1].method, "POST");
  EXPECT_EQ(received[1].header("Content-Length"), "0");
  EXPECT_EQ(received[1].header("Content-Type"), std::nullopt);
}

TEST_F(CurlHttpClientTest, PutAndCustomMethods) {
  TestServer server;
  CurlHttpClient client;
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url("/latest/api/token");
  put.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  ASSERT_EQ(client.send(put).status, 200);
  HttpRequest del;
  del.method = "DELETE";
  del.url = server.url("/thing");
  ASSERT_EQ(client.send(del).status, 200);

  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].method, "PUT");
  EXPECT_EQ(received[0].header("Content-Length"), "0");
  EXPECT_EQ(received[0].header("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(received[1].method, "DELETE");
  EXPECT_EQ(received[1].target, "/thing");
}

TEST_F(CurlHttpClientTest, KeepAliveReusesOneConnection) {
  TestServer server;
  CurlHttpClient client;
  for (int i = 0; i < 3; ++i) {
    HttpRequest request;
    request.method = "POST";
    request.url = server.url("/");
    request.body = "request " + std::to_string(i);
    ASSERT_EQ(client.send(request).status, 200) << i;
  }
  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 3u);
  for (const ReceivedRequest& request : received) EXPECT_EQ(request.connection, 0);
  EXPECT_EQ(received[2].body, "request 2");
  EXPECT_EQ(server.connectionsAccepted(), 1);
}

TEST_F(CurlHttpClientTest, ErrorStatusIsAnAnswerNotATransportFailure) {
  TestServer server([](const ReceivedRequest&) {
    return std::string(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
        "Content-Length: 30\r\n\r\n{\"__type\":\"ValidationError\"}\r\n");
  });
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.url();
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 400);
  EXPECT_FALSE(response.transportFailed());
  EXPECT_EQ(response.header("content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(response.body, "{\"__type\":\"ValidationError\"}\r\n");
}

TEST_F(CurlHttpClientTest, InterimAnswerHeadersAreDropped) {
  TestServer server([](const ReceivedRequest&) {
    return std::string(
        "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
        "HTTP/1.1 200 OK\r\nX-Final: 2\r\nContent-Length: 0\r\n\r\n");
  });
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.url();
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("X-Interim"), "");
  EXPECT_EQ(response.header("X-Final"), "2");
}

TEST_F(CurlHttpClientTest, TimeoutAgainstSilentServer) {
  ListeningSocket silent;
  CurlHttpClient client;
  HttpRequest request;
  request.method = "POST";
  request.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/";
  request.body = "x";
  request.timeout = 250ms;
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse response = client.send(request);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(response.transportFailed());
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("timed out"), std::string::npos) << response.error;
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1000ms);
}

TEST_F(CurlHttpClientTest, ConnectionRefusedIsStatusZeroWithError) {
  uint16_t port = 0;
  {
    ListeningSocket closed;
    port = closed.port();
  }  // closed: nothing listens there now
  CurlHttpClient client;
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  request.timeout = 1000ms;
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_TRUE(response.transportFailed());
  EXPECT_NE(response.error.find("(curl error 7)"), std::string::npos) << response.error;
}

TEST_F(CurlHttpClientTest, HeaderWithLineBreakIsRefusedBeforeSending) {
  TestServer server;
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.url();
  request.headers = {{"X-Injected", "a\r\nX-Other: b"}};
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("X-Injected"), std::string::npos);
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(CurlHttpClientTest, MissingCaFileFailsHttpsWithoutWaitingForTimeout) {
  ListeningSocket silent;
  CurlHttpClient client(CurlHttpClient::Options{"/nonexistent/kinesyslog-ca.pem"});
  HttpRequest request;
  request.url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/";
  request.timeout = 2000ms;
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms) << response.error;
}

// http_proxy (lowercase: libcurl ignores HTTP_PROXY) sends plain HTTP requests to the proxy in
// absolute form (RFC 9112 §3.2.2). The target port has no listener: only the proxy can answer.
TEST_F(CurlHttpClientTest, HttpProxyFromEnvironmentGetsAbsoluteFormRequest) {
  TestServer proxy;
  uint16_t unusedPort = 0;
  {
    ListeningSocket closed;
    unusedPort = closed.port();
  }
  ::setenv("http_proxy", proxy.url("").c_str(), 1);
  CurlHttpClient client;
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(unusedPort) + "/via/proxy";
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 200) << response.error;
  const std::vector<ReceivedRequest> received = proxy.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].target, request.url);
}

// HTTPS_PROXY (docs/design.md "AWS"): https:// goes through a CONNECT tunnel to the proxy. Our
// proxy refuses the tunnel, which surfaces as a transport failure.
TEST_F(CurlHttpClientTest, HttpsProxyFromEnvironmentGetsConnectRequest) {
  TestServer proxy([](const ReceivedRequest&) {
    return std::string("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  ::setenv("HTTPS_PROXY", proxy.url("").c_str(), 1);
  CurlHttpClient client;
  HttpRequest request;
  request.method = "POST";
  request.url = "https://firehose.us-east-1.amazonaws.com/";
  request.timeout = 2000ms;
  const HttpResponse response = client.send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("403"), std::string::npos) << response.error;
  const std::vector<ReceivedRequest> received = proxy.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "CONNECT");
  EXPECT_EQ(received[0].target, "firehose.us-east-1.amazonaws.com:443");
}

TEST_F(CurlHttpClientTest, NoProxyBypassesTheProxy) {
  TestServer proxy;
  TestServer server;
  ::setenv("http_proxy", proxy.url("").c_str(), 1);
  ::setenv("NO_PROXY", "example.com,127.0.0.1", 1);
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.url("/direct");
  EXPECT_EQ(client.send(request).status, 200);
  EXPECT_TRUE(proxy.requests().empty());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/direct");
}

}  // namespace
}  // namespace kinesyslog::aws
