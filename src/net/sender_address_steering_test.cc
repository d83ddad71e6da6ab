#include "net/sender_address_steering.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <string>

namespace kinesyslog::net {
namespace {

// The program's hash, written again in C++: the kernel's choices must match it, which shows
// that the program read the source address where it is.
uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

uint32_t expectedIndex(const std::string& source, unsigned sockets) {
  in_addr v4{};
  if (inet_pton(AF_INET, source.c_str(), &v4) == 1) return lowbias32(ntohl(v4.s_addr)) % sockets;
  in6_addr v6{};
  EXPECT_EQ(inet_pton(AF_INET6, source.c_str(), &v6), 1);
  uint32_t folded = 0;
  for (int word = 0; word < 4; ++word) {
    uint32_t w;
    std::memcpy(&w, &v6.s6_addr[word * 4], 4);
    folded ^= ntohl(w);
  }
  return lowbias32(folded) % sockets;
}

sockaddr_storage endpoint(const std::string& address, uint16_t port, socklen_t* length) {
  sockaddr_storage s{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&s);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&s);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *length = sizeof *v4;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr), 1);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *length = sizeof *v6;
  }
  return s;
}

// A reuseport group of `sockets` UDP sockets on `address` (port chosen by the kernel), the
// program attached once all have joined.
class Group {
 public:
  Group(const std::string& address, unsigned sockets) {
    for (unsigned i = 0; i < sockets; ++i) {
      socklen_t length = 0;
      sockaddr_storage local = endpoint(address, port_, &length);
      int fd = ::socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), length), 0) << strerror(errno);
      if (port_ == 0) {
        length = sizeof local;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);  // same offset in v6
      }
      fds_.push_back(fd);
    }
  }
  ~Group() {
    for (int fd : fds_) ::close(fd);
  }
  uint16_t port() const { return port_; }
  int fd(unsigned i) const { return fds_[i]; }
  unsigned size() const { return static_cast<unsigned>(fds_.size()); }

  // Which sockets received datagrams, by the datagram's text after the 2-byte GELF magic or
  // whatever stands there (its sender's address); waits until `expected` datagrams arrived.
  std::map<std::string, std::set<unsigned>> receive(size_t expected) {
    std::map<std::string, std::set<unsigned>> seen;
    size_t received = 0;
    for (int rounds = 0; received < expected && rounds < 200; ++rounds) {
      std::vector<pollfd> polls;
      for (int fd : fds_) polls.push_back({fd, POLLIN, 0});
      ::poll(polls.data(), polls.size(), 10);
      for (unsigned i = 0; i < fds_.size(); ++i) {
        char text[64];
        ssize_t n;
        while ((n = ::recv(fds_[i], text, sizeof text, 0)) > 0) {
          if (n > 2) seen[std::string(text + 2, static_cast<size_t>(n) - 2)].insert(i);
          ++received;
        }
      }
    }
    EXPECT_EQ(received, expected);
    return seen;
  }

 private:
  uint16_t port_ = 0;
  std::vector<int> fds_;
};

constexpr char kChunkMagic[] = "\x1e\x0f";
constexpr char kNotAChunk[] = "{\"";  // a plain GELF datagram starts with its JSON

// Sends `count` datagrams from `source`, each from a socket of its own: each from another
// source port. The text is `start` (2 bytes) and the source address.
void sendFromNewPorts(const std::string& source, const std::string& destination, uint16_t port,
                      int count, const char* start = kChunkMagic) {
  const std::string text = std::string(start, 2) + source;
  std::vector<int> senders;
  for (int i = 0; i < count; ++i) {
    socklen_t length = 0;
    sockaddr_storage from = endpoint(source, 0, &length);
    sockaddr_storage to = endpoint(destination, port, &length);
    int fd = ::socket(from.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&from), length), 0) << strerror(errno);
    ASSERT_EQ(::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to), length),
              static_cast<ssize_t>(text.size()));
    senders.push_back(fd);  // open to the end: no port is used twice
  }
  for (int fd : senders) ::close(fd);
}

TEST(SenderAddressSteering, ChunksOfOneIpv4AddressReachOneSocketWhateverTheirPorts) {
  for (unsigned sockets : {2u, 3u, 4u}) {
    Group group("127.0.0.1", sockets);
    ASSERT_EQ(steerChunksBySenderAddress(group.fd(0), group.size()), 0);
    std::vector<std::string> sources;
    for (int i = 1; i <= 16; ++i) sources.push_back("127.0.0." + std::to_string(i));
    for (const auto& source : sources) sendFromNewPorts(source, "127.0.0.1", group.port(), 8);
    auto seen = group.receive(sources.size() * 8);
    std::set<unsigned> used;
    for (const auto& source : sources) {
      // Index i is the i-th socket to join: the kernel read the address the program names.
      EXPECT_EQ(seen[source], std::set<unsigned>{expectedIndex(source, sockets)}) << source;
      used.insert(seen[source].begin(), seen[source].end());
    }
    EXPECT_EQ(used.size(), sockets) << "16 addresses spread over every socket";
  }
}

TEST(SenderAddressSteering, DualStackSocketSteersChunksOfIpv6AndIpv4Senders) {
  Group group("::", 4);
  ASSERT_EQ(steerChunksBySenderAddress(group.fd(0), group.size()), 0);
  // IPv4 senders reach the IPv6 socket with an IPv4 network header: the version decides
  // where the address is read.
  const std::vector<std::string> sources = {"::1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
                                            "127.0.0.5"};
  for (const auto& source : sources) {
    sendFromNewPorts(source, source == "::1" ? "::1" : "127.0.0.1", group.port(), 8);
  }
  auto seen = group.receive(sources.size() * 8);
  for (const auto& source : sources) {
    EXPECT_EQ(seen[source], std::set<unsigned>{expectedIndex(source, 4)}) << source;
  }
}

TEST(SenderAddressSteering, WholeDatagramsKeepTheKernelsHashOverSourcePorts) {
  Group group("127.0.0.1", 4);
  ASSERT_EQ(steerChunksBySenderAddress(group.fd(0), group.size()), 0);
  // 64 source ports of one address: the 4-tuple hash puts them all on one of 4 sockets with a
  // probability of 4 x 4^-64.
  sendFromNewPorts("127.0.0.1", "127.0.0.1", group.port(), 64, kNotAChunk);
  auto seen = group.receive(64);
  EXPECT_GT(seen["127.0.0.1"].size(), 1u);
}

}  // namespace
}  // namespace kinesyslog::net
