// The delivery engine against the real SQLite store, a fake transport and a
// fake clock: the whole retry schedule, with a restart in the middle of it.
#include "delivery/engine.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

#include "common/ids.h"
#include "domain/signature.h"
#include "store/sqlite_store.h"

namespace growhook {
namespace {

// Answers every request at once with a scripted status; records what it got.
class FakeTransport : public Transport {
 public:
  void send(OutgoingRequest request, Callback done) override {
    TransportResult r;
    {
      std::lock_guard lock(mu_);
      sent_.push_back(std::move(request));
      r.status_code = status_;
    }
    done(r);
  }
  int in_flight() const override { return 0; }
  void stop() override {}
  void set_status(int s) {
    std::lock_guard lock(mu_);
    status_ = s;
  }
  size_t sent() const {
    std::lock_guard lock(mu_);
    return sent_.size();
  }
  OutgoingRequest last() const {
    std::lock_guard lock(mu_);
    return sent_.back();
  }

 private:
  mutable std::mutex mu_;
  std::vector<OutgoingRequest> sent_;
  int status_ = 500;
};

// Holds every request until the test answers it, on the test's thread.
class HeldTransport : public Transport {
 public:
  void send(OutgoingRequest /*request*/, Callback done) override {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(done));
    sent_++;
  }
  int in_flight() const override {
    std::lock_guard lock(mu_);
    return static_cast<int>(held_.size());
  }
  void stop() override {}
  size_t sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  // Answers the oldest request held; its callback runs before this returns.
  void answer(int status, int64_t duration_ms = 1) {
    Callback done;
    {
      std::lock_guard lock(mu_);
      ASSERT_FALSE(held_.empty());
      done = std::move(held_.front());
      held_.pop_front();
    }
    TransportResult r;
    r.status_code = status;
    r.duration_ms = duration_ms;
    done(r);
  }

 private:
  mutable std::mutex mu_;
  std::deque<Callback> held_;
  size_t sent_ = 0;
};

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("growhook-engine-" + new_id("t", clock_.now_ms()));
    auto s = open_sqlite_store(dir_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->create_account({"acc_1", "shop", clock_.now_ms()}, "hash").ok());
    webhook_.id = "wh_1";
    webhook_.account_id = "acc_1";
    webhook_.name = "crm";
    webhook_.url = "http://127.0.0.1:9/hook";
    webhook_.secret = new_webhook_secret();
    ASSERT_TRUE(store_->create_webhook(webhook_).ok());
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start_engine(Transport* transport = nullptr, int per_webhook = 4, int ready_ahead = 64) {
    DeliveryOptions o;
    o.per_webhook_in_flight = per_webhook;
    o.ready_ahead = ready_ahead;
    o.owner = "test";
    o.idle_poll_ms = 5;
    o.retry.jitter = 0;  // exact schedule
    o.seed = 1;
    engine_ = std::make_unique<DeliveryEngine>(*store_, transport ? *transport : transport_, clock_, metrics_, o);
    engine_->start();
  }
  void ingest(const std::string& id) {
    IncomingEvent e;
    e.occurred_at = "2024-09-26T00:08:18.161Z";
    e.data_json = sample_contact_json();
    set_event_id(e, id);
    AppendRequest r{"acc_1", {e}, clock_.now_ms()};
    auto out = store_->append_events(std::span<const AppendRequest>(&r, 1));
    ASSERT_TRUE(out[0].ok());
  }
  std::vector<Batch> batches(std::optional<BatchState> state) {
    auto b = store_->list_batches("acc_1", "wh_1", state, "", 50);
    EXPECT_TRUE(b.ok());
    return b.ok() ? *b : std::vector<Batch>{};
  }

  // One event a batch, so that every event is a request of its own.
  void one_event_batches() {
    webhook_.batch_max_events = 1;
    ASSERT_TRUE(store_->update_webhook(webhook_).ok());
  }

  FakeClock clock_;
  Metrics metrics_;
  FakeTransport transport_;
  HeldTransport held_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeliveryEngine> engine_;
  Webhook webhook_;
};

TEST_F(EngineTest, WalksTheWholeScheduleAcrossARestartThenFails) {
  ingest("e1");
  start_engine();
  ASSERT_TRUE(eventually([&] { return transport_.sent() == 1; }));
  // Nothing happens before the first delay has passed.
  clock_.advance_ms(9'999);
  engine_->wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport_.sent(), 1u);
  clock_.advance_ms(1);
  ASSERT_TRUE(eventually([&] { return transport_.sent() == 2; }));
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kPending).size() == 1 && batches(BatchState::kPending)[0].cycle_attempts == 2; }));

  // Restart in the middle of the schedule: the next attempt keeps its time.
  engine_->stop();
  engine_.reset();
  ASSERT_TRUE(store_->release_leases("").ok());
  start_engine();
  clock_.advance_ms(59'999);
  engine_->wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport_.sent(), 2u);
  clock_.advance_ms(1);
  ASSERT_TRUE(eventually([&] { return transport_.sent() == 3; }));
  clock_.advance_ms(300'000);
  ASSERT_TRUE(eventually([&] { return transport_.sent() == 4; }));
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kFailed).size() == 1; }));
  auto failed = batches(BatchState::kFailed)[0];
  ASSERT_EQ(failed.attempts.size(), 4u);
  EXPECT_FALSE(failed.next_attempt_at_ms.has_value());
  // And nothing more, however long we wait.
  clock_.advance_ms(86'400'000);
  engine_->wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport_.sent(), 4u);
  EXPECT_EQ(metrics_.batches_failed.load(), 1u);
}

TEST_F(EngineTest, DeliversSignedBatchesAndRecordsThem) {
  transport_.set_status(204);
  ingest("a");
  ingest("b");
  start_engine();
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kDelivered).size() >= 1; }));
  auto req = transport_.last();
  std::string id, ts, sig;
  for (auto& [k, v] : req.headers) {
    if (k == "webhook-id") id = v;
    if (k == "webhook-timestamp") ts = v;
    if (k == "webhook-signature") sig = v;
  }
  EXPECT_TRUE(verify_signature(webhook_.secret, id, std::stoll(ts), req.body, sig, std::stoll(ts)));
  EXPECT_EQ(metrics_.events_delivered.load(), 2u);
}

TEST_F(EngineTest, AFinishedRequestIsFollowedAtOnceByTheNextReadyBatchOfItsWebhook) {
  one_event_batches();
  for (int i = 0; i < 10; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/2, /*ready_ahead=*/4);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 2; }));
  // Nothing is claimed ahead for a webhook that has not answered yet.
  EXPECT_EQ(engine_->ready(), 0);
  // A fast answer: from then on two more are claimed and ready, and each
  // answer sends the next one from inside its callback, before the loop
  // has turned.
  held_.answer(200);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 3 && engine_->ready() == 2; }));
  held_.answer(200);
  EXPECT_EQ(held_.sent(), 4u);
  held_.answer(200);
  EXPECT_EQ(held_.sent(), 5u);
  // The rest follow; everything is delivered once, never more than two at once.
  for (int answered = 3; answered < 10; ++answered) {
    ASSERT_TRUE(eventually([&] { return held_.in_flight() > 0; }));
    EXPECT_LE(held_.in_flight(), 2);
    held_.answer(200);
  }
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kDelivered).size() == 10; }));
  EXPECT_EQ(held_.sent(), 10u);
}

TEST_F(EngineTest, NothingIsClaimedAheadForAWebhookThatAnswersSlowly) {
  one_event_batches();
  for (int i = 0; i < 6; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/2, /*ready_ahead=*/4);
  for (int answered = 0; answered < 6; ++answered) {
    ASSERT_TRUE(eventually([&] { return held_.in_flight() == std::min(2, 6 - answered); }));
    EXPECT_EQ(engine_->ready(), 0) << "after " << answered << " answers";
    held_.answer(200, /*duration_ms=*/1'000);
  }
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kDelivered).size() == 6; }));
  EXPECT_EQ(held_.sent(), 6u);
}

TEST_F(EngineTest, AGoneAnswerStopsTheReadyBatchesOfItsWebhook) {
  one_event_batches();
  for (int i = 0; i < 8; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/2, /*ready_ahead=*/4);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 2; }));
  held_.answer(200);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 3 && engine_->ready() == 2; }));
  held_.answer(410);
  EXPECT_EQ(engine_->ready(), 0);
  held_.answer(200);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(held_.sent(), 3u) << "nothing more goes to a webhook that answered 410";
  auto w = store_->get_webhook("acc_1", "wh_1");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->enabled);
}

TEST_F(EngineTest, AReadyBatchThatWaitedTooLongGoesWhenItsLeaseEnds) {
  one_event_batches();
  for (int i = 0; i < 3; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/1, /*ready_ahead=*/4);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 1; }));
  held_.answer(200);
  ASSERT_TRUE(eventually([&] { return held_.sent() == 2 && engine_->ready() == 1; }));
  // The receiver now takes over a second: the ready batch is not sent on
  // the webhook's configuration of a second ago.
  clock_.advance_ms(1'001);
  held_.answer(200);
  EXPECT_EQ(held_.sent(), 2u);
  EXPECT_EQ(engine_->ready(), 0);
  // Nothing is lost: it is claimed again once its lease ends.
  clock_.advance_ms(default_lease_ms(Timeouts{}));
  engine_->wake();
  ASSERT_TRUE(eventually([&] { return held_.in_flight() > 0; }));
  held_.answer(200);
  ASSERT_TRUE(eventually([&] { return batches(BatchState::kDelivered).size() == 3; }));
  EXPECT_EQ(held_.sent(), 3u);
}

}  // namespace
}  // namespace growhook
