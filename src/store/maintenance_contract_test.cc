// The Maintenance contract (maintenance.h): settings, retention, counts; and
// what a store of an older schema becomes when it is opened.
// Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include "store/contract_test_support.h"
#include "store/schema_version.h"

namespace growhook::store_test {
namespace {

class MaintenanceContract : public StoreContractTest {};
GH_STORE_CONTRACT(MaintenanceContract);

TEST_P(MaintenanceContract, AddMetaKeepsTheFirstValue) {
  auto first = st().add_meta("k", "one");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, "one");
  auto second = st().add_meta("k", "two");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "one");
  EXPECT_EQ(st().get_meta("k")->value_or(""), "one");
}

TEST_P(MaintenanceContract, MetaKeepsTheLastValue) {
  auto none = st().get_meta("platform_token");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(st().set_meta("platform_token", "h1").ok());
  ASSERT_TRUE(st().set_meta("platform_token", "h2").ok());
  EXPECT_EQ(st().get_meta("platform_token")->value_or(""), "h2");
}

TEST_P(MaintenanceContract, ADatabaseOfSchema1GetsBatchMaxBytesOf1MiB) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 7);
  append(st(), a, {event("e1", T), event("e2", T)});
  store_.reset();
  db_.back_to_schema_1();
  auto reopened = db_.open();
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  store_ = std::move(reopened->store);
  EXPECT_EQ(st().get_meta("schema_version")->value_or(""), std::to_string(kSchemaVersion));
  auto got = st().get_webhook(a.id, w.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->batch_max_bytes, 1 << 20);
  EXPECT_EQ(got->batch_max_events, 7);
  EXPECT_EQ(got->name, w.name);
  EXPECT_EQ(ids_of(claim(st(), T)), (std::vector<std::string>{"e1", "e2"}));
}

TEST_P(MaintenanceContract, PruneDeletesOldFinishedBatchesAndUnneededEvents) {
  Account a = add_account(st());
  Webhook w1 = add_webhook(st(), a, T, 1);
  Webhook w2 = add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  std::unordered_map<std::string, int> hold_w2{{w2.id, 4}};  // w2 cuts nothing for now
  append(st(), a, {event("e1", T)}, T);
  auto b1 = claim(st(), T, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b1.at(0), "node-a", BatchState::kDelivered, 200, T + 10));
  append(st(), a, {event("e2", T)}, T + 100);
  auto b2 = claim(st(), T + 100, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b2.at(0), "node-a", BatchState::kFailed, 500, T + 110));
  append(st(), a, {event("e3", T)}, T + 1000);
  // b2 failed, so w1 is failing (domain/health.h): e3 goes as its probe,
  // once that is due (within 1.2 s).
  auto b3 = claim(st(), T + 2000, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b3.at(0), "node-a", BatchState::kDelivered, 200, T + 2010));

  // b1 and b2 are old, b3 is recent. w2 takes none of the events (wrong
  // type): though at its limit it never moved its position, it needs none
  // of them (work_queue.h), so e1 and e2 go; e3 belongs to b3, which stays.
  auto n = st().prune(T + 500, T + 500, 100);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 4);
  auto left = st().list_batches(a.id, w1.id, std::nullopt, "", 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, b3[0].batch.id);
  EXPECT_EQ(st().get_batch(a.id, b1[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_batch(a.id, b2[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(claim(st(), T + 3000).empty());
  EXPECT_EQ(ids_of(st().get_batch(a.id, b3[0].batch.id)->events_json), (std::vector<std::string>{"e3"}));
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 0);

  // The limit bounds each step: one batch (b3), then one event (e3).
  EXPECT_EQ(st().prune(T + 5000, T + 5000, 1).value(), 2);
  EXPECT_EQ(st().prune(T + 5000, T + 5000, 1).value(), 0);
}

// An idle installation: retention takes every event, the newest too. An
// event ingested afterwards, in the same process or after a restart, must
// still be above every webhook's position (SQLite would hand out a deleted
// seq again and the event would never be delivered).
TEST_P(MaintenanceContract, AnEventAfterRetentionTookTheNewestIsStillDelivered) {
  Account a = add_account(st());
  add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T)}, T);
  for (const auto& b : claim(st(), T, "node-a", 4, 64)) {
    record(st(), outcome(b, "node-a", BatchState::kDelivered, 200, T + 10));
  }
  auto n = st().prune(T + 500, T + 500, 100);
  ASSERT_TRUE(n.ok()) << n.error().message;
  ASSERT_EQ(*n, 4);  // two batches, two events: nothing is left
  append(st(), a, {event("e3", T)}, T + 1000);
  EXPECT_EQ(ids_of(claim(st(), T + 1000)), (std::vector<std::string>{"e3"}));

  for (const auto& b : claim(st(), T + 1000, "node-a", 4, 64)) {
    record(st(), outcome(b, "node-a", BatchState::kDelivered, 200, T + 1010));
  }
  EXPECT_TRUE(st().prune(T + 2000, T + 2000, 100).ok());
  store_.reset();
  auto reopened = db_.open();
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  store_ = std::move(reopened->store);
  append(st(), a, {event("e4", T)}, T + 3000);
  EXPECT_EQ(ids_of(claim(st(), T + 3000)), (std::vector<std::string>{"e4"}));
}

TEST_P(MaintenanceContract, PruneTakesTheOldEventsOfEveryAccountAndKeepsTheRecentOnes) {
  Account old_shop = add_account(st());
  Account new_shop = add_account(st());
  add_webhook(st(), old_shop, T, 10);
  // Takes no subscriptions: its cursor passes them, no batch holds them.
  add_webhook(st(), new_shop, T, 10, type_bit(EventType::kUnsubscribed));
  append(st(), old_shop, {event("o1", T), event("o2", T)}, T);
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 10));
  append(st(), new_shop, {event("n1", T), event("n2", T)}, T + 1000);
  EXPECT_TRUE(claim(st(), T + 1000).empty());
  // The old shop's batch and events go, whichever account comes first; the
  // new shop's events are too recent.
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 3);
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 0);
  // An event id is known as long as its event is kept.
  EXPECT_EQ(append(st(), new_shop, {event("n1", T)}, T + 3000).stored, 0);
  EXPECT_EQ(append(st(), old_shop, {event("o1", T)}, T + 3000).stored, 1);
}

TEST_P(MaintenanceContract, CountsTellPendingRetriesFailuresAndWaitingEvents) {
  Account a = add_account(st());
  add_webhook(st(), a, T, 1);
  add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto c0 = st().counts();
  ASSERT_TRUE(c0.ok());
  EXPECT_EQ(c0->pending_events, 3);
  EXPECT_EQ(c0->pending_batches, 0);
  auto got = claim(st(), T, "node-a", 2);
  ASSERT_EQ(got.size(), 2u);
  auto c1 = st().counts();
  EXPECT_EQ(c1->pending_events, 1);
  EXPECT_EQ(c1->pending_batches, 2);
  EXPECT_EQ(c1->retry_scheduled, 0);
  record(st(), outcome(got[0], "node-a", BatchState::kPending, 500, T, T + 100));
  record(st(), outcome(got[1], "node-a", BatchState::kFailed, 500, T));
  auto c2 = st().counts();
  EXPECT_EQ(c2->pending_batches, 1);
  EXPECT_EQ(c2->retry_scheduled, 1);
  EXPECT_EQ(c2->failed_batches, 1);
  EXPECT_TRUE(st().ping().ok());
}

}  // namespace
}  // namespace growhook::store_test
