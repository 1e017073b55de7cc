// The notification outbox (outbox.h): the rows of a change of health commit
// with it and only with it, once per change and channel; a row is leased to
// one owner at a time, finished only by its holder, retried when due,
// pruned once sent. Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class OutboxContract : public StoreContractTest {
 protected:
  void record_health(const ClaimedBatch& b, BatchState state, int status, int64_t at) {
    const bool pending = state == BatchState::kPending;
    AttemptOutcome o = outcome(b, "node-a", state, status, at, pending ? std::optional<int64_t>(at) : std::nullopt);
    o.health.attempts_to_fail = 4;
    o.health.disable_after_ms = 60'000;
    o.health.jitter = 0;
    record(st(), o);
  }
  std::vector<Notification> take(const std::string& owner, int64_t now, int limit = 10) {
    auto r = st().claim_notifications(owner, now, 30'000, limit);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    std::sort(r->begin(), r->end(), [](const Notification& a, const Notification& b) {
      return std::tie(a.at_ms, a.channel) < std::tie(b.at_ms, b.channel);
    });
    return std::move(*r);
  }
  // A webhook whose one batch failed all its attempts at T: failing.
  void make_failing() {
    Account a = add_account(st());
    Webhook w = add_webhook(st(), a, T, 1);
    append(st(), a, {event("e1", T)});
    auto got = claim(st(), T);
    ASSERT_EQ(got.size(), 1u);
    record_health(got[0], BatchState::kFailed, 500, T);
  }
  bool finish(const std::string& owner, const Notification& n, NotificationDone::Outcome o, int64_t now,
              int64_t retry_at = 0) {
    auto r = st().finish_notification(owner, {n.id, n.channel, o, retry_at, "why"}, now);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() && *r;
  }
};
GH_STORE_CONTRACT(OutboxContract);

TEST_P(OutboxContract, AChangeOfHealthCommitsOneRowPerChannelWithItAndNothingElseDoes) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 2u);
  record_health(got[0], BatchState::kPending, 500, T + 10);
  EXPECT_TRUE(take("node-a", T + 100'000).empty()) << "one failed attempt is no change: no notification";

  AttemptOutcome lost = outcome(got[1], "someone-else", BatchState::kFailed, 500, T + 20);
  record(st(), lost);
  EXPECT_TRUE(take("node-a", T + 100'000).empty()) << "an outcome without its lease records nothing, nor news";

  record_health(got[1], BatchState::kFailed, 500, T + 30);
  auto rows = take("node-a", T + 100'000);
  ASSERT_EQ(rows.size(), 2u) << "failing: one row for mail, one for the platform";
  const auto failing_since = st().get_webhook(a.id, w.id)->health.failing_since_ms;
  ASSERT_TRUE(failing_since.has_value());
  for (const auto& n : rows) {
    EXPECT_EQ(n.kind, "failing");
    EXPECT_EQ(n.account_id, a.id);
    EXPECT_EQ(n.webhook_id, w.id);
    EXPECT_EQ(n.at_ms, *failing_since);
    EXPECT_EQ(n.failing_since_ms, *failing_since);
    EXPECT_EQ(n.reason, "HTTP 500");
    EXPECT_EQ(n.id, notification_key(w.id, "failing", n.at_ms)) << "the dedupe key";
    EXPECT_EQ(n.attempts, 0);
  }
  EXPECT_EQ(rows[0].channel, NotificationChannel::kEmail);
  EXPECT_EQ(rows[1].channel, NotificationChannel::kPlatform);
  auto waiting = st().events_waiting(w.id);
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(*waiting, 1) << "e1's batch is still pending; e2's failed";
}

TEST_P(OutboxContract, ARowIsLeasedToOneOwnerFinishedByItsHolderRetriedWhenDueAndPrunedOnceSent) {
  make_failing();
  const int64_t now = T + 1'000;
  auto mine = take("node-a", now);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_TRUE(take("node-b", now).empty()) << "leased: another node gets nothing";
  EXPECT_EQ(*st().next_notification_due_ms(), now + 30'000) << "due again when the lease ends";

  auto theirs = take("node-b", now + 30'000);
  ASSERT_EQ(theirs.size(), 2u) << "the lease of a node that died ends";
  EXPECT_FALSE(finish("node-a", mine[0], NotificationDone::Outcome::kSent, now + 30'001))
      << "the first owner lost its lease and cannot finish the row";
  EXPECT_TRUE(finish("node-b", theirs[0], NotificationDone::Outcome::kRetry, now + 30'001, now + 40'000));
  EXPECT_TRUE(finish("node-b", theirs[1], NotificationDone::Outcome::kSkipped, now + 30'001));
  EXPECT_EQ(*st().next_notification_due_ms(), now + 40'000);
  EXPECT_TRUE(take("node-b", now + 39'999).empty());
  auto again = take("node-a", now + 40'000);
  ASSERT_EQ(again.size(), 1u) << "the retried row, once; the skipped one is done";
  EXPECT_EQ(again[0].channel, NotificationChannel::kEmail);
  EXPECT_EQ(again[0].attempts, 1);
  EXPECT_TRUE(finish("node-a", again[0], NotificationDone::Outcome::kSent, now + 40'001));
  EXPECT_FALSE(st().next_notification_due_ms()->has_value()) << "nothing pending";

  auto kept = st().prune_notifications(now + 40'000, 100);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 1) << "only the row finished at or before the time (the skipped one)";
  auto pruned = st().prune_notifications(now + 40'001, 100);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
}

TEST_P(OutboxContract, ANotificationPendingAtARestartIsThereOnceAfterIt) {
  make_failing();
  ASSERT_EQ(take("node-a", T + 1'000).size(), 2u);
  store_.reset();
  auto reopened = db_.open();
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  store_ = std::move(reopened->store);
  ASSERT_TRUE(st().release_notification_leases("node-a").ok());
  EXPECT_EQ(take("node-b", T + 1'000).size(), 2u) << "the leases of the node's previous life are freed at start";
  EXPECT_TRUE(take("node-c", T + 1'000).empty());
}

TEST_P(OutboxContract, AnAccountsNotificationEmailIsSetReadAndCleared) {
  Account a = add_account(st());
  EXPECT_FALSE(st().get_account(a.id)->notification_email.has_value());
  ASSERT_TRUE(st().set_notification_email(a.id, "shop@example.com").ok());
  EXPECT_EQ(st().get_account(a.id)->notification_email, "shop@example.com");
  ASSERT_TRUE(st().set_notification_email(a.id, std::nullopt).ok());
  EXPECT_FALSE(st().get_account(a.id)->notification_email.has_value());
  EXPECT_EQ(st().set_notification_email("acc_nobody", "x@example.com").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace growhook::store_test
