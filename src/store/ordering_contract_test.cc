// Ordering "contact" (domain/batching.h, pack_by_contact) on both stores: a
// contact's later event is not claimed while a batch holding its earlier
// one is unfinished (pending a retry, in flight, leased by a node that
// died), and another contact's is.
#include <gtest/gtest.h>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class OrderingContract : public StoreContractTest {
 protected:
  static IncomingEvent of(const std::string& id, int64_t msisdn, EventType type = EventType::kSubscribed) {
    IncomingEvent e = event(id, T, type);
    e.data_json = "{\"msisdn\":" + std::to_string(msisdn) + "}";
    e.msisdn = msisdn;
    set_event_id(e, id);
    return e;
  }
  Webhook ordered(const Account& a, int batch_max = 100) {
    Webhook w = add_webhook(st(), a, T, batch_max);
    w.ordering = Ordering::kContact;
    EXPECT_TRUE(st().update_webhook(w).ok());
    return w;
  }
  void reopen() {
    store_.reset();
    auto s = db_.open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s->store);
  }
  // The delivery of event id to webhook w, as the contact search tells it.
  EventDelivery delivery(const Account& a, const std::string& id, const Webhook& w) {
    auto e = st().get_event(a.id, id);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    if (e.ok()) {
      for (const auto& d : e->deliveries) {
        if (d.webhook_id == w.id) return d;
      }
    }
    ADD_FAILURE() << "no delivery of " << id << " to " << w.id;
    return {};
  }
};
GH_STORE_CONTRACT(OrderingContract);

using Ids = std::vector<std::string>;

TEST_P(OrderingContract, ALaterEventWaitsWhileTheEarlierBatchWaitsForARetryAndOthersGo) {
  Account a = add_account(st());
  Webhook w = ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  ASSERT_EQ(ids_of(first), (Ids{"sub-a"}));
  record(st(), outcome(first[0], "node-a", BatchState::kPending, 500, T + 1, T + 10'000));

  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed), of("sub-b", 2)});
  EXPECT_EQ(ids_of(claim(st(), T + 2)), (Ids{"sub-b"})) << "b does not wait for a";
  EXPECT_EQ(delivery(a, "unsub-a", w).state, BatchState::kPending);
  EXPECT_EQ(delivery(a, "unsub-a", w).batch_id, "") << "waiting: in no batch yet";
  EXPECT_TRUE(claim(st(), T + 3).empty());

  auto retry = claim(st(), T + 10'000);
  ASSERT_EQ(ids_of(retry), (Ids{"sub-a"})) << "the retry goes, alone";
  record(st(), outcome(retry[0], "node-a", BatchState::kDelivered, 200, T + 10'001));
  auto after = claim(st(), T + 10'002);
  ASSERT_EQ(ids_of(after), (Ids{"unsub-a"}));
  EXPECT_EQ(delivery(a, "unsub-a", w).batch_id, after[0].batch.id);
  EXPECT_EQ(delivery(a, "sub-a", w).state, BatchState::kDelivered);
}

TEST_P(OrderingContract, ALaterEventWaitsWhileTheEarlierBatchIsInFlight) {
  Account a = add_account(st());
  ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  ASSERT_EQ(first.size(), 1u);
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed), of("sub-b", 2), of("unsub-b", 2)});
  EXPECT_EQ(ids_of(claim(st(), T + 1, "node-a", 4, 64, {{first[0].webhook.id, 1}})), (Ids{"sub-b", "unsub-b"}))
      << "b's two events share a batch, in order";
  record(st(), outcome(first[0], "node-a", BatchState::kDelivered, 200, T + 2));
  EXPECT_EQ(ids_of(claim(st(), T + 3)), (Ids{"unsub-a"}));
}

TEST_P(OrderingContract, ALaterEventWaitsForTheBatchOfANodeThatDiedUntilAnotherNodeEndsIt) {
  Account a = add_account(st());
  ordered(a);
  append(st(), a, {of("sub-a", 1)});
  ASSERT_EQ(claim(st(), T, "node-dead", 4, 64, {}, /*lease_ms=*/1000).size(), 1u);
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed), of("sub-b", 2)});
  EXPECT_EQ(ids_of(claim(st(), T + 10, "node-b")), (Ids{"sub-b"}));
  EXPECT_TRUE(claim(st(), T + 500, "node-b").empty()) << "the dead node's lease still runs";
  auto taken = claim(st(), T + 1000, "node-b");
  ASSERT_EQ(ids_of(taken), (Ids{"sub-a"})) << "its batch is taken over, without the later event";
  record(st(), outcome(taken[0], "node-b", BatchState::kDelivered, 200, T + 1001));
  EXPECT_EQ(ids_of(claim(st(), T + 1002, "node-b")), (Ids{"unsub-a"}));
}

TEST_P(OrderingContract, AFailedBatchReleasesItsContacts) {
  Account a = add_account(st());
  ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  ASSERT_EQ(first.size(), 1u);
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed)});
  EXPECT_TRUE(claim(st(), T + 1).empty());
  record(st(), outcome(first[0], "node-a", BatchState::kFailed, 500, T + 2));
  // (The webhook is failing now: its next batch is a probe, a while later.)
  EXPECT_EQ(ids_of(claim(st(), T + 600'000)), (Ids{"unsub-a"}));
}

TEST_P(OrderingContract, BatchesFillWithOtherContactsAndAContactIsInOneBatchOfACut) {
  Account a = add_account(st());
  ordered(a, /*batch_max=*/2);
  append(st(), a, {of("a1", 1), of("a2", 1), of("a3", 1), of("b1", 2), of("c1", 3), of("d1", 4)});
  auto got = claim(st(), T, "node-a", /*per_webhook=*/4);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(ids_of(got[0].events_json), (Ids{"a1", "a2"}));
  EXPECT_EQ(ids_of(got[1].events_json), (Ids{"b1", "c1"}));
  EXPECT_EQ(ids_of(got[2].events_json), (Ids{"d1"}));
  for (const auto& b : got) record(st(), outcome(b, "node-a", BatchState::kDelivered, 200, T + 1));
  EXPECT_EQ(ids_of(claim(st(), T + 2)), (Ids{"a3"}));
}

TEST_P(OrderingContract, WithoutOrderingALaterEventDoesNotWait) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  record(st(), outcome(first[0], "node-a", BatchState::kPending, 500, T + 1, T + 10'000));
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed)});
  EXPECT_EQ(ids_of(claim(st(), T + 2)), (Ids{"unsub-a"}));
}

TEST_P(OrderingContract, WhatWaitsSurvivesARestartAndGoesWhenOrderingIsTurnedOff) {
  Account a = add_account(st());
  Webhook w = ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  record(st(), outcome(first[0], "node-a", BatchState::kPending, 500, T + 1, T + 10'000));
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed)});
  EXPECT_TRUE(claim(st(), T + 2).empty());
  reopen();
  EXPECT_TRUE(claim(st(), T + 3).empty()) << "still held after a restart";
  auto stats = st().webhook_stats(a.id, {w.id});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at(w.id).events_waiting, 2) << "the batch's event and the one waiting";
  w.ordering = Ordering::kNone;
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_EQ(ids_of(claim(st(), T + 4)), (Ids{"unsub-a"}));
}

TEST_P(OrderingContract, AContactWhoseWaitingEventsWerePrunedWhileDisabledIsNotStuck) {
  Account a = add_account(st());
  Webhook w = ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed), of("sub-a-2", 1)});
  EXPECT_TRUE(claim(st(), T + 1, "node-a", 4, 64, {{w.id, 1}}).empty());
  record(st(), outcome(first[0], "node-a", BatchState::kFailed, 500, T + 2));
  // Disabled, and retention takes every event (a disabled webhook holds none).
  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  auto pruned = st().prune(T + 1'000'000, T + 1'000'000, 1000);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  w.enabled = true;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {of("sub-a-3", 1)}, T + 2'000'000);
  std::vector<std::string> got;
  for (int i = 0; i < 5 && got.empty(); ++i) got = ids_of(claim(st(), T + 2'000'000 + i));
  EXPECT_EQ(got, (Ids{"sub-a-3"})) << "the contact's new event goes once the gone ones are dropped";
}

TEST_P(OrderingContract, ABatchCutByContactIsShownWithItsOwnEvents) {
  Account a = add_account(st());
  ordered(a);
  append(st(), a, {of("sub-a", 1)});
  auto first = claim(st(), T);
  append(st(), a, {of("unsub-a", 1, EventType::kUnsubscribed), of("sub-b", 2)});
  auto second = claim(st(), T + 1, "node-a", 4, 64, {{first[0].webhook.id, 1}});
  ASSERT_EQ(second.size(), 1u);
  auto detail = st().get_batch(a.id, second[0].batch.id);
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(ids_of(detail->events_json), (Ids{"sub-b"})) << "not the event in its range that waits";
  // Its retry carries the same events.
  record(st(), outcome(second[0], "node-a", BatchState::kPending, 500, T + 2, T + 3));
  auto retried = claim(st(), T + 3, "node-a", 4, 64, {{first[0].webhook.id, 1}});
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(ids_of(retried[0].events_json), (Ids{"sub-b"}));
}

}  // namespace
}  // namespace growhook::store_test
