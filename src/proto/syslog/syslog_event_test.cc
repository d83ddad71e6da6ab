#include "proto/syslog/syslog_event.h"

#include <gtest/gtest.h>

#include "proto/syslog/local_zone.h"

using namespace std::string_view_literals;

namespace kinesyslog::syslog {
namespace {

// 2018-02-21T21:07:50.239881Z
constexpr int64_t kReceive = 1519247270239881;

class SyslogEventTest : public ::testing::Test {
 protected:
  AppendedEvent add(std::string_view message, size_t max = 65536) {
    return appendSyslogEvent(batch_, message, kReceive, "192.0.2.7", *zone_, max);
  }
  std::string last() const { return std::string(batch_.message(batch_.events.back())); }

  std::optional<LocalZone> zone_ = LocalZone::find("UTC");
  record::SourceBatch batch_;
};

TEST_F(SyslogEventTest, MessageWithHeaderTimeIsKeptAsReceived) {
  auto r = add("<13>1 2018-02-21T21:07:50.239881+00:00 host user 4326 - - Hello\r\n");
  EXPECT_FALSE(r.rewritten);
  EXPECT_EQ(last(), "<13>1 2018-02-21T21:07:50.239881+00:00 host user 4326 - - Hello");
  EXPECT_EQ(batch_.events.back().timestampMs, 1519247270240);
}

TEST_F(SyslogEventTest, MessageWithoutTimestampIsRewrittenLikeTheSeed) {
  auto r = add("<34>hello world\n");
  EXPECT_TRUE(r.rewritten);
  EXPECT_EQ(last(), "<34>1 2018-02-21T21:07:50.239881+00:00 192.0.2.7 hello world");
  EXPECT_EQ(batch_.events.back().timestampMs, 1519247270240);
}

TEST_F(SyslogEventTest, MessageWithoutPriGetsPri13AndKeepsEveryWord) {
  add("just some text");
  EXPECT_EQ(last(), "<13>1 2018-02-21T21:07:50.239881+00:00 192.0.2.7 just some text");
}

// An RFC 5424 message whose TIMESTAMP is the NILVALUE is valid as it stands (docs/design.md
// "Events").
TEST_F(SyslogEventTest, NilTimestampKeepsTheTextAndTakesTheReceiveTime) {
  auto r = add("<14>1 - host app - - - text\n");
  EXPECT_FALSE(r.rewritten);
  EXPECT_EQ(last(), "<14>1 - host app - - - text");
  EXPECT_EQ(batch_.events.back().timestampMs, 1519247270240);
  add("<14>1 -");
  EXPECT_EQ(last(), "<14>1 -");
}

TEST_F(SyslogEventTest, HeaderTimeBefore1970IsRewrittenWithTheReceiveTime) {
  auto r = add("<13>1 1969-12-31T23:59:59Z host app - - - old");
  EXPECT_TRUE(r.rewritten);
  EXPECT_EQ(last(),
            "<13>1 2018-02-21T21:07:50.239881+00:00 192.0.2.7 1 1969-12-31T23:59:59Z host app - "
            "- - old");
  EXPECT_EQ(batch_.events.back().timestampMs, 1519247270240);
}

TEST_F(SyslogEventTest, TruncatesBytesAsReceivedBeforeTheRewrite) {
  auto r = add("<13>abcdefghij\n", 8);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(last(), "<13>1 2018-02-21T21:07:50.239881+00:00 192.0.2.7 abcd");
}

TEST_F(SyslogEventTest, EmptyMessagesAreSkipped) {
  EXPECT_EQ(add("\r\n\0"sv).bytes, 0u);
  EXPECT_EQ(add("").bytes, 0u);
  EXPECT_TRUE(batch_.events.empty());
  EXPECT_TRUE(batch_.arena.empty());
}

TEST_F(SyslogEventTest, EventsPointIntoTheArenaBackToBack) {
  add("<13>1 2018-02-21T21:07:50Z h a - - - one");
  add("two");
  ASSERT_EQ(batch_.events.size(), 2u);
  EXPECT_EQ(batch_.message(batch_.events[0]), "<13>1 2018-02-21T21:07:50Z h a - - - one");
  EXPECT_EQ(batch_.events[0].timestampMs, 1519247270000);
  EXPECT_EQ(batch_.events[1].offset, batch_.events[0].length);
  EXPECT_EQ(batch_.arena.size(), batch_.events[0].length + batch_.events[1].length);
}

}  // namespace
}  // namespace kinesyslog::syslog
