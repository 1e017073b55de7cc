// A webhook's health as the WorkQueue keeps it (work_queue.h, domain/health.h):
// failing holds the backlog back, one probe at a time when due, recovered
// on a 2xx, disabled after disable_after; stored, so a restart agrees.
// Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class HealthContract : public StoreContractTest {
 protected:
  static HealthConfig config() {
    HealthConfig c;
    c.attempts_to_fail = 4;
    c.probe_first_interval_ms = 1'000;
    c.probe_max_interval_ms = 8'000;
    c.disable_after_ms = 60'000;
    c.jitter = 0;
    return c;
  }
  void record_health(const ClaimedBatch& b, BatchState state, int status, int64_t at,
                     std::optional<int64_t> next = std::nullopt) {
    AttemptOutcome o = outcome(b, "node-a", state, status, at, next);
    o.health = config();
    record(st(), o);
  }
  WebhookHealth health_of(const Webhook& w) {
    auto got = st().get_webhook(w.account_id, w.id);
    EXPECT_TRUE(got.ok());
    return got.ok() ? got->health : WebhookHealth{};
  }
  void restart() {
    store_.reset();
    auto reopened = db_.open();
    ASSERT_TRUE(reopened.ok()) << reopened.error().message;
    store_ = std::move(reopened->store);
  }
};
GH_STORE_CONTRACT(HealthContract);

TEST_P(HealthContract, AFailingWebhookWaitsIsProbedOneBatchAtATimeAndFlowsAgainAfterA2xx) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T)});
  auto first = claim(st(), T);
  ASSERT_EQ(first.size(), 1u);
  record_health(first[0], BatchState::kFailed, 500, T + 100);  // its last attempt failed
  WebhookHealth h = health_of(w);
  ASSERT_TRUE(h.failing());
  EXPECT_EQ(*h.failing_since_ms, T + 105);
  EXPECT_EQ(h.next_probe_at_ms, T + 1'105);
  EXPECT_EQ(h.last_error, "HTTP 500");

  append(st(), a, {event("e2", T), event("e3", T), event("e4", T)});
  EXPECT_TRUE(claim(st(), T + 1'000).empty()) << "no batch is cut before the probe is due";
  EXPECT_EQ(*st().next_due_ms(), T + 1'105) << "the loop wakes for the probe";
  auto probe = claim(st(), T + 1'105);
  ASSERT_EQ(probe.size(), 1u) << "one probe, however many events wait";
  EXPECT_EQ(ids_of(probe), (std::vector<std::string>{"e2"}));
  EXPECT_TRUE(claim(st(), T + 1'105, "node-a", 4, 64, {{w.id, 1}}).empty()) << "one probe at a time";

  record_health(probe[0], BatchState::kPending, 503, T + 1'200, T + 1'200);
  h = health_of(w);
  EXPECT_EQ(h.probe_count, 1);
  EXPECT_EQ(h.next_probe_at_ms, T + 1'205 + 2'000) << "the second wait is twice the first";
  restart();
  EXPECT_EQ(health_of(w), h) << "a restart reads back the same health";
  EXPECT_TRUE(claim(st(), T + 3'000).empty());
  auto again = claim(st(), T + 3'205);
  ASSERT_EQ(again.size(), 1u) << "the pending probe batch goes again; nothing new is cut";
  EXPECT_EQ(again[0].batch.id, probe[0].batch.id);

  record_health(again[0], BatchState::kDelivered, 200, T + 3'300);
  EXPECT_EQ(health_of(w), WebhookHealth{}) << "recovered";
  auto backlog = claim(st(), T + 3'400);
  EXPECT_EQ(ids_of(backlog), (std::vector<std::string>{"e3", "e4"})) << "the backlog flows by itself";
}

TEST_P(HealthContract, SeveralFailedAttemptsInARowMakeItFailingAndASuccessResetsThem) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 4u);
  record_health(got[0], BatchState::kPending, 500, T + 10, T + 10'000);
  record_health(got[1], BatchState::kPending, 500, T + 20, T + 10'000);
  record_health(got[2], BatchState::kDelivered, 200, T + 30);
  record_health(got[3], BatchState::kPending, 500, T + 40, T + 10'000);
  EXPECT_FALSE(health_of(w).failing()) << "a 2xx between them resets the streak";
  EXPECT_EQ(health_of(w).failure_streak, 1);
}

TEST_P(HealthContract, FailingForDisableAfterDisablesTheWebhookWithItsReason) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  record_health(got[0], BatchState::kFailed, 500, T);
  ASSERT_EQ(*health_of(w).failing_since_ms, T + 5);
  append(st(), a, {event("e2", T)});
  auto probe = claim(st(), T + 60'000);
  ASSERT_EQ(probe.size(), 1u);
  record_health(probe[0], BatchState::kPending, 502, T + 60'000, T + 60'000);
  auto disabled = st().get_webhook(a.id, w.id);
  ASSERT_TRUE(disabled.ok());
  EXPECT_FALSE(disabled->enabled);
  EXPECT_EQ(disabled->disabled_reason, "failing since 2023-11-14T22:13:20.005Z; last error: HTTP 502");
  EXPECT_TRUE(claim(st(), T + 120'000).empty());

  disabled->enabled = true;
  disabled->disabled_reason.clear();
  ASSERT_TRUE(st().update_webhook(*disabled).ok());
  EXPECT_FALSE(health_of(w).failing()) << "enabled again, it starts healthy";
  EXPECT_EQ(claim(st(), T + 120'000).size(), 1u) << "the probe batch waits no more";
}

}  // namespace
}  // namespace growhook::store_test
