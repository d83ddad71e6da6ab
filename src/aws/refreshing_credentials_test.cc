#include "aws/refreshing_credentials.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <variant>

namespace kinesyslog::aws {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kStart = 1700000000 * kSecond;
constexpr auto kLongWait = std::chrono::seconds(5);

Credentials keys(const std::string& id, std::optional<int64_t> expires) {
  Credentials credentials;
  credentials.accessKeyId = id;
  credentials.secretAccessKey = "s";
  credentials.expiresMicros = expires;
  credentials.source = "scripted";
  return credentials;
}

// What the provider does on each load, in order; a gate holds load() until the test opens it.
struct Script {
  std::mutex mutex;
  std::condition_variable changed;
  bool gateOpen = true;
  int entered = 0;
  std::deque<std::variant<Credentials, std::string, std::monostate>> steps;  // string: throw

  void close() {
    std::lock_guard lock(mutex);
    gateOpen = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex);
      gateOpen = true;
    }
    changed.notify_all();
  }
  bool waitEntered(int count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kLongWait, [&] { return entered >= count; });
  }
  int loads() {
    std::lock_guard lock(mutex);
    return entered;
  }
  void push(Credentials credentials) {
    std::lock_guard lock(mutex);
    steps.emplace_back(std::move(credentials));
  }
  void pushError(const std::string& message) {
    std::lock_guard lock(mutex);
    steps.emplace_back(message);
  }
  void pushNothing() {
    std::lock_guard lock(mutex);
    steps.emplace_back(std::monostate{});
  }
};

class ScriptedProvider final : public CredentialsProvider {
 public:
  explicit ScriptedProvider(std::shared_ptr<Script> script) : script_(std::move(script)) {}
  std::optional<Credentials> load() override {
    std::unique_lock lock(script_->mutex);
    ++script_->entered;
    script_->changed.notify_all();
    script_->changed.wait(lock, [&] { return script_->gateOpen; });
    if (script_->steps.empty()) throw CredentialsError("script exhausted");
    auto step = std::move(script_->steps.front());
    script_->steps.pop_front();
    if (auto* credentials = std::get_if<Credentials>(&step)) return *credentials;
    if (auto* message = std::get_if<std::string>(&step)) throw CredentialsError(*message);
    return std::nullopt;
  }
  std::string name() const override { return "scripted"; }

 private:
  std::shared_ptr<Script> script_;
};

class RefreshingCredentialsTest : public ::testing::Test {
 protected:
  std::unique_ptr<RefreshingCredentials> make() {
    return std::make_unique<RefreshingCredentials>(std::make_unique<ScriptedProvider>(script_),
                                                   clock_);
  }
  // get() on another thread; nullopt when it did not return within `wait`.
  static std::optional<std::string> getWithin(RefreshingCredentials& credentials,
                                              std::chrono::milliseconds wait) {
    auto future = std::async(std::launch::async, [&] { return credentials.get().accessKeyId; });
    if (future.wait_for(wait) != std::future_status::ready) {
      pending_ = std::move(future);
      return std::nullopt;
    }
    return future.get();
  }

  std::shared_ptr<Script> script_ = std::make_shared<Script>();
  ManualClock clock_{kStart};
  inline static std::future<std::string> pending_;
  const int64_t expiry_ = kStart + 60 * kMinute;
};

TEST_F(RefreshingCredentialsTest, FirstGetLoadsAndNothingRefreshesBeforeTheWindow) {
  script_->push(keys("A", expiry_));
  auto credentials = make();
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  clock_.advanceMicros(44 * kMinute + 59 * kSecond);  // 15 min + 1 s before expiry
  for (int i = 0; i < 10; ++i) EXPECT_EQ(credentials->get().accessKeyId, "A");
  EXPECT_EQ(script_->loads(), 1);
  EXPECT_EQ(credentials->counters().loads, 1u);
  EXPECT_EQ(credentials->counters().backgroundRefreshes, 0u);
}

TEST_F(RefreshingCredentialsTest, LongTermKeysNeverRefresh) {
  script_->push(keys("A", std::nullopt));
  auto credentials = make();
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  clock_.advanceMicros(1000 * kMinute * 60);
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  EXPECT_EQ(script_->loads(), 1);
}

TEST_F(RefreshingCredentialsTest, AdvisoryRefreshRunsInTheBackgroundWithoutBlocking) {
  script_->push(keys("A", expiry_));
  script_->push(keys("B", expiry_ + 60 * kMinute));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");

  clock_.advanceMicros(46 * kMinute);  // 14 min before expiry: advisory window
  script_->close();
  // get() returns the current keys at once although the refresh is stuck in the provider.
  EXPECT_EQ(getWithin(*credentials, std::chrono::milliseconds(2000)), "A");
  ASSERT_TRUE(script_->waitEntered(2));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(credentials->get().accessKeyId, "A");
  EXPECT_EQ(script_->loads(), 2);  // one refresh in flight, not one per get()
  script_->open();
  credentials->waitForRefresh();
  EXPECT_EQ(credentials->get().accessKeyId, "B");
  EXPECT_EQ(credentials->counters().backgroundRefreshes, 1u);
  EXPECT_EQ(credentials->counters().loads, 2u);
}

TEST_F(RefreshingCredentialsTest, MandatoryRefreshBlocks) {
  script_->push(keys("A", expiry_));
  script_->push(keys("B", expiry_ + 60 * kMinute));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");

  clock_.advanceMicros(51 * kMinute);  // 9 min before expiry: mandatory window
  script_->close();
  EXPECT_EQ(getWithin(*credentials, std::chrono::milliseconds(200)), std::nullopt);
  ASSERT_TRUE(script_->waitEntered(2));
  script_->open();
  ASSERT_EQ(pending_.wait_for(kLongWait), std::future_status::ready);
  EXPECT_EQ(pending_.get(), "B");
  EXPECT_EQ(credentials->counters().backgroundRefreshes, 0u);
}

TEST_F(RefreshingCredentialsTest, MandatoryGetWaitsForTheBackgroundRefreshInFlight) {
  script_->push(keys("A", expiry_));
  script_->push(keys("B", expiry_ + 60 * kMinute));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");
  clock_.advanceMicros(46 * kMinute);
  script_->close();
  ASSERT_EQ(credentials->get().accessKeyId, "A");  // starts the background refresh
  ASSERT_TRUE(script_->waitEntered(2));
  clock_.advanceMicros(5 * kMinute);  // now mandatory
  EXPECT_EQ(getWithin(*credentials, std::chrono::milliseconds(200)), std::nullopt);
  script_->open();
  ASSERT_EQ(pending_.wait_for(kLongWait), std::future_status::ready);
  EXPECT_EQ(pending_.get(), "B");
  EXPECT_EQ(script_->loads(), 2);  // the waiting get() did not load a second time
}

TEST_F(RefreshingCredentialsTest, FailedAdvisoryRefreshKeepsOldKeysAndRetriesLater) {
  script_->push(keys("A", expiry_));
  script_->pushError("endpoint down");
  script_->push(keys("B", expiry_ + 60 * kMinute));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");
  clock_.advanceMicros(46 * kMinute);
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  credentials->waitForRefresh();
  EXPECT_EQ(credentials->lastError(), "endpoint down");
  EXPECT_EQ(credentials->counters().failures, 1u);

  clock_.advanceMicros(29 * kSecond);  // not yet: at most one attempt per 30 s
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  credentials->waitForRefresh();
  EXPECT_EQ(script_->loads(), 2);

  clock_.advanceMicros(1 * kSecond);
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  credentials->waitForRefresh();
  EXPECT_EQ(script_->loads(), 3);
  EXPECT_EQ(credentials->get().accessKeyId, "B");
  EXPECT_EQ(credentials->lastError(), "");
}

TEST_F(RefreshingCredentialsTest, FailedMandatoryRefreshKeepsUnexpiredKeysThenThrows) {
  script_->push(keys("A", expiry_));
  script_->pushError("STS down");
  script_->pushNothing();
  script_->pushError("still down");
  script_->push(keys("B", expiry_ + 60 * kMinute));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");

  clock_.advanceMicros(55 * kMinute);              // mandatory, not expired
  EXPECT_EQ(credentials->get().accessKeyId, "A");  // attempt 2 failed, old keys still good
  EXPECT_EQ(credentials->get().accessKeyId, "A");  // throttled: no new attempt
  EXPECT_EQ(script_->loads(), 2);

  clock_.advanceMicros(5 * kMinute);  // expired
  try {
    credentials->get();  // attempt 3: provider found nothing
    ADD_FAILURE();
  } catch (const CredentialsError& error) {
    EXPECT_STREQ(error.what(), "no AWS credentials found");
  }
  EXPECT_THROW(credentials->get(), CredentialsError);  // attempt 4, not throttled once expired
  EXPECT_EQ(credentials->get().accessKeyId, "B");      // attempt 5
  EXPECT_EQ(script_->loads(), 5);
  EXPECT_EQ(credentials->counters().failures, 3u);
}

TEST_F(RefreshingCredentialsTest, FirstLoadFailureThrows) {
  script_->pushError("no profile");
  script_->pushNothing();
  auto credentials = make();
  EXPECT_THROW(credentials->get(), CredentialsError);
  EXPECT_THROW(credentials->get(), CredentialsError);
  EXPECT_EQ(script_->loads(), 2);
}

TEST_F(RefreshingCredentialsTest, ShortLivedKeysAreNotRefreshedOnEveryGet) {
  script_->push(keys("A", kStart + 5 * kMinute));  // already inside the mandatory window
  script_->push(keys("B", kStart + 40 * kSecond + 6 * kMinute));
  auto credentials = make();
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  EXPECT_EQ(credentials->get().accessKeyId, "A");
  EXPECT_EQ(script_->loads(), 1);
  clock_.advanceMicros(40 * kSecond);
  EXPECT_EQ(credentials->get().accessKeyId, "B");
  EXPECT_EQ(credentials->get().accessKeyId, "B");
  EXPECT_EQ(script_->loads(), 2);
}

TEST_F(RefreshingCredentialsTest, ConcurrentGetsShareOneLoad) {
  script_->push(keys("A", expiry_));
  script_->close();
  auto credentials = make();
  std::vector<std::future<std::string>> gets;
  for (int i = 0; i < 4; ++i) {
    gets.push_back(std::async(std::launch::async, [&] { return credentials->get().accessKeyId; }));
  }
  ASSERT_TRUE(script_->waitEntered(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  script_->open();
  for (auto& get : gets) EXPECT_EQ(get.get(), "A");
  EXPECT_EQ(script_->loads(), 1);
}

TEST_F(RefreshingCredentialsTest, DestructionWhileARefreshRuns) {
  script_->push(keys("A", expiry_));
  script_->push(keys("B", expiry_));
  auto credentials = make();
  ASSERT_EQ(credentials->get().accessKeyId, "A");
  clock_.advanceMicros(46 * kMinute);
  script_->close();
  credentials->get();
  ASSERT_TRUE(script_->waitEntered(2));
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    script_->open();
  });
  credentials.reset();  // joins the worker once its load returns
  opener.join();
}

}  // namespace
}  // namespace kinesyslog::aws
