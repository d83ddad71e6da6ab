#include "net/connection_limit.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace kinesyslog::net {
namespace {

TEST(ConnectionLimit, ReserveGrowsWithWorkersAndDestinations) {
  EXPECT_EQ(descriptorReserve(2, 0), 2u * 2 + 16 + 33 + 16);
  EXPECT_EQ(descriptorReserve(2, 1), descriptorReserve(2, 0));  // the output directory is one
  EXPECT_EQ(descriptorReserve(4, 3), 2u * 4 + 16 * 3 + 33 + 16);
}

TEST(ConnectionLimit, LimitLeavesTheReserveAndWhatIsOpen) {
  // 256 descriptors, 16 open at start, a reserve of 69: 171 connections.
  EXPECT_EQ(connectionLimit(256, 16, 69), 171u);
  // A limit too small for the reserve still lets one connection in (and the accept loop's
  // EMFILE backoff is the last guard).
  EXPECT_EQ(connectionLimit(64, 16, 69), 1u);
  EXPECT_EQ(connectionLimit(85, 16, 69), 1u);
  EXPECT_EQ(connectionLimit(86, 16, 69), 1u);
  EXPECT_EQ(connectionLimit(87, 16, 69), 2u);
}

TEST(ConnectionLimit, CountsOpenDescriptors) {
  const uint64_t before = openDescriptorCount();
  ASSERT_GT(before, 2u);  // at least stdin, stdout, stderr
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(openDescriptorCount(), before + 1);
  ::close(fd);
  EXPECT_EQ(openDescriptorCount(), before);
}

}  // namespace
}  // namespace kinesyslog::net
