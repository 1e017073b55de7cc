// The contracts of what the API routes to: Accounts (accounts.h), Webhooks
// (webhooks.h) and Batches (batches.h).
// Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class CatalogContract : public StoreContractTest {};
GH_STORE_CONTRACT(CatalogContract);

TEST_P(CatalogContract, AccountsAreFoundByIdAndKeyHash) {
  Account a = add_account(st());
  auto got = st().get_account(a.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "shop");
  EXPECT_EQ(got->created_at_ms, T);
  auto by_key = st().account_by_key_hash("keyhash-" + a.id);
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->id, a.id);
  EXPECT_EQ(st().account_by_key_hash("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_account("acc_missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().create_account(a, "another-hash").error().code, ErrorCode::kConflict);
  Account b{new_id("acc", T), "other", T};
  EXPECT_EQ(st().create_account(b, "keyhash-" + a.id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(st().get_account(b.id).error().code, ErrorCode::kNotFound) << "a failed call changes nothing";
}

TEST_P(CatalogContract, WebhooksAreCreatedListedUpdatedAndDeleted) {
  Account a = add_account(st()), other = add_account(st());
  Webhook w1 = add_webhook(st(), a, T + 1), w2 = add_webhook(st(), a, T + 2), w3 = add_webhook(st(), a, T + 3);
  w1.auth.kind = WebhookAuth::Kind::kBearer;

  auto got = st().get_webhook(a.id, w2.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->url, w2.url);
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->batch_max_events, 100);
  EXPECT_EQ(got->batch_max_bytes, 1 << 20);

  auto page1 = st().list_webhooks(a.id, "", 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, w1.id);
  EXPECT_EQ((*page1)[1].id, w2.id);
  auto page2 = st().list_webhooks(a.id, w2.id, 2);
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].id, w3.id);

  w1.name = "renamed";
  w1.auth.token = "tok";
  w1.event_types = type_bit(EventType::kUnsubscribed);
  w1.batch_max_bytes = 4096;
  w1.updated_at_ms = T + 10;
  ASSERT_TRUE(st().update_webhook(w1).ok());
  auto updated = st().get_webhook(a.id, w1.id);
  EXPECT_EQ(updated->name, "renamed");
  EXPECT_EQ(updated->auth.kind, WebhookAuth::Kind::kBearer);
  EXPECT_EQ(updated->auth.token, "tok");
  EXPECT_EQ(updated->event_types, type_bit(EventType::kUnsubscribed));
  EXPECT_EQ(updated->batch_max_bytes, 4096);
  EXPECT_EQ(updated->updated_at_ms, T + 10);
  EXPECT_EQ(updated->created_at_ms, T + 1);

  // Another account sees none of it and can change none of it.
  EXPECT_EQ(st().get_webhook(other.id, w1.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(st().list_webhooks(other.id, "", 10)->empty());
  Webhook stolen = w1;
  stolen.account_id = other.id;
  EXPECT_EQ(st().update_webhook(stolen).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().delete_webhook(other.id, w1.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(st().get_webhook(a.id, w1.id).ok());

  EXPECT_EQ(st().create_webhook(w2).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(st().delete_webhook(a.id, w2.id).ok());
  EXPECT_EQ(st().get_webhook(a.id, w2.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().delete_webhook(a.id, w2.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().list_webhooks(a.id, "", 10)->size(), 2u);
}

TEST_P(CatalogContract, DeletingAWebhookDeletesItsBatches) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T));
  ASSERT_TRUE(st().delete_webhook(a.id, w.id).ok());
  EXPECT_EQ(st().get_batch(a.id, got[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().counts()->failed_batches, 0);
}

TEST_P(CatalogContract, WebhooksKeepTheirBatchMaxBytes) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 100, kAllEventTypes, 2048);
  EXPECT_EQ(st().get_webhook(a.id, w.id)->batch_max_bytes, 2048);
  EXPECT_EQ(st().list_webhooks(a.id, "", 10)->at(0).batch_max_bytes, 2048);
  w.batch_max_bytes = 1 << 20;
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_EQ(st().get_webhook(a.id, w.id)->batch_max_bytes, 1 << 20);
}

TEST_P(CatalogContract, BatchesAreListedNewestFirstByStateAndPaged) {
  Account a = add_account(st()), other = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  std::vector<ClaimedBatch> made;
  for (int i = 0; i < 4; ++i) {
    append(st(), a, {event("e" + std::to_string(i), T)});
    auto got = claim(st(), T + i * 1000);
    ASSERT_EQ(got.size(), 1u);
    made.push_back(got[0]);
  }
  record(st(), outcome(made[0], "node-a", BatchState::kDelivered, 200, T + 5000));
  record(st(), outcome(made[1], "node-a", BatchState::kFailed, 500, T + 5000));
  record(st(), outcome(made[2], "node-a", BatchState::kDelivered, 200, T + 5000));

  auto all = st().list_batches(a.id, w.id, std::nullopt, "", 3);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, made[3].batch.id);
  EXPECT_EQ((*all)[1].id, made[2].batch.id);
  EXPECT_EQ((*all)[2].id, made[1].batch.id);
  EXPECT_EQ((*all)[2].attempts.size(), 1u);
  auto rest = st().list_batches(a.id, w.id, std::nullopt, (*all)[2].id, 3);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, made[0].batch.id);

  auto delivered = st().list_batches(a.id, w.id, BatchState::kDelivered, "", 10);
  ASSERT_EQ(delivered->size(), 2u);
  EXPECT_EQ((*delivered)[0].id, made[2].batch.id);
  EXPECT_EQ((*delivered)[1].id, made[0].batch.id);
  auto pending = st().list_batches(a.id, w.id, BatchState::kPending, "", 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, made[3].batch.id);
  EXPECT_EQ((*pending)[0].next_attempt_at_ms, T + 3000);
  auto failed = st().list_batches(a.id, w.id, BatchState::kFailed, "", 10);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_FALSE((*failed)[0].next_attempt_at_ms.has_value());

  EXPECT_TRUE(st().list_batches(other.id, w.id, std::nullopt, "", 10)->empty());
  EXPECT_EQ(st().get_batch(other.id, made[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_batch(a.id, "bat_missing").error().code, ErrorCode::kNotFound);

  auto stats = st().webhook_stats(a.id, {w.id});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[w.id].failed_batches, 1);
  EXPECT_EQ((*stats)[w.id].pending_batches, 1);
  EXPECT_EQ((*stats)[w.id].last_delivery_at_ms, T + 5005);
}

TEST_P(CatalogContract, RetryBatchStartsANewCycleOfAFinishedBatch) {
  Account a = add_account(st()), other = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  const std::string id = got[0].batch.id;
  EXPECT_EQ(st().retry_batch(a.id, id, T + 1).error().code, ErrorCode::kConflict);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T + 1));
  EXPECT_EQ(st().retry_batch(other.id, id, T + 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().retry_batch(a.id, "bat_missing", T + 2).error().code, ErrorCode::kNotFound);

  auto retried = st().retry_batch(a.id, id, T + 2);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->state, BatchState::kPending);
  EXPECT_EQ(retried->next_attempt_at_ms, T + 2);
  EXPECT_EQ(retried->cycle_attempts, 0);
  EXPECT_EQ(retried->attempts.size(), 1u) << "earlier attempts stay";
  // The failed batch made its webhook failing (domain/health.h): the
  // retried batch goes as its next probe, due within 1.2 s.
  auto again = claim(st(), T + 2'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].batch.id, id);
  EXPECT_EQ(ids_of(again[0].events_json), (std::vector<std::string>{"e1"}));
  record(st(), outcome(again[0], "node-a", BatchState::kDelivered, 200, T + 2'003));
  EXPECT_TRUE(st().retry_batch(a.id, id, T + 2'004).ok()) << "a delivered batch may be sent again";
}

TEST_P(CatalogContract, RetryFailedQueuesEveryFailedBatchOfTheWebhook) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 3u);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T));
  record(st(), outcome(got[1], "node-a", BatchState::kFailed, 500, T));
  record(st(), outcome(got[2], "node-a", BatchState::kDelivered, 200, T));
  EXPECT_EQ(st().retry_failed("acc_other", w.id, T + 1).value(), 0);
  EXPECT_EQ(st().retry_failed(a.id, w.id, T + 1).value(), 2);
  EXPECT_EQ(st().retry_failed(a.id, w.id, T + 1).value(), 0);
  EXPECT_EQ(claim(st(), T + 1).size(), 2u);
}

}  // namespace
}  // namespace growhook::store_test
