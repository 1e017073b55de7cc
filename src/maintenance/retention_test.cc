// Retention against the real SQLite store and a fake clock: a round goes on
// step by step until nothing old is left, and keeps what is recent. The
// rests between steps are waits on the fake clock, which moves itself to
// their end (advance_on_wait): no test waits for real time to pass.
#include "maintenance/retention.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"
#include "domain/event.h"
#include "store/sqlite_store.h"

namespace growhook {
namespace {

constexpr int64_t kDay = 86'400'000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.advance_on_wait(true);
    dir_ = std::filesystem::temp_directory_path() / ("growhook-retention-" + new_id("t", clock_.now_ms()));
    auto s = open_sqlite_store(dir_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->create_account({"acc_1", "shop", clock_.now_ms()}, "hash").ok());
    Webhook w;
    w.id = "wh_1";
    w.account_id = "acc_1";
    w.name = "crm";
    w.url = "http://127.0.0.1:9/hook";
    w.secret = "whsec_test";
    w.batch_max_events = 1;
    ASSERT_TRUE(store_->create_webhook(w).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // n events, each delivered in a batch of its own, now.
  void deliver(int n, BatchState state = BatchState::kDelivered) {
    AppendRequest r{"acc_1", {}, clock_.now_ms()};
    for (int i = 0; i < n; ++i) {
      IncomingEvent e;
      e.occurred_at = "2024-09-26T00:08:18.161Z";
      e.data_json = sample_contact_json();
      set_event_id(e, new_id("evt", clock_.now_ms()));
      r.events.push_back(e);
    }
    ASSERT_TRUE(store_->append_events(std::span<const AppendRequest>(&r, 1))[0].ok());
    ClaimRequest c;
    c.now_ms = clock_.now_ms();
    c.owner = "test";
    c.lease_ms = 60'000;
    c.per_webhook_in_flight = n;
    c.max_batches = n;
    auto claimed = store_->record_and_claim({}, c);
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ(claimed->size(), static_cast<size_t>(n));
    std::vector<AttemptOutcome> outcomes;
    for (const auto& b : *claimed) {
      AttemptOutcome o;
      o.batch_id = b.batch.id;
      o.webhook_id = b.webhook.id;
      o.owner = "test";
      o.attempt = {clock_.now_ms(), state == BatchState::kDelivered ? 200 : 500, 1, "", ""};
      o.new_state = state;
      outcomes.push_back(o);
    }
    ASSERT_TRUE(store_->record_outcomes(outcomes).ok());
  }
  size_t listed(std::optional<BatchState> state) {
    auto b = store_->list_batches("acc_1", "wh_1", state, "", 100);
    EXPECT_TRUE(b.ok());
    return b.ok() ? b->size() : 0;
  }

  FakeClock clock_;
  Metrics metrics_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(RetentionTest, ARoundTakesStepsUntilNothingOldIsLeft) {
  deliver(5);
  clock_.advance_ms(8 * kDay);
  deliver(1);  // recent: stays
  Retention r(*store_, clock_, metrics_, RetentionOptions{7 * kDay, 30 * kDay, 60'000, 2});
  // 5 old batches and their 5 events, 2 batches a step.
  const int64_t before = clock_.mono_ms();
  EXPECT_EQ(r.run_once(), 10);
  // Three steps removed rows (2+2, 2+2, 1+1), each followed by a rest as
  // long as the step (at least 1 ms); the fourth found nothing.
  EXPECT_EQ(clock_.waits_begun(), 3);
  EXPECT_EQ(clock_.mono_ms() - before, 3);
  EXPECT_EQ(metrics_.pruned_rows.load(), 10u);
  EXPECT_EQ(listed(BatchState::kDelivered), 1u);
  EXPECT_EQ(r.run_once(), 0);
}

TEST_F(RetentionTest, FailedBatchesStayForTheirLongerPeriodAndHoldTheirEvents) {
  deliver(2, BatchState::kFailed);
  clock_.advance_ms(8 * kDay);
  Retention r(*store_, clock_, metrics_, RetentionOptions{7 * kDay, 30 * kDay, 60'000, 500});
  EXPECT_EQ(r.run_once(), 0);
  EXPECT_EQ(listed(BatchState::kFailed), 2u);
  auto b = store_->list_batches("acc_1", "wh_1", BatchState::kFailed, "", 1);
  ASSERT_TRUE(b.ok());
  auto detail = store_->get_batch("acc_1", (*b)[0].id);
  ASSERT_TRUE(detail.ok());
  EXPECT_NE(detail->events_json, "[]") << "a failed batch can still be retried with its events";
  clock_.advance_ms(23 * kDay);
  EXPECT_EQ(r.run_once(), 4);
  EXPECT_EQ(listed(std::nullopt), 0u);
}

}  // namespace
}  // namespace growhook
