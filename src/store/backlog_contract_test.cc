// The contract of Backlog (backlog.h): a disabled webhook keeps its place,
// enabling resumes there or skips to the head, retention does not wait for
// a disabled webhook, recover sends events again as new batches; and the
// events a webhook waits for are counted (webhooks.h's stats). Run on both
// stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class BacklogContract : public StoreContractTest {
 protected:
  void deliver_all(int64_t now) {
    for (const auto& c : claim(st(), now)) record(st(), outcome(c, "node-a", BatchState::kDelivered, 200, now));
  }
  void disable(Webhook& w) {
    w.enabled = false;
    ASSERT_TRUE(st().update_webhook(w).ok());
  }
  int64_t waiting(const Account& a, const Webhook& w) {
    auto s = st().webhook_stats(a.id, {w.id});
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? (*s)[w.id].events_waiting : -1;
  }
  RecoverRequest since(int64_t since_ms, int64_t now_ms, int64_t max_events = 100'000) {
    RecoverRequest r;
    r.since_ms = since_ms;
    r.now_ms = now_ms;
    r.max_events = max_events;
    return r;
  }
};
GH_STORE_CONTRACT(BacklogContract);

TEST_P(BacklogContract, EnablingResumesWhereItStoppedWithTheEventsThatArrivedMeanwhile) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  append(st(), a, {event("before", T)});
  deliver_all(T + 1);
  disable(w);
  w.disabled_reason = "HTTP 410 Gone";
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {event("while-1", T + 2), event("while-2", T + 2)}, T + 2);
  EXPECT_TRUE(claim(st(), T + 3).empty()) << "a disabled webhook gets nothing";
  EXPECT_EQ(waiting(a, w), 2);

  auto on = st().enable_webhook(a.id, w.id, /*from_head=*/false, T + 4);
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_EQ(on->events_skipped, 0);
  auto got = st().get_webhook(a.id, w.id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->disabled_reason, "");
  EXPECT_EQ(got->updated_at_ms, T + 4);
  EXPECT_EQ(ids_of(claim(st(), T + 5)), (std::vector<std::string>{"while-1", "while-2"}));
  EXPECT_EQ(waiting(a, w), 2) << "in a pending batch, not delivered yet";
}

TEST_P(BacklogContract, EnablingFromTheHeadSkipsAndCountsWhatArrivedWhileDisabled) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 100, type_bit(EventType::kSubscribed));
  disable(w);
  append(st(), a, {event("sub-1", T), event("unsub", T, EventType::kUnsubscribed), event("sub-2", T)});
  auto on = st().enable_webhook(a.id, w.id, /*from_head=*/true, T + 1);
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_EQ(on->events_skipped, 2) << "only its types count";
  EXPECT_TRUE(claim(st(), T + 2).empty());
  EXPECT_EQ(waiting(a, w), 0);
  append(st(), a, {event("after", T + 3)}, T + 3);
  EXPECT_EQ(ids_of(claim(st(), T + 4)), (std::vector<std::string>{"after"}));
}

TEST_P(BacklogContract, AnotherAccountsWebhookIsNotFound) {
  Account a = add_account(st()), b = add_account(st(), T + 1);
  Webhook w = add_webhook(st(), a);
  disable(w);
  EXPECT_EQ(st().enable_webhook(b.id, w.id, false, T).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().recover(b.id, w.id, since(T, T)).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(st().get_webhook(a.id, w.id)->enabled);
}

TEST_P(BacklogContract, RetentionDoesNotWaitForADisabledWebhook) {
  Account a = add_account(st());
  Webhook live = add_webhook(st(), a), off = add_webhook(st(), a, T + 1);
  disable(off);
  append(st(), a, {event("old", T)});
  deliver_all(T + 1);  // the enabled one got it
  auto n = st().prune(T + 1000, T + 1000, 100);
  ASSERT_TRUE(n.ok()) << n.error().message;
  ASSERT_TRUE(st().enable_webhook(a.id, off.id, false, T + 2000).ok());
  EXPECT_TRUE(claim(st(), T + 2001).empty()) << "the old event is gone with retention";
  append(st(), a, {event("new", T + 2002)}, T + 2002);
  auto got = claim(st(), T + 2003);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& c : got) EXPECT_EQ(ids_of(c.events_json), (std::vector<std::string>{"new"}));
  (void)live;
}

TEST_P(BacklogContract, RecoverSendsEventsSinceATimeAgainAsNewBatchesWithTheSameIds) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, /*batch_max=*/2);
  append(st(), a, {event("early", T)}, T);
  append(st(), a, {event("e1", T + 100), event("e2", T + 100), event("e3", T + 100)}, T + 100);
  deliver_all(T + 200);
  append(st(), a, {event("not-cut-yet", T + 300)}, T + 300);

  auto r = st().recover(a.id, w.id, since(T + 100, T + 400));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->events, 3) << "the event after its position goes out anyway";
  EXPECT_EQ(r->batches, 2) << "batch_max_events 2";
  std::vector<std::string> sent;
  for (const auto& c : claim(st(), T + 500)) {
    for (const auto& id : ids_of(c.events_json)) sent.push_back(id);
  }
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<std::string>{"e1", "e2", "e3", "not-cut-yet"}));

  auto none = st().recover(a.id, w.id, since(T + 10'000, T + 10'000));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->events, 0);
  auto capped = st().recover(a.id, w.id, since(T, T + 600, /*max_events=*/2));
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->events, 2) << "oldest first, at most max_events";
}

}  // namespace
}  // namespace growhook::store_test
