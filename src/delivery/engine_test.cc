// The delivery engine against the real SQLite store, a fake transport and a
// fake clock: the whole retry schedule, with a restart in the middle of it.
// No test waits for real time to pass: the engine sleeps on the fake clock,
// a test moves the clock or answers a request, and then waits until the
// engine has done what followed and sleeps again (settled).
#include "delivery/engine.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

#include "common/ids.h"
#include "domain/signature.h"
#include "store/failing_work_queue.h"
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

// Requests to URLs with "/hang" are held and never answered; the others
// get a fast 200 at once. Counts both.
class HangingTransport : public Transport {
 public:
  void send(OutgoingRequest request, Callback done) override {
    {
      std::lock_guard lock(mu_);
      if (request.url.find("/hang") != std::string::npos) {
        held_.push_back(std::move(done));
        return;
      }
      answered_++;
    }
    TransportResult r;
    r.status_code = 200;
    r.duration_ms = 2;
    done(r);
  }
  int in_flight() const override {
    std::lock_guard lock(mu_);
    return static_cast<int>(held_.size());
  }
  void stop() override {}
  size_t answered() const {
    std::lock_guard lock(mu_);
    return answered_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Callback> held_;
  size_t answered_ = 0;
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
  // Starts an engine and waits until its first turns are done and it sleeps.
  void start_engine(Transport* transport = nullptr, int per_webhook = 4, int ready_ahead = 64,
                    WorkQueue* queue = nullptr) {
    DeliveryOptions o;
    o.per_webhook_in_flight = per_webhook;
    o.max_in_flight = max_in_flight_;
    o.ready_ahead = ready_ahead;
    o.owner = "test";
    o.idle_poll_ms = 5;
    o.record_delay_ms = record_delay_ms_;
    o.retry.jitter = 0;  // exact schedule
    o.seed = 1;
    const int64_t waits = clock_.waits_begun();
    engine_ = std::make_unique<DeliveryEngine>(queue ? *queue : *store_, transport ? *transport : transport_, clock_,
                                               metrics_, o);
    engine_->start();
    ASSERT_TRUE(clock_.await_waits(waits + 1)) << "the engine never went to sleep";
  }
  // Does f, which wakes the engine (an answer, new events), and waits until
  // the engine has done what follows and sleeps again.
  void settled(const std::function<void()>& f) {
    const int64_t waits = clock_.waits_begun();
    f();
    ASSERT_TRUE(clock_.await_waits(waits + 1)) << "the engine did not come back to sleep";
  }
  // Moves the fake time on while the engine sleeps; when that ends its
  // sleep (a retry or an idle poll came due), waits until it has turned at
  // the new time and sleeps again.
  void advance(int64_t ms) {
    ASSERT_TRUE(clock_.await_sleepers(1)) << "the engine is not asleep";
    const int64_t waits = clock_.waits_begun();
    if (clock_.advance_ms(ms) > 0) {
      ASSERT_TRUE(clock_.await_waits(waits + 1));
    }
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

  int max_in_flight_ = 256;
  int64_t record_delay_ms_ = 0;
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
  ASSERT_EQ(transport_.sent(), 1u);
  // Nothing happens before the first delay has passed.
  advance(9'999);
  EXPECT_EQ(transport_.sent(), 1u);
  advance(1);
  ASSERT_EQ(transport_.sent(), 2u);
  ASSERT_EQ(batches(BatchState::kPending).size(), 1u);
  ASSERT_EQ(batches(BatchState::kPending)[0].cycle_attempts, 2);

  // Restart in the middle of the schedule: the next attempt keeps its time.
  engine_->stop();
  engine_.reset();
  ASSERT_TRUE(store_->release_leases("").ok());
  start_engine();
  advance(59'999);
  EXPECT_EQ(transport_.sent(), 2u);
  advance(1);
  ASSERT_EQ(transport_.sent(), 3u);
  advance(300'000);
  ASSERT_EQ(transport_.sent(), 4u);
  ASSERT_EQ(batches(BatchState::kFailed).size(), 1u);
  auto failed = batches(BatchState::kFailed)[0];
  ASSERT_EQ(failed.attempts.size(), 4u);
  EXPECT_FALSE(failed.next_attempt_at_ms.has_value());
  // And nothing more, however long we wait.
  advance(86'400'000);
  EXPECT_EQ(transport_.sent(), 4u);
  EXPECT_EQ(metrics_.batches_failed.load(), 1u);
}

TEST_F(EngineTest, DeliversSignedBatchesAndRecordsThem) {
  transport_.set_status(204);
  ingest("a");
  ingest("b");
  start_engine();
  ASSERT_GE(batches(BatchState::kDelivered).size(), 1u);
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
  // A webhook that has not answered yet gets one request (fair_share.h),
  // and nothing claimed ahead.
  ASSERT_EQ(held_.sent(), 1u);
  EXPECT_EQ(engine_->ready(), 0);
  // A fast answer: its limit grows to two, two more are claimed and ready, and each
  // answer sends the next one from inside its callback, before the loop
  // has turned.
  settled([&] { held_.answer(200); });
  ASSERT_EQ(held_.sent(), 3u);
  ASSERT_EQ(engine_->ready(), 2);
  settled([&] {
    held_.answer(200);
    EXPECT_EQ(held_.sent(), 4u);
  });
  settled([&] {
    held_.answer(200);
    EXPECT_EQ(held_.sent(), 5u);
  });
  // The rest follow; everything is delivered once, never more than two at once.
  for (int answered = 3; answered < 10; ++answered) {
    ASSERT_GT(held_.in_flight(), 0);
    EXPECT_LE(held_.in_flight(), 2);
    settled([&] { held_.answer(200); });
  }
  ASSERT_EQ(batches(BatchState::kDelivered).size(), 10u);
  EXPECT_EQ(held_.sent(), 10u);
}

TEST_F(EngineTest, NothingIsClaimedAheadForAWebhookThatAnswersSlowly) {
  one_event_batches();
  for (int i = 0; i < 6; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/2, /*ready_ahead=*/4);
  // A slow answer keeps its limit at one (delivery/fair_share.h).
  for (int answered = 0; answered < 6; ++answered) {
    ASSERT_EQ(held_.in_flight(), 1);
    EXPECT_EQ(engine_->ready(), 0) << "after " << answered << " answers";
    settled([&] { held_.answer(200, /*duration_ms=*/1'000); });
  }
  ASSERT_EQ(batches(BatchState::kDelivered).size(), 6u);
  EXPECT_EQ(held_.sent(), 6u);
}

TEST_F(EngineTest, AGoneAnswerStopsTheReadyBatchesOfItsWebhook) {
  one_event_batches();
  for (int i = 0; i < 8; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/2, /*ready_ahead=*/4);
  ASSERT_EQ(held_.sent(), 1u);
  settled([&] { held_.answer(200); });
  ASSERT_EQ(held_.sent(), 3u);
  ASSERT_EQ(engine_->ready(), 2);
  settled([&] {
    held_.answer(410);
    EXPECT_EQ(engine_->ready(), 0);
  });
  settled([&] { held_.answer(200); });
  EXPECT_EQ(held_.sent(), 3u) << "nothing more goes to a webhook that answered 410";
  auto w = store_->get_webhook("acc_1", "wh_1");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->enabled);
}

TEST_F(EngineTest, AReadyBatchThatWaitedTooLongGoesWhenItsLeaseEnds) {
  one_event_batches();
  for (int i = 0; i < 3; ++i) ingest("e" + std::to_string(i));
  start_engine(&held_, /*per_webhook=*/1, /*ready_ahead=*/4);
  ASSERT_EQ(held_.sent(), 1u);
  settled([&] { held_.answer(200); });
  ASSERT_EQ(held_.sent(), 2u);
  ASSERT_EQ(engine_->ready(), 1);
  // The receiver now takes over a second: the ready batch is not sent on
  // the webhook's configuration of a second ago.
  advance(1'001);
  settled([&] {
    held_.answer(200);
    EXPECT_EQ(held_.sent(), 2u);
    EXPECT_EQ(engine_->ready(), 0);
  });
  // Nothing is lost: it is claimed again once its lease ends.
  advance(default_lease_ms(Timeouts{}));
  ASSERT_GT(held_.in_flight(), 0);
  settled([&] { held_.answer(200); });
  ASSERT_EQ(batches(BatchState::kDelivered).size(), 3u);
  EXPECT_EQ(held_.sent(), 3u);
}

// The work queue fails the turn that records a delivery: the outcome stays
// with the engine, which says so in its readiness, and records it in a
// later turn; the batch is not sent again meanwhile (its lease holds).
TEST_F(EngineTest, AFailedTurnKeepsItsOutcomesAndRecordsThemLater) {
  transport_.set_status(204);
  ingest("e1");
  // Write 1 claims and sends; write 2 would record the 204.
  FailingWorkQueue failing(*store_, /*fail_at=*/2);
  start_engine(nullptr, 4, 64, &failing);
  ASSERT_EQ(transport_.sent(), 1u);
  EXPECT_EQ(failing.writes(), 2);
  EXPECT_FALSE(engine_->last_turn_ok());
  EXPECT_EQ(metrics_.store_errors.load(), 1u);
  EXPECT_EQ(batches(BatchState::kPending).size(), 1u) << "nothing was recorded";
  // The engine tries again after its store_retry_ms (500 ms).
  advance(499);
  EXPECT_EQ(batches(BatchState::kPending).size(), 1u);
  advance(1);
  EXPECT_TRUE(engine_->last_turn_ok());
  auto delivered = batches(BatchState::kDelivered);
  ASSERT_EQ(delivered.size(), 1u);
  ASSERT_EQ(delivered[0].attempts.size(), 1u);
  EXPECT_EQ(delivered[0].attempts[0].status_code, 204);
  EXPECT_EQ(transport_.sent(), 1u) << "sent once";
}

}  // namespace
}  // namespace growhook

namespace growhook {
namespace {

// Issue 12: with a fixed bound a webhook, max_in_flight / per_webhook
// hanging receivers took every slot and the healthy webhook got none.
TEST_F(EngineTest, HangingWebhooksLeaveTheFastOneItsSlots) {
  one_event_batches();
  max_in_flight_ = 8;
  HangingTransport transport;
  ingest("warm-up");
  start_engine(&transport, /*per_webhook=*/4, /*ready_ahead=*/0);
  ASSERT_EQ(transport.answered(), 1u);  // wh_1 answered fast once
  for (int i = 0; i < 20; ++i) {
    Webhook w = webhook_;
    w.id = "wh_hang_" + std::to_string(i);
    w.url = "http://127.0.0.1:9/hang";
    ASSERT_TRUE(store_->create_webhook(w).ok());
  }
  // Every event goes to wh_1 and to the 20 webhooks that never answer.
  for (int i = 0; i < 30; ++i) {
    settled([&] {
      ingest("e" + std::to_string(i));
      engine_->wake();
    });
    advance(600);  // and time passes: the hanging ones are failing soon
  }
  EXPECT_EQ(transport.answered(), 31u) << "every event reached the fast webhook";
  EXPECT_EQ(transport.in_flight(), 4) << "the webhooks that never answered hold half of max_in_flight";
}

}  // namespace
}  // namespace growhook

namespace growhook {
namespace {

// record_delay_ms: a delivered batch whose webhook had room is recorded with
// the next turn that happens anyway, or once the delay has passed; one at
// its limit is recorded at once, since the turn that records it claims what
// its limit held back.
TEST_F(EngineTest, ADeliveredBatchWithRoomIsRecordedWithTheNextClaimOrAfterTheDelay) {
  record_delay_ms_ = 50;
  max_in_flight_ = 8;
  one_event_batches();
  start_engine(&held_, 4, 0);
  // A new webhook gets 1 request at a time (slow start): at its limit, the
  // first answer is recorded at once, and its fast 2xx makes the limit 2.
  ingest("w");
  settled([&] { engine_->wake(); });
  settled([&] { held_.answer(200); });
  ASSERT_EQ(batches(BatchState::kDelivered).size(), 1u);
  ingest("a");
  settled([&] { engine_->wake(); });
  ASSERT_EQ(held_.sent(), 2u);
  // Answered with room for a second request: not recorded yet, its lease
  // holds.
  settled([&] { held_.answer(200); });
  EXPECT_EQ(batches(BatchState::kDelivered).size(), 1u);
  // The next event's turn records it and claims the new batch.
  ingest("b");
  settled([&] { engine_->wake(); });
  EXPECT_EQ(batches(BatchState::kDelivered).size(), 2u);
  ASSERT_EQ(held_.sent(), 3u);
  // Nothing else comes: recorded once the delay has passed.
  settled([&] { held_.answer(200); });
  EXPECT_EQ(batches(BatchState::kDelivered).size(), 2u);
  advance(50);
  EXPECT_EQ(batches(BatchState::kDelivered).size(), 3u);
}

TEST_F(EngineTest, ADeliveredBatchOfAWebhookAtItsLimitIsRecordedAtOnce) {
  record_delay_ms_ = 50;
  one_event_batches();
  ingest("a");
  ingest("b");
  start_engine(&held_, 1, 0);  // one request at a time: b waits for a
  ASSERT_EQ(held_.sent(), 1u);
  settled([&] { held_.answer(200); });
  EXPECT_EQ(batches(BatchState::kDelivered).size(), 1u);
  EXPECT_EQ(held_.sent(), 2u);
  // A failure is recorded at once too (its retry is scheduled by it).
  settled([&] { held_.answer(500); });
  EXPECT_EQ(batches(BatchState::kPending).size(), 1u);
  EXPECT_EQ(batches(BatchState::kPending)[0].cycle_attempts, 1);
}

}  // namespace
}  // namespace growhook
