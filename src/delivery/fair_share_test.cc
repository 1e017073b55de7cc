#include "delivery/fair_share.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

TransportResult answer(int code, int64_t duration_ms) {
  TransportResult r;
  r.status_code = code;
  r.duration_ms = duration_ms;
  return r;
}

TransportResult timed_out(int64_t duration_ms) {
  TransportResult r;
  r.error_kind = TransportErrorKind::kTimeout;
  r.duration_ms = duration_ms;
  return r;
}

FairShareConfig config(int max_in_flight = 16, int per_webhook = 4) {
  return FairShareConfig{max_in_flight, per_webhook, /*fast_answer_ms=*/250, /*slow_after_ms=*/1'000};
}

// Sends to the webhook and has it answer fast, n times.
void answer_fast(FairShare& f, const std::string& id, int n, int64_t now) {
  for (int i = 0; i < n; ++i) {
    f.on_send(id, now);
    f.on_answer(id, answer(200, 5), now);
  }
}

TEST(FairShare, ANewWebhookStartsAtOneAndFastAnswersGrowItToPerWebhook) {
  FairShare f(config());
  EXPECT_EQ(f.limit("wh_a", 0), 1);
  EXPECT_EQ(f.standing("wh_a", 0), Standing::kUnproven);
  answer_fast(f, "wh_a", 1, 0);
  EXPECT_EQ(f.limit("wh_a", 0), 2);
  EXPECT_EQ(f.standing("wh_a", 0), Standing::kFast);
  answer_fast(f, "wh_a", 10, 0);
  EXPECT_EQ(f.limit("wh_a", 0), 4);  // never above per_webhook_in_flight
}

TEST(FairShare, ATimeoutASlowAnswerOrAFailureCutsTheLimitToOne) {
  FairShare f(config());
  for (const TransportResult& bad : {timed_out(15'000), answer(200, 900), answer(500, 3)}) {
    answer_fast(f, "wh_a", 4, 0);
    ASSERT_EQ(f.limit("wh_a", 0), 4);
    f.on_send("wh_a", 0);
    f.on_answer("wh_a", bad, 0);
    EXPECT_EQ(f.limit("wh_a", 0), 1);
    EXPECT_NE(f.standing("wh_a", 0), Standing::kFast);
  }
  // A slow 2xx is unproven, a 500 failing.
  EXPECT_EQ(f.standing("wh_a", 0), Standing::kFailing);
  f.on_send("wh_a", 0);
  f.on_answer("wh_a", answer(200, 900), 0);
  EXPECT_EQ(f.standing("wh_a", 0), Standing::kUnproven);
}

TEST(FairShare, AWebhookWithRequestsOutAndNoAnswerPastTheThresholdIsFailing) {
  FairShare f(config());
  answer_fast(f, "wh_a", 4, 0);
  f.on_send("wh_a", 100);
  EXPECT_EQ(f.standing("wh_a", 1'100), Standing::kFast);  // at the threshold, not past it
  EXPECT_EQ(f.standing("wh_a", 1'101), Standing::kFailing);
  EXPECT_EQ(f.limit("wh_a", 1'101), 1);
  EXPECT_FALSE(f.may_send("wh_a", 1'101));  // its one slot is taken
}

TEST(FairShare, HangingWebhooksHoldAtMostHalfOfTheSlotsAndFastOnesKeepTheRest) {
  FairShare f(config(16, 4));
  answer_fast(f, "wh_good", 4, 0);
  // 100 new webhooks that will never answer: only 8 get a request out.
  int sent = 0;
  for (int i = 0; i < 100; ++i) {
    std::string id = "wh_hang_" + std::to_string(i);
    if (f.may_send(id, 0)) {
      f.on_send(id, 0);
      sent++;
    }
  }
  EXPECT_EQ(sent, 8);
  // Much later they hang still: nobody unproven or failing gets more, and
  // the fast webhook has its four.
  EXPECT_FALSE(f.may_send("wh_hang_99", 60'000));
  EXPECT_FALSE(f.may_send("wh_new", 60'000));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(f.may_send("wh_good", 60'000)) << i;
    f.on_send("wh_good", 60'000);
  }
  EXPECT_FALSE(f.may_send("wh_good", 60'000));  // its own limit
}

TEST(FairShare, FailingWebhooksHoldAtMostAQuarterAndLeaveRoomForNewOnes) {
  FairShare f(config(16, 4));
  // 10 webhooks that failed once: 4 of them (a quarter of 16) may go again.
  for (int i = 0; i < 10; ++i) {
    std::string id = "wh_bad_" + std::to_string(i);
    f.on_send(id, 0);
    f.on_answer(id, answer(503, 1), 0);
  }
  int sent = 0;
  for (int i = 0; i < 10; ++i) {
    std::string id = "wh_bad_" + std::to_string(i);
    if (f.may_send(id, 10)) {
      f.on_send(id, 10);
      sent++;
    }
  }
  EXPECT_EQ(sent, 4);
  EXPECT_TRUE(f.may_send("wh_new", 10));  // the unproven half has room left

  ShareBudget b = f.budget(10, false);
  EXPECT_EQ(b.max_unproven, 4);
  EXPECT_EQ(b.max_failing, 0);
  EXPECT_EQ(b.shares->failing.size(), 10u);
  EXPECT_TRUE(b.shares->fast.empty());
}

TEST(FairShare, TheBudgetListsFastWebhooksWithTheirLimitDoubledWhenClaimingAhead) {
  FairShare f(config(16, 4));
  answer_fast(f, "wh_good", 4, 0);
  ShareBudget b = f.budget(0, true);
  EXPECT_EQ(b.default_limit, 1);
  EXPECT_EQ(b.shares->limits.at("wh_good"), 8);
  EXPECT_TRUE(b.shares->fast.contains("wh_good"));
  EXPECT_EQ(b.max_unproven, 8);
  EXPECT_EQ(b.max_failing, 4);
  EXPECT_EQ(f.budget(0, false).shares->limits.at("wh_good"), 4);
}

TEST(FairShare, TheSnapshotIsKeptWhileNothingChangesAndAHangingWebhookIsListedApart) {
  FairShare f(config(16, 4));
  answer_fast(f, "wh_good", 4, 0);
  auto first = f.budget(0, false).shares;
  answer_fast(f, "wh_good", 1, 0);  // still fast, already at 4: nothing changed
  EXPECT_EQ(f.budget(0, false).shares, first);
  f.on_send("wh_good", 10);
  ShareBudget later = f.budget(2'000, false);  // out with no answer for 2 s
  EXPECT_EQ(later.shares, first);
  EXPECT_TRUE(later.hanging.contains("wh_good"));
  f.on_answer("wh_good", timed_out(5'000), 5'010);
  ShareBudget after = f.budget(5'010, false);
  EXPECT_NE(after.shares, first);
  EXPECT_TRUE(after.shares->failing.contains("wh_good"));
  EXPECT_TRUE(after.hanging.empty());
}

// Beside thousands of webhooks a change of one must not copy them all: once
// the claim that held the snapshot is over, it is changed in place.
TEST(FairShare, AChangeUpdatesTheSnapshotInPlaceWhenNobodyHoldsIt) {
  FairShare f(config(16, 4));
  for (int i = 0; i < 1000; ++i) answer_fast(f, "wh_" + std::to_string(i), 1, 0);
  const WebhookShares* first = f.budget(0, false).shares.get();  // the claim's copy is gone
  EXPECT_EQ(first->limits.at("wh_7"), 2);
  f.on_send("wh_7", 0);
  f.on_answer("wh_7", answer(500, 5), 0);
  answer_fast(f, "wh_8", 1, 0);
  ShareBudget b = f.budget(0, false);
  EXPECT_EQ(b.shares.get(), first);
  EXPECT_TRUE(b.shares->failing.contains("wh_7"));
  EXPECT_FALSE(b.shares->fast.contains("wh_7"));
  EXPECT_FALSE(b.shares->limits.contains("wh_7"));  // 1, the default
  EXPECT_EQ(b.shares->limits.at("wh_8"), 3);
  EXPECT_EQ(b.shares->fast.size(), 999u);
}

TEST(FairShare, NothingGoesOverMaxInFlight) {
  FairShare f(config(4, 4));
  answer_fast(f, "wh_a", 4, 0);
  answer_fast(f, "wh_b", 4, 0);
  for (int i = 0; i < 4; ++i) f.on_send(i < 2 ? "wh_a" : "wh_b", 0);
  EXPECT_FALSE(f.may_send("wh_a", 0));
  EXPECT_FALSE(f.may_send("wh_b", 0));
  f.on_answer("wh_b", answer(200, 1), 0);
  EXPECT_TRUE(f.may_send("wh_a", 0));
}

}  // namespace
}  // namespace growhook
