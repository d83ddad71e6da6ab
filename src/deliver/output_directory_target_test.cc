#include "deliver/output_directory_target.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <set>

#include "util/startup_error.h"

namespace kinesyslog::deliver {
namespace {

namespace fs = std::filesystem;

// 2018-02-21T21:07:50.239881Z, the instant of sample record in docs/design.md "Records".
constexpr int64_t kSampleMicros = 1519247270239881;

// RFC 9562 §5.4 in its text form: lower-case hex, version 4, variant 10.
bool isUuidV4(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (dash ? s[i] != '-' : !hex) return false;
  }
  return s[14] == '4' && std::string_view("89ab").find(s[19]) != std::string_view::npos;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class OutputDirectoryTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "output-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "out";
  }
  void TearDown() override { fs::remove_all(root_); }

  // Every file below the output directory, as keys relative to it.
  std::vector<std::string> objects() const {
    std::vector<std::string> keys;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (!e.is_directory()) keys.push_back(fs::relative(e.path(), dir_).string());
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  fs::path root_;
  fs::path dir_;
  ManualClock clock_{kSampleMicros};
};

TEST_F(OutputDirectoryTargetTest, ObjectKeyIsFirehoseLikeInUtcAtDeliveryTime) {
  OutputDirectoryTarget target(dir_, "my-stream", clock_);
  PutResult result = target.put(std::vector<std::string>{"record"});
  EXPECT_EQ(result.accepted, std::vector<bool>{true});
  EXPECT_TRUE(result.error.empty());
  auto keys = objects();
  ASSERT_EQ(keys.size(), 1u);
  const std::string prefix = "2018/02/21/21/my-stream-1-2018-02-21-21-07-50-";
  EXPECT_EQ(keys[0].substr(0, prefix.size()), prefix);
  EXPECT_TRUE(isUuidV4(std::string_view(keys[0]).substr(prefix.size()))) << keys[0];
}

TEST(OutputDirectoryObjectKeyTest, FieldsAreZeroPaddedAndRollOverAtNewYear) {
  EXPECT_EQ(OutputDirectoryTarget::objectKey("s", 1577836799999999, "u"),
            "2019/12/31/23/s-1-2019-12-31-23-59-59-u");
  EXPECT_EQ(OutputDirectoryTarget::objectKey("s", 1577836800000000, "u"),
            "2020/01/01/00/s-1-2020-01-01-00-00-00-u");
  EXPECT_EQ(OutputDirectoryTarget::objectKey("kinesyslog", 0, "u"),
            "1970/01/01/00/kinesyslog-1-1970-01-01-00-00-00-u");
  EXPECT_EQ(OutputDirectoryTarget::objectKey("s", 951782405000000, "u"),  // a leap day
            "2000/02/29/00/s-1-2000-02-29-00-00-05-u");
}

TEST_F(OutputDirectoryTargetTest, ObjectIsTheConcatenationAndNoTemporaryNameRemains) {
  OutputDirectoryTarget target(dir_, "kinesyslog", clock_);
  const std::vector<std::string> records = {"first\x1f\x8b", std::string("se\0cond", 7), "third"};
  PutResult result = target.put(records);
  EXPECT_EQ(result.accepted, std::vector<bool>(3, true));
  auto keys = objects();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(readFile(dir_ / keys[0]), records[0] + records[1] + records[2]);
  for (const auto& key : keys) {
    EXPECT_EQ(fs::path(key).filename().string().find('.'), std::string::npos) << key;
  }
}

TEST_F(OutputDirectoryTargetTest, EachPutIsANewObjectEvenInTheSameSecond) {
  OutputDirectoryTarget target(dir_, "kinesyslog", clock_);
  ASSERT_EQ(target.put(std::vector<std::string>{"a"}).accepted, std::vector<bool>{true});
  ASSERT_EQ(target.put(std::vector<std::string>{"b"}).accepted, std::vector<bool>{true});
  clock_.advanceMicros(3600LL * 1000000);
  ASSERT_EQ(target.put(std::vector<std::string>{"c"}).accepted, std::vector<bool>{true});
  auto keys = objects();
  ASSERT_EQ(keys.size(), 3u);
  std::multiset<std::string> contents;
  for (const auto& key : keys) contents.insert(readFile(dir_ / key));
  EXPECT_EQ(contents, (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(keys[2].substr(0, 14), "2018/02/21/22/");
}

TEST_F(OutputDirectoryTargetTest, EmptyBatchWritesNothing) {
  OutputDirectoryTarget target(dir_, "kinesyslog", clock_);
  PutResult result = target.put(std::vector<std::string>{});
  EXPECT_TRUE(result.accepted.empty());
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(objects().empty());
}

TEST_F(OutputDirectoryTargetTest, FailureAcceptsNothingAndSaysWhy) {
  OutputDirectoryTarget target(dir_, "kinesyslog", clock_);
  std::ofstream(dir_ / "2018") << "a file where the year folder should be";
  PutResult result = target.put(std::vector<std::string>{"a", "b"});
  EXPECT_EQ(result.accepted, std::vector<bool>(2, false));
  EXPECT_TRUE(result.retryable);
  EXPECT_NE(result.error.find((dir_ / "2018").string()), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("Not a directory"), std::string::npos) << result.error;
  EXPECT_EQ(objects(), std::vector<std::string>{"2018"});
}

TEST_F(OutputDirectoryTargetTest, UnusableDirectoryIsExit77NamingThePath) {
  std::ofstream(root_ / "file") << "x";
  const fs::path underFile = root_ / "file" / "out";
  try {
    OutputDirectoryTarget target(underFile, "kinesyslog", clock_);
    FAIL() << "no exception";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitNoPermission);
    EXPECT_NE(std::string(e.what()).find(underFile.string()), std::string::npos) << e.what();
  }
}

TEST_F(OutputDirectoryTargetTest, StreamNameThatIsNotAFileNameIsRefused) {
  for (const std::string& name : {std::string(), std::string("a/b"), std::string("a\0b", 3)}) {
    try {
      OutputDirectoryTarget target(dir_, name, clock_);
      FAIL() << "accepted " << name;
    } catch (const StartupError& e) {
      EXPECT_EQ(e.exitCode(), kExitUsage);
    }
  }
}

TEST_F(OutputDirectoryTargetTest, DescribeNamesTheDirectory) {
  OutputDirectoryTarget target(dir_, "kinesyslog", clock_);
  EXPECT_EQ(target.describe(), "output directory " + dir_.string());
}

}  // namespace
}  // namespace kinesyslog::deliver
