#include "net/partial_budget.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "metrics/internal_error.h"
#include "metrics/relay_counters.h"

namespace kinesyslog::net {
namespace {

// A connection stand-in: holds `bytes`, and a cut drops them (as a framer's cut does).
struct FakeHolder : PartialBudget::Holder {
  void cutPartial() override {
    ++cuts;
    bytes = 0;
  }
  uint64_t bytes = 0;
  int cuts = 0;
};

struct Fixture {
  explicit Fixture(uint64_t limit, size_t n) : budget(limit), holders(n) {
    for (auto& h : holders) slots.push_back(budget.join(h));
  }
  void hold(size_t i, uint64_t bytes) {
    holders[i].bytes = bytes;
    budget.update(slots[i], bytes);
  }
  PartialBudget budget;
  std::vector<FakeHolder> holders;
  std::vector<PartialBudget::Slot> slots;
};

TEST(PartialBudget, NoCutWhileTheReaderCanGrowToTheMaximum) {
  Fixture f(100, 3);
  f.hold(0, 30);
  f.hold(1, 30);
  // Reader 2 holds nothing and may grow to 40: 30 + 30 + 40 = 100 fits exactly.
  EXPECT_EQ(f.budget.makeRoom(f.slots[2], 40), 0u);
  EXPECT_EQ(f.budget.total(), 60u);
  for (const auto& h : f.holders) EXPECT_EQ(h.cuts, 0);
}

TEST(PartialBudget, CutsTheLargestOtherHolderFirst) {
  Fixture f(100, 4);
  f.hold(0, 20);
  f.hold(1, 50);
  f.hold(2, 10);
  // 80 held, reader 3 may grow by 40: 120 > 100, cutting the 50 leaves 30 + 40.
  EXPECT_EQ(f.budget.makeRoom(f.slots[3], 40), 1u);
  EXPECT_EQ(f.holders[1].cuts, 1);
  EXPECT_EQ(f.holders[0].cuts + f.holders[2].cuts, 0);
  EXPECT_EQ(f.budget.total(), 30u);
  EXPECT_EQ(f.budget.held(f.slots[1]), 0u);
}

TEST(PartialBudget, CutsAsManyAsNeeded) {
  Fixture f(100, 5);
  for (size_t i = 0; i < 4; ++i) f.hold(i, 25);  // full
  EXPECT_EQ(f.budget.makeRoom(f.slots[4], 60), 3u);
  EXPECT_EQ(f.budget.total(), 25u);
}

TEST(PartialBudget, TheReaderItselfIsCutWhenItHoldsTheMost) {
  Fixture f(100, 3);
  f.hold(0, 10);
  f.hold(1, 10);
  f.hold(2, 70);
  // Reader 2 may still grow by 15 (to 85): 90 + 15 > 100. It holds the most, so it is cut;
  // then it may grow by 85 from nothing, and 20 + 85 > 100 still: one more cut.
  EXPECT_EQ(f.budget.makeRoom(f.slots[2], 85), 2u);
  EXPECT_EQ(f.holders[2].cuts, 1);
  EXPECT_EQ(f.holders[0].cuts + f.holders[1].cuts, 1);
  EXPECT_EQ(f.budget.total(), 10u);
}

TEST(PartialBudget, AReaderAtItsMaximumNeedsNoRoom) {
  Fixture f(100, 2);
  f.hold(0, 60);
  f.hold(1, 40);
  EXPECT_EQ(f.budget.makeRoom(f.slots[1], 40), 0u);  // it cannot grow any more
  EXPECT_EQ(f.budget.total(), 100u);
}

TEST(PartialBudget, LeaveReleasesAndTheSlotIsReused) {
  Fixture f(100, 3);
  f.hold(0, 30);
  f.hold(1, 50);
  f.budget.leave(f.slots[1]);
  EXPECT_EQ(f.budget.total(), 30u);
  EXPECT_EQ(f.budget.holders(), 2u);
  FakeHolder late;
  const auto slot = f.budget.join(late);
  EXPECT_EQ(slot, f.slots[1]);
  EXPECT_EQ(f.budget.held(slot), 0u);
  late.bytes = 70;
  f.budget.update(slot, 70);
  // The newcomer is now the largest.
  EXPECT_EQ(f.budget.makeRoom(f.slots[2], 10), 1u);
  EXPECT_EQ(late.cuts, 1);
}

TEST(PartialBudget, NothingToCutEndsTheLoop) {
  // A limit below maxHeld is refused at start; the budget still never loops on it.
  Fixture f(10, 1);
  EXPECT_EQ(f.budget.makeRoom(f.slots[0], 100), 0u);
  f.hold(0, 10);
  EXPECT_EQ(f.budget.makeRoom(f.slots[0], 100), 1u);
}

// A naive model (scan for the largest) against the heap, through random joins, leaves, updates
// and reads: the same holders are cut, and the total never passes the limit after makeRoom plus
// the reader's growth.
TEST(PartialBudget, MatchesANaiveModel) {
  std::mt19937 rng(10);
  const uint64_t limit = 1000, maxHeld = 100;
  PartialBudget budget(limit);
  std::vector<std::unique_ptr<FakeHolder>> live;
  std::vector<PartialBudget::Slot> slots;
  for (int step = 0; step < 20'000; ++step) {
    const unsigned op = rng() % 10;
    if (live.empty() || op == 0) {
      live.push_back(std::make_unique<FakeHolder>());
      slots.push_back(budget.join(*live.back()));
    } else if (op == 1) {
      const size_t i = rng() % live.size();
      budget.leave(slots[i]);
      live.erase(live.begin() + static_cast<ptrdiff_t>(i));
      slots.erase(slots.begin() + static_cast<ptrdiff_t>(i));
    } else {
      // A read: room first, then the reader grows by up to what it may.
      const size_t r = rng() % live.size();
      uint64_t modelTotal = 0;
      for (const auto& h : live) modelTotal += h->bytes;
      std::vector<int> before;
      for (const auto& h : live) before.push_back(h->cuts);
      uint64_t expectCuts = 0;
      {
        // The model: cut the largest (lowest index among equals is not required) until it fits.
        std::vector<uint64_t> bytes;
        for (const auto& h : live) bytes.push_back(h->bytes);
        for (;;) {
          const uint64_t mayGrow = maxHeld - std::min(maxHeld, bytes[r]);
          if (modelTotal + mayGrow <= limit) break;
          auto it = std::max_element(bytes.begin(), bytes.end());
          modelTotal -= *it;
          *it = 0;
          ++expectCuts;
        }
      }
      ASSERT_EQ(budget.makeRoom(slots[r], maxHeld), expectCuts);
      ASSERT_EQ(budget.total(), modelTotal);
      for (size_t i = 0; i < live.size(); ++i) {
        if (live[i]->cuts != before[i]) {
          ASSERT_EQ(budget.held(slots[i]), 0u);
        }
      }
      const uint64_t grown = std::min<uint64_t>(maxHeld, live[r]->bytes + rng() % 60);
      live[r]->bytes = grown;
      budget.update(slots[r], grown);
      ASSERT_LE(budget.total(), limit);
    }
  }
}

// Leaving twice is our bug (a connection's teardown ran twice). Before the check, the second
// leave() popped another connection's heap entry and subtracted bytes again; now it is counted
// and refused, and the others' accounting stays right.
TEST(PartialBudget, LeavingTwiceIsCountedAndLeavesTheOthersWhole) {
  const metrics::InternalErrorsContinue goOn;
  Fixture f(100, 3);
  f.hold(0, 10);
  f.hold(1, 20);
  f.hold(2, 30);
  const uint64_t before = metrics::counters().get(metrics::Counter::kInternalErrors);
  f.budget.leave(f.slots[2]);
  f.budget.leave(f.slots[2]);
  EXPECT_EQ(metrics::counters().get(metrics::Counter::kInternalErrors), before + 1);
  EXPECT_EQ(f.budget.holders(), 2u);
  EXPECT_EQ(f.budget.total(), 30u);
  // The two left are still cut largest first.
  EXPECT_EQ(f.budget.makeRoom(f.slots[0], 85), 1u);
  EXPECT_EQ(f.holders[1].cuts, 1);
  EXPECT_EQ(f.holders[0].cuts, 0);
}

}  // namespace
}  // namespace kinesyslog::net
