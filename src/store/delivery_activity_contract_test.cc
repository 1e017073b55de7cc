// The contract of DeliveryActivity (delivery_activity.h): a webhook's
// delivered and failed batches and failed attempts per UTC hour, from the
// stored batches and attempts at the times the (fake) clock gave them; run
// on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

constexpr int64_t H0 = T - T % kHourMs;  // an hour's start

class DeliveryActivityContract : public StoreContractTest {
 protected:
  // The claimed batches of w; the other webhooks' go to others_ (leased
  // long enough to be recorded later).
  std::vector<ClaimedBatch> claim_of(const Webhook& w, int64_t now) {
    std::vector<ClaimedBatch> out;
    for (auto& c : claim(st(), now, "node-a", 8, 64, {}, 30 * kDayMs)) {
      (c.webhook.id == w.id ? out : others_).push_back(std::move(c));
    }
    return out;
  }

  std::vector<ClaimedBatch> others_;

  // The hours with something, oldest first.
  std::vector<ActivityBucket> hours(const Account& a, const Webhook& w, int64_t since) {
    auto r = st().webhook_activity(a.id, w.id, since);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    std::sort(r->begin(), r->end(), [](const auto& x, const auto& y) { return x.start_ms < y.start_ms; });
    return *r;
  }
};
GH_STORE_CONTRACT(DeliveryActivityContract);

TEST_P(DeliveryActivityContract, CountsPerHourOfDeliveredAndFailedBatchesAndFailedAttemptsOfThatWebhookOnly) {
  Account a = add_account(st()), b = add_account(st());
  Webhook w = add_webhook(st(), a, T, /*batch_max=*/2);
  Webhook other = add_webhook(st(), a, T + 1, 2);
  Webhook theirs = add_webhook(st(), b, T + 2, 2);
  std::vector<IncomingEvent> evs;
  for (int i = 0; i < 8; ++i) evs.push_back(event("e" + std::to_string(i), T));
  append(st(), a, evs);
  append(st(), b, {event("b0", T), event("b1", T)});

  const int64_t t1 = H0 + 10 * 60'000;
  auto first = claim_of(w, t1);
  ASSERT_EQ(first.size(), 4u);
  record(st(), outcome(first[0], "node-a", BatchState::kDelivered, 200, t1));
  record(st(), outcome(first[1], "node-a", BatchState::kPending, 500, t1, t1 + 1000));    // retried below
  record(st(), outcome(first[2], "node-a", BatchState::kFailed, 410, t1));                // ends failed now
  record(st(), outcome(first[3], "node-a", BatchState::kPending, 503, t1, t1 + 30 * kDayMs));  // still pending
  const int64_t t2 = H0 + 2 * kHourMs + 5 * 60'000;
  auto second = claim_of(w, t2);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].batch.id, first[1].batch.id);
  record(st(), outcome(second[0], "node-a", BatchState::kFailed, 500, t2));
  // The other webhooks' batches, delivered and failed in the same hours.
  ASSERT_EQ(others_.size(), 5u);
  for (auto& c : others_) {
    record(st(), outcome(c, "node-a", c.webhook.id == theirs.id ? BatchState::kFailed : BatchState::kDelivered,
                         c.webhook.id == theirs.id ? 500 : 200, t2));
  }

  auto got = hours(a, w, H0 - kDayMs);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start_ms, H0);
  EXPECT_EQ(got[0].counts, (ActivityCounts{1, 2, 3, 1}));
  EXPECT_EQ(got[1].start_ms, H0 + 2 * kHourMs);
  EXPECT_EQ(got[1].counts, (ActivityCounts{0, 0, 1, 1}));

  auto since_then = hours(a, w, H0 + kHourMs);  // what happened before is not counted
  ASSERT_EQ(since_then.size(), 1u);
  EXPECT_EQ(since_then[0].counts, (ActivityCounts{0, 0, 1, 1}));

  auto others = hours(a, other, H0);
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].start_ms, H0 + 2 * kHourMs);
  EXPECT_EQ(others[0].counts, (ActivityCounts{4, 8, 0, 0}));
  auto theirs_got = hours(b, theirs, H0);
  ASSERT_EQ(theirs_got.size(), 1u);
  EXPECT_EQ(theirs_got[0].counts, (ActivityCounts{0, 0, 1, 1}));
}

TEST_P(DeliveryActivityContract, AnotherAccountsWebhookIsNotFound) {
  Account a = add_account(st()), b = add_account(st());
  Webhook w = add_webhook(st(), a);
  EXPECT_EQ(st().webhook_activity(b.id, w.id, H0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().webhook_activity(a.id, "wh_missing", H0).error().code, ErrorCode::kNotFound);
  auto none = st().webhook_activity(a.id, w.id, H0);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());
}

TEST_P(DeliveryActivityContract, ABatchRetriedByHandAndDeliveredKeepsItsEarlierFailedAttempts) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 10);
  append(st(), a, {event("e0", T), event("e1", T), event("e2", T)});
  const int64_t t1 = H0 + 60'000;
  auto first = claim_of(w, t1);
  ASSERT_EQ(first.size(), 1u);
  record(st(), outcome(first[0], "node-a", BatchState::kFailed, 500, t1));
  const int64_t t2 = H0 + kHourMs + 60'000;
  ASSERT_TRUE(st().retry_batch(a.id, first[0].batch.id, t2).ok());
  auto again = claim_of(w, t2);
  ASSERT_EQ(again.size(), 1u);
  record(st(), outcome(again[0], "node-a", BatchState::kDelivered, 200, t2));
  auto got = hours(a, w, H0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].counts, (ActivityCounts{0, 0, 1, 0}));  // it ended delivered: no longer a failed batch
  EXPECT_EQ(got[1].counts, (ActivityCounts{1, 3, 0, 0}));
}

}  // namespace
}  // namespace growhook::store_test
