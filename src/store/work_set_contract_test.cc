// Cost follows the work (issue 12): a claim reads the webhooks with work
// (events of their types after their position) and no other, whatever the
// number of quiet ones; retention's step goes round the accounts with
// something old. Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <vector>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class WorkSetContract : public StoreContractTest {
 protected:
  // A claim at now, and how many webhooks it read to cut new batches.
  std::vector<ClaimedBatch> claim_counted(int64_t now, int64_t* webhooks_read) {
    ClaimCounts counts;
    ClaimRequest req;
    req.now_ms = now;
    req.owner = "node-a";
    req.counts = &counts;
    auto r = st().record_and_claim({}, req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    *webhooks_read = counts.webhooks_read;
    return r.ok() ? std::move(*r) : std::vector<ClaimedBatch>{};
  }

  void deliver_all(const std::vector<ClaimedBatch>& got, int64_t at) {
    for (const auto& c : got) record(st(), outcome(c, "node-a", BatchState::kDelivered, 200, at));
  }
};
GH_STORE_CONTRACT(WorkSetContract);

TEST_P(WorkSetContract, AClaimReadsTheWebhookWithWorkAndNotTheIdleOnes) {
  // Quiet shops: one webhook each, delivered once.
  for (int i = 0; i < 20; ++i) {
    Account q = add_account(st());
    add_webhook(st(), q);
    append(st(), q, {event("hello", T)});
  }
  int64_t read = 0;
  auto first = claim_counted(T, &read);
  EXPECT_EQ(first.size(), 20u);
  EXPECT_EQ(read, 20);
  deliver_all(first, T + 1);

  Account shop = add_account(st());
  Webhook subs = add_webhook(st(), shop);
  Webhook unsubs = add_webhook(st(), shop, T, 100, type_bit(EventType::kUnsubscribed));
  append(st(), shop, {event("s1", T + 2)});
  auto got = claim_counted(T + 2, &read);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, subs.id);
  EXPECT_EQ(ids_of(got), (std::vector<std::string>{"s1"}));
  // Not the quiet ones, nor the one whose types the new event is not of.
  EXPECT_EQ(read, 1) << "the claim read idle webhooks";
  deliver_all(got, T + 3);
  EXPECT_TRUE(claim_counted(T + 4, &read).empty());
  EXPECT_EQ(read, 0) << "a webhook whose events were all cut is idle";

  // Other types, nothing of the old ones pending: only later events of the
  // new types, as for a new webhook (s1 came before).
  unsubs.event_types = kAllEventTypes;
  ASSERT_TRUE(st().update_webhook(unsubs).ok());
  EXPECT_TRUE(claim_counted(T + 5, &read).empty());
  EXPECT_EQ(read, 0);
  append(st(), shop, {event("s2", T + 6)});
  got = claim_counted(T + 6, &read);
  EXPECT_EQ(read, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& c : got) EXPECT_EQ(ids_of(c.events_json), (std::vector<std::string>{"s2"})) << c.webhook.id;
  deliver_all(got, T + 7);
}

TEST_P(WorkSetContract, AWebhookDisabledWithWorkIsNotReadAndGetsItsEventsWhenEnabled) {
  Account shop = add_account(st());
  Webhook w = add_webhook(st(), shop);
  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), shop, {event("while-off", T)});
  int64_t read = 0;
  EXPECT_TRUE(claim_counted(T, &read).empty());
  EXPECT_EQ(read, 0);
  ASSERT_TRUE(st().enable_webhook(shop.id, w.id, /*from_head=*/false, T + 1).ok());
  auto got = claim_counted(T + 1, &read);
  EXPECT_EQ(read, 1);
  EXPECT_EQ(ids_of(got), (std::vector<std::string>{"while-off"}));
  deliver_all(got, T + 2);
  // From the head: what came while it was off is skipped, nothing to read.
  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), shop, {event("skipped", T + 3)});
  ASSERT_TRUE(st().enable_webhook(shop.id, w.id, /*from_head=*/true, T + 4).ok());
  EXPECT_TRUE(claim_counted(T + 4, &read).empty());
  EXPECT_EQ(read, 0);
}

TEST_P(WorkSetContract, RetentionStepsGoRoundAnAccountWhoseOldEventsAreStillNeeded) {
  // The held shop's events are in a batch still pending; the others' were
  // delivered. Steps of one account each must reach the others anyway.
  Account held = add_account(st());
  add_webhook(st(), held);
  append(st(), held, {event("h1", T)});
  ASSERT_EQ(claim(st(), T).size(), 1u);  // leased, never recorded
  std::vector<Account> done;
  for (int i = 0; i < 3; ++i) {
    done.push_back(add_account(st()));
    add_webhook(st(), done.back());
    append(st(), done.back(), {event("d1", T + 1)});
  }
  deliver_all(claim(st(), T + 1), T + 2);
  for (int step = 0; step < 12; ++step) ASSERT_TRUE(st().prune(T + 500 + step, T + 500 + step, 1).ok());
  // An event id is known as long as its event is kept.
  EXPECT_EQ(append(st(), held, {event("h1", T + 600)}, T + 600).stored, 0) << "a pending batch's event went";
  for (const auto& a : done) EXPECT_EQ(append(st(), a, {event("d1", T + 600)}, T + 600).stored, 1) << a.id;
}

}  // namespace
}  // namespace growhook::store_test
