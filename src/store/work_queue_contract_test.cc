// The WorkQueue contract (work_queue.h): cutting batches, leases, recording outcomes, the next due time.
// Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class WorkQueueContract : public StoreContractTest {};
GH_STORE_CONTRACT(WorkQueueContract);

TEST_P(WorkQueueContract, NewWebhookGetsOnlyLaterEventsAndADisabledOneResumesWhereItStopped) {
  Account a = add_account(st());
  append(st(), a, {event("before", T)});
  Webhook w = add_webhook(st(), a);
  append(st(), a, {event("after", T)});
  EXPECT_EQ(ids_of(claim(st(), T)), (std::vector<std::string>{"after"}));

  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {event("while-disabled", T)});
  EXPECT_TRUE(claim(st(), T + 1).empty());
  w.enabled = true;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {event("re-enabled", T)});
  EXPECT_EQ(ids_of(claim(st(), T + 2)), (std::vector<std::string>{"while-disabled", "re-enabled"}));
  // An update that keeps it enabled does not move the cursor.
  append(st(), a, {event("kept", T)});
  w.name = "still on";
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_EQ(ids_of(claim(st(), T + 3)), (std::vector<std::string>{"kept"}));
}

TEST_P(WorkQueueContract, ClaimCutsBatchesUpToTheWebhooksBatchSize) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, /*batch_max=*/2);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  auto got = claim(st(), T, "node-a", /*per_webhook=*/10);
  ASSERT_EQ(got.size(), 3u);
  std::vector<int> sizes;
  for (const auto& c : got) {
    sizes.push_back(c.batch.event_count);
    EXPECT_EQ(c.webhook.id, w.id);
    EXPECT_EQ(c.batch.state, BatchState::kPending);
    EXPECT_EQ(c.batch.cycle_attempts, 0);
    EXPECT_EQ(c.oldest_event_created_ms, T);
  }
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(ids_of(got), (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5"}));
  EXPECT_TRUE(claim(st(), T, "node-a", 10, 64, {{w.id, 3}}).empty());
}

TEST_P(WorkQueueContract, ClaimCutsBatchesUpToMaxBatchBytes) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  size_t one = event_json("e1", EventType::kSubscribed, "2024-01-01T00:00:00.000Z", R"({"msisdn":5599999999999})")
                   .size();
  // "[" a "," b "]": two events fit, a third does not.
  auto got = claim(st(), T, "node-a", 10, 64, {}, 60'000, 2 + 2 * (one + 1));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].batch.event_count, 2);
  EXPECT_EQ(got[1].batch.event_count, 2);
  EXPECT_EQ(got[2].batch.event_count, 1);
  // An event larger than the limit still goes, alone.
  append(st(), a, {event("big1", T), event("big2", T)});
  auto big = claim(st(), T, "node-a", 10, 64, {}, 60'000, 10);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(ids_of(big), (std::vector<std::string>{"big1", "big2"}));
}

TEST_P(WorkQueueContract, ClaimCutsBatchesUpToTheWebhooksBatchMaxBytes) {
  Account a = add_account(st());
  std::vector<IncomingEvent> events;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {  // ids of one length: every event is as long
    ids.push_back("e0" + std::to_string(i));
    events.push_back(event(ids.back(), T));
  }
  size_t one = event_json("e00", EventType::kSubscribed, "2024-01-01T00:00:00.000Z", R"({"msisdn":5599999999999})")
                   .size();
  // "[" a "," b "," c "]": three events fit, a fourth does not.
  const size_t cap = 2 + 3 * (one + 1);
  Webhook small = add_webhook(st(), a, T, 100, kAllEventTypes, static_cast<int>(cap));
  Webhook wide = add_webhook(st(), a, T + 1);
  append(st(), a, events);
  auto got = claim(st(), T, "node-a", 10);  // the node's cap: 1 MiB
  std::vector<std::string> small_ids, wide_ids;
  std::vector<int> small_sizes;
  for (const auto& c : got) {
    auto batch_ids = ids_of(c.events_json);
    EXPECT_EQ(c.batch.event_count, static_cast<int>(batch_ids.size()));
    if (c.webhook.id == wide.id) {
      wide_ids.insert(wide_ids.end(), batch_ids.begin(), batch_ids.end());
      continue;
    }
    ASSERT_EQ(c.webhook.id, small.id);
    EXPECT_EQ(c.webhook.batch_max_bytes, static_cast<int>(cap));
    if (c.batch.event_count > 1) {
      EXPECT_LE(c.events_json.size(), cap) << c.events_json;
    }
    small_sizes.push_back(c.batch.event_count);
    small_ids.insert(small_ids.end(), batch_ids.begin(), batch_ids.end());
  }
  EXPECT_EQ(small_sizes, (std::vector<int>{3, 3, 3, 1}));
  EXPECT_EQ(small_ids, ids);  // each exactly once, in order
  EXPECT_EQ(wide_ids, ids);   // the other webhook: all in one batch
  EXPECT_EQ(got.size(), 5u);

  // The node's max_batch_bytes still caps a webhook that allows more.
  append(st(), a, {event("f00", T), event("f01", T)});
  auto capped = claim(st(), T, "node-a", 10, 64, {}, 60'000, 2 + (one + 1));
  ASSERT_EQ(capped.size(), 4u);
  for (const auto& c : capped) EXPECT_EQ(c.batch.event_count, 1);

  // An event larger than the webhook's cap still goes, alone.
  Webhook tiny = add_webhook(st(), a, T + 2, 100, kAllEventTypes, 10);
  append(st(), a, {event("g00", T), event("g01", T)});
  std::vector<int> tiny_sizes;
  for (const auto& c : claim(st(), T, "node-a", 10)) {
    if (c.webhook.id == tiny.id) tiny_sizes.push_back(c.batch.event_count);
  }
  EXPECT_EQ(tiny_sizes, (std::vector<int>{1, 1}));
}

TEST_P(WorkQueueContract, WebhooksGetOnlyTheirEventTypes) {
  Account a = add_account(st());
  Webhook unsub = add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  append(st(), a,
         {event("s1", T), event("u1", T, EventType::kUnsubscribed), event("s2", T),
          event("u2", T, EventType::kUnsubscribed)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, unsub.id);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"u1", "u2"}));
  auto detail = st().get_batch(a.id, got[0].batch.id);
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(ids_of(detail->events_json), (std::vector<std::string>{"u1", "u2"}));
  // Nothing of its type pending: no batch, and nothing counts as pending.
  append(st(), a, {event("s3", T)});
  EXPECT_EQ(st().counts()->pending_events, 0);
  EXPECT_TRUE(claim(st(), T).empty());
}

TEST_P(WorkQueueContract, ClaimRespectsPerWebhookLimitAndMaxBatches) {
  Account a = add_account(st());
  Webhook w1 = add_webhook(st(), a, T, 1), w2 = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  auto first = claim(st(), T, "node-a", /*per_webhook=*/2, /*max_batches=*/3);
  ASSERT_EQ(first.size(), 3u);
  std::map<std::string, int> per;
  for (const auto& c : first) per[c.webhook.id]++;
  EXPECT_LE(per[w1.id], 2);
  EXPECT_LE(per[w2.id], 2);
  std::unordered_map<std::string, int> in_flight(per.begin(), per.end());
  // Whatever is left of the limits: one batch of the webhook that had one.
  auto second = claim(st(), T, "node-a", 2, 64, in_flight);
  ASSERT_EQ(second.size(), 1u);
  in_flight[second[0].webhook.id]++;
  EXPECT_TRUE(claim(st(), T, "node-a", 2, 64, in_flight).empty());
  // A completion frees a slot.
  record(st(), outcome(first[0], "node-a", BatchState::kDelivered, 200, T));
  in_flight[first[0].webhook.id]--;
  auto third = claim(st(), T, "node-a", 2, 64, in_flight);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].webhook.id, first[0].webhook.id);
  EXPECT_TRUE(claim(st(), T, "node-a", 2, 0, {}).empty()) << "max_batches 0 claims nothing";
}

// Isolation: the due retries of a webhook at its limit must not hide another
// webhook's due retry, however many there are and however old.
TEST_P(WorkQueueContract, ADueRetryIsNotHiddenBehindTheDueRetriesOfAWebhookAtItsLimit) {
  Account a = add_account(st());
  Webhook full = add_webhook(st(), a, T, 1), other = add_webhook(st(), a, T, 1);
  std::vector<IncomingEvent> events;
  for (int i = 0; i < 12; ++i) events.push_back(event("e" + std::to_string(i), T));
  append(st(), a, events);
  auto cut = claim(st(), T, "node-a", /*per_webhook=*/20);
  ASSERT_EQ(cut.size(), 24u);
  bool other_retry = false;
  for (const auto& c : cut) {
    if (c.webhook.id == full.id) {
      record(st(), outcome(c, "node-a", BatchState::kPending, 500, T, T + 100));
    } else if (!other_retry) {
      record(st(), outcome(c, "node-a", BatchState::kPending, 500, T, T + 200));  // due after all of full's
      other_retry = true;
    } else {
      record(st(), outcome(c, "node-a", BatchState::kDelivered, 200, T));
    }
  }
  // `full` has its 2 slots taken; the window of due batches (4 x max_batches
  // = 8) would hold only its 12 older ones.
  auto got = claim(st(), T + 1'000, "node-a", /*per_webhook=*/2, /*max_batches=*/2, {{full.id, 2}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, other.id);
}

TEST_P(WorkQueueContract, ManyOutcomesAreRecordedInOneCall) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1), gone_hook = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T)});
  auto got = claim(st(), T, "node-a", 8);
  ASSERT_EQ(got.size(), 8u);
  std::vector<AttemptOutcome> outs;
  std::map<std::string, std::string> expect;  // batch id -> state
  int n = 0;
  for (const auto& c : got) {
    if (c.webhook.id == gone_hook.id) {
      if (n++ == 0) {
        AttemptOutcome o = outcome(c, "node-a", BatchState::kFailed, 410, T + 10);
        o.disabled_reason = "gone";
        outs.push_back(o);
        expect[c.batch.id] = "failed";
      } else {
        outs.push_back(outcome(c, "node-b", BatchState::kDelivered, 200, T + 10));  // lease not held: dropped
        expect[c.batch.id] = "pending";
      }
      continue;
    }
    bool retry = outs.size() % 2 == 0;
    outs.push_back(outcome(c, "node-a", retry ? BatchState::kPending : BatchState::kDelivered, retry ? 503 : 200,
                           T + 10, retry ? std::optional<int64_t>(T + 500) : std::nullopt));
    expect[c.batch.id] = retry ? "pending" : "delivered";
  }
  std::reverse(outs.begin(), outs.end());  // any order
  ASSERT_TRUE(st().record_outcomes(outs).ok());
  for (const auto& o : outs) {
    auto d = st().get_batch(a.id, o.batch_id);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(to_string(d->batch.state), expect[o.batch_id]) << o.batch_id;
    bool applied = o.owner == "node-a";
    ASSERT_EQ(d->batch.attempts.size(), applied ? 1u : 0u);
    if (!applied) continue;
    EXPECT_EQ(d->batch.attempts[0].status_code, o.attempt.status_code);
    EXPECT_EQ(d->batch.attempts[0].error, o.attempt.error);
    EXPECT_EQ(d->batch.next_attempt_at_ms, o.next_attempt_at_ms);
    EXPECT_EQ(d->batch.cycle_attempts, 1);
  }
  auto g = st().get_webhook(a.id, gone_hook.id);
  EXPECT_FALSE(g->enabled);
  EXPECT_EQ(g->disabled_reason, "gone");
  EXPECT_TRUE(st().get_webhook(a.id, w.id)->enabled);
  // The retries are due at their time; their second attempt is number 2.
  auto again = claim(st(), T + 500, "node-a", 8);
  ASSERT_EQ(again.size(), 2u);
  std::vector<AttemptOutcome> second;
  for (const auto& c : again) second.push_back(outcome(c, "node-a", BatchState::kDelivered, 200, T + 600));
  ASSERT_TRUE(st().record_outcomes(second).ok());
  for (const auto& c : again) {
    auto d = st().get_batch(a.id, c.batch.id);
    EXPECT_EQ(d->batch.state, BatchState::kDelivered);
    ASSERT_EQ(d->batch.attempts.size(), 2u);
    EXPECT_EQ(d->batch.attempts[1].at_ms, T + 600);
  }
}

TEST_P(WorkQueueContract, EventsInABatchAreOrderedByOccurredAt) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("late", T + 300), event("early", T + 100), event("middle", T + 200)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"early", "middle", "late"}));
  auto detail = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(ids_of(detail->events_json), (std::vector<std::string>{"early", "middle", "late"}));
}

TEST_P(WorkQueueContract, RecordedOutcomesChangeBatchesAndKeepAttempts) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 3u);

  // Delivered.
  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 10));
  auto d = st().get_batch(a.id, got[0].batch.id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  EXPECT_FALSE(d->batch.next_attempt_at_ms.has_value());
  ASSERT_EQ(d->batch.attempts.size(), 1u);
  EXPECT_EQ(d->batch.attempts[0].status_code, 200);
  EXPECT_EQ(d->batch.attempts[0].at_ms, T + 10);
  EXPECT_EQ(d->batch.attempts[0].duration_ms, 5);
  EXPECT_EQ(d->batch.attempts[0].response_body, "body");

  // Retry scheduled: not due before its time, due at it.
  record(st(), outcome(got[1], "node-a", BatchState::kPending, 500, T + 10, T + 1000));
  auto r = st().get_batch(a.id, got[1].batch.id);
  EXPECT_EQ(r->batch.state, BatchState::kPending);
  EXPECT_EQ(r->batch.next_attempt_at_ms, T + 1000);
  EXPECT_EQ(r->batch.cycle_attempts, 1);
  EXPECT_EQ(r->batch.attempts[0].error, "HTTP 500");
  EXPECT_TRUE(claim(st(), T + 999, "node-a", 4, 64, {{w.id, 1}}).empty());
  auto again = claim(st(), T + 1000, "node-a", 4, 64, {{w.id, 1}});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].batch.id, got[1].batch.id);
  EXPECT_EQ(again[0].batch.cycle_attempts, 1);
  EXPECT_EQ(ids_of(again[0].events_json), (std::vector<std::string>{"e2"}));
  record(st(), outcome(again[0], "node-a", BatchState::kFailed, 500, T + 1000));
  auto f = st().get_batch(a.id, got[1].batch.id);
  EXPECT_EQ(f->batch.state, BatchState::kFailed);
  EXPECT_EQ(f->batch.attempts.size(), 2u);
  EXPECT_EQ(f->batch.cycle_attempts, 2);

  // 410: failed, and the webhook is disabled with the reason.
  AttemptOutcome gone = outcome(got[2], "node-a", BatchState::kFailed, 410, T + 20);
  gone.disabled_reason = "the receiver answered 410 Gone";
  record(st(), gone);
  auto disabled = st().get_webhook(a.id, w.id);
  EXPECT_FALSE(disabled->enabled);
  EXPECT_EQ(disabled->disabled_reason, "the receiver answered 410 Gone");
  append(st(), a, {event("e4", T)});
  EXPECT_TRUE(claim(st(), T + 2000).empty());
}

TEST_P(WorkQueueContract, ResponseBodiesThatAreNotTextAreRecorded) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  AttemptOutcome o = outcome(got[0], "node-a", BatchState::kDelivered, 200, T);
  o.attempt.response_body = std::string("ok\0\xff\xc3", 5);  // a NUL and a UTF-8 sequence cut short
  record(st(), o);
  auto d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  ASSERT_EQ(d->batch.attempts.size(), 1u);
  EXPECT_EQ(d->batch.attempts[0].response_body.substr(0, 2), "ok");
}

TEST_P(WorkQueueContract, AnUnrecordedLeaseExpiresAndALostLeaseIsDropped) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T, "node-a", 4, 64, {}, /*lease_ms=*/1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(claim(st(), T + 999, "node-b", 4, 64, {}, 1000).empty());
  auto taken = claim(st(), T + 1000, "node-b", 4, 64, {}, 1000);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].batch.id, got[0].batch.id);
  EXPECT_EQ(ids_of(taken[0].events_json), (std::vector<std::string>{"e1"}));

  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 1001));
  auto d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kPending) << "node-a lost its lease: its outcome is dropped";
  EXPECT_TRUE(d->batch.attempts.empty());
  record(st(), outcome(taken[0], "node-b", BatchState::kDelivered, 200, T + 1002));
  d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  EXPECT_EQ(d->batch.attempts.size(), 1u);
}

TEST_P(WorkQueueContract, ReleaseLeasesFreesOneOwnerOrAll) {
  Account a = add_account(st());
  add_webhook(st(), a);
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto by_a = claim(st(), T, "node-a", 4, 1);
  auto by_b = claim(st(), T, "node-b", 4, 1);
  ASSERT_EQ(by_a.size(), 1u);
  ASSERT_EQ(by_b.size(), 1u);
  EXPECT_TRUE(claim(st(), T + 1, "node-c").empty());

  ASSERT_TRUE(st().release_leases("node-a").ok());
  auto c1 = claim(st(), T + 1, "node-c");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].batch.id, by_a[0].batch.id);

  ASSERT_TRUE(st().release_leases("").ok());
  std::set<std::string> ids;
  for (const auto& c : claim(st(), T + 2, "node-d")) ids.insert(c.batch.id);
  EXPECT_EQ(ids, (std::set<std::string>{by_a[0].batch.id, by_b[0].batch.id}));
}

TEST_P(WorkQueueContract, NextDueIsTheEarliestAttemptOrLeaseEnd) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  EXPECT_FALSE(st().next_due_ms()->has_value());
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T, "node-a", 4, 64, {}, 1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*st().next_due_ms(), T + 1000) << "leased: due again when the lease ends";
  record(st(), outcome(got[0], "node-a", BatchState::kPending, 503, T + 5, T + 5000));
  EXPECT_EQ(*st().next_due_ms(), T + 5000);
  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_FALSE(st().next_due_ms()->has_value()) << "a disabled webhook's batches wait";
  w.enabled = true;
  ASSERT_TRUE(st().update_webhook(w).ok());
  auto again = claim(st(), T + 5000);
  ASSERT_EQ(again.size(), 1u);
  record(st(), outcome(again[0], "node-a", BatchState::kDelivered, 200, T + 5000));
  EXPECT_FALSE(st().next_due_ms()->has_value());
}

}  // namespace
}  // namespace growhook::store_test
