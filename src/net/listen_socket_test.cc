#include "net/listen_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include "util/startup_error.h"

namespace kinesyslog::net {
namespace {

std::string text6(const char* address) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, address, &a.sin6_addr), 1);
  return addressText(&a, sizeof a);
}

TEST(AddressText, CanonicalForms) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
  EXPECT_EQ(addressText(&v4, sizeof v4), "192.0.2.1");
  // RFC 5952 §4: lowercase, longest run of zeros compressed, a single zero field not.
  EXPECT_EQ(text6("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(text6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(text6("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  EXPECT_EQ(text6("::1"), "::1");
  // docs/design.md "Inputs": an IPv4-mapped address is written as the IPv4 address.
  EXPECT_EQ(text6("::ffff:192.0.2.1"), "192.0.2.1");
}

TEST(ListenSocket, SecondOwnerOfAPortIsRefused) {
  int fd = openReusePortSocket("127.0.0.1", 0, Transport::kTcp);
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  uint16_t port = ntohs(bound.sin_port);
  try {
    ensurePortFree("127.0.0.1", port, Transport::kTcp);
    ADD_FAILURE() << "port in use was not detected";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitConfig);
    EXPECT_NE(std::string(e.what()).find("already in use"), std::string::npos);
  }
  ::close(fd);
  EXPECT_NO_THROW(ensurePortFree("127.0.0.1", port, Transport::kTcp));
}

TEST(ListenSocket, UdpSecondOwnerIsRefused) {
  int fd = openReusePortSocket("127.0.0.1", 0, Transport::kUdp);
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  EXPECT_THROW(ensurePortFree("127.0.0.1", ntohs(bound.sin_port), Transport::kUdp), StartupError);
  ::close(fd);
}

TEST(ListenSocket, BadAddressIsAConfigurationError) {
  try {
    ensurePortFree("not-an-ip", 5514, Transport::kUdp);
    ADD_FAILURE();
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitConfig);
  }
}

}  // namespace
}  // namespace kinesyslog::net
