#include "delivery/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "domain/timestamp.h"

namespace growhook {

DeliveryEngine::DeliveryEngine(Store& store, Transport& transport, const Clock& clock, Metrics& metrics,
                               DeliveryOptions options)
    : store_(store),
      transport_(transport),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      rng_(options_.seed ? options_.seed : std::random_device{}()) {}

DeliveryEngine::~DeliveryEngine() { stop(0); }

void DeliveryEngine::start() {
  last_turn_mono_ms_ = clock_.mono_ms();
  thread_ = std::thread([this] { run(); });
}

void DeliveryEngine::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void DeliveryEngine::stop(int64_t grace_ms) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Let requests in flight finish within the grace period, then record them.
  int64_t deadline = clock_.mono_ms() + grace_ms;
  std::unique_lock lock(mu_);
  while (in_flight_total_ > 0 && clock_.mono_ms() < deadline) {
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  std::vector<AttemptOutcome> outcomes(std::make_move_iterator(done_.begin()), std::make_move_iterator(done_.end()));
  done_.clear();
  lock.unlock();
  if (!outcomes.empty()) {
    if (auto s = store_.record_outcomes(outcomes); !s.ok()) {
      spdlog::error("msg=\"could not record attempts at shutdown; their batches will be sent again\" error=\"{}\"",
                    s.error().message);
    }
  }
}

void DeliveryEngine::run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    bool more = turn();
    metrics_.delivery_loop_turns++;
    last_turn_mono_ms_ = clock_.mono_ms();
    if (!more) sleep_until_work();
  }
}

bool DeliveryEngine::turn() {
  std::vector<AttemptOutcome> outcomes;
  ClaimRequest req;
  {
    std::lock_guard lock(mu_);
    woken_ = false;
    outcomes.assign(std::make_move_iterator(done_.begin()), std::make_move_iterator(done_.end()));
    done_.clear();
    req.in_flight = in_flight_;
    req.max_batches = options_.max_in_flight - in_flight_total_;
  }
  if (!outcomes.empty()) {
    if (auto s = store_.record_outcomes(outcomes); !s.ok()) {
      // Keep them: they are recorded on the next turn. Until then their
      // leases hold, so nobody sends those batches again.
      metrics_.store_errors++;
      last_turn_ok_ = false;
      spdlog::error("msg=\"recording attempts failed; will retry\" error=\"{}\"", s.error().message);
      std::lock_guard lock(mu_);
      for (auto it = outcomes.rbegin(); it != outcomes.rend(); ++it) done_.push_front(std::move(*it));
      return false;
    }
  }
  if (req.max_batches <= 0) return false;
  req.now_ms = clock_.now_ms();
  req.owner = options_.owner;
  req.lease_ms = options_.lease_ms > 0 ? options_.lease_ms : default_lease_ms(options_.timeouts);
  req.per_webhook_limit = options_.per_webhook_in_flight;
  req.max_batch_bytes = options_.max_batch_bytes;
  auto claims = store_.claim_work(req);
  if (!claims.ok()) {
    metrics_.store_errors++;
    last_turn_ok_ = false;
    spdlog::error("msg=\"claiming work failed; will retry\" error=\"{}\"", claims.error().message);
    return false;
  }
  last_turn_ok_ = true;
  for (auto& c : *claims) dispatch(std::move(c));
  // Either every slot is taken (a completion wakes us) or there was no more
  // work to claim (ingestion or a timer wakes us): sleep in both cases.
  return false;
}

void DeliveryEngine::dispatch(ClaimedBatch claim) {
  {
    std::lock_guard lock(mu_);
    in_flight_[claim.webhook.id]++;
    in_flight_total_++;
  }
  metrics_.in_flight++;
  if (claim.batch.cycle_attempts == 0 && claim.batch.attempts.empty()) metrics_.batches_created++;
  int64_t started = clock_.now_ms();
  auto req = build_request(claim.webhook, claim.batch.id, claim.events_json, false, started, options_.timeouts);
  claim.events_json.clear();
  claim.events_json.shrink_to_fit();
  auto shared = std::make_shared<ClaimedBatch>(std::move(claim));
  transport_.send(std::move(req), [this, shared, started](TransportResult r) { on_result(*shared, started, std::move(r)); });
}

void DeliveryEngine::on_result(ClaimedBatch& claim, int64_t started_ms, TransportResult r) {
  int64_t now = clock_.now_ms();
  AttemptOutcome o;
  o.batch_id = claim.batch.id;
  o.webhook_id = claim.webhook.id;
  o.owner = options_.owner;
  o.attempt.at_ms = started_ms;
  o.attempt.status_code = r.status_code;
  o.attempt.duration_ms = r.duration_ms;
  o.attempt.error = describe_failure(r);
  o.attempt.response_body = r.body.substr(0, 1024);
  metrics_.attempt_duration.observe(static_cast<double>(r.duration_ms) / 1000.0);
  Decision d;
  {
    std::lock_guard lock(mu_);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    d = decide(r, claim.batch.cycle_attempts + 1, now, options_.retry, [&] { return u(rng_); });
  }
  switch (d.kind) {
    case Decision::Kind::kDelivered:
      o.new_state = BatchState::kDelivered;
      metrics_.attempts_ok++;
      metrics_.batches_delivered++;
      metrics_.events_delivered += static_cast<uint64_t>(claim.batch.event_count);
      if (claim.oldest_event_created_ms > 0)
        metrics_.ingest_to_delivery.observe(static_cast<double>(now - claim.oldest_event_created_ms) / 1000.0);
      break;
    case Decision::Kind::kRetry:
      o.new_state = BatchState::kPending;
      o.next_attempt_at_ms = d.retry_at_ms;
      break;
    case Decision::Kind::kFailed:
      o.new_state = BatchState::kFailed;
      metrics_.batches_failed++;
      if (d.disable_webhook) {
        o.disable_reason = "disabled at " + format_timestamp(now) + ": " + d.reason;
        metrics_.webhooks_disabled++;
      }
      spdlog::warn("msg=\"batch failed\" batch={} webhook={} reason=\"{}\"", o.batch_id, o.webhook_id, d.reason);
      break;
  }
  if (d.kind != Decision::Kind::kDelivered) {
    if (r.error_kind == TransportErrorKind::kNone) metrics_.attempts_http_error++;
    else metrics_.attempts_transport_error++;
  }
  metrics_.in_flight--;
  {
    std::lock_guard lock(mu_);
    done_.push_back(std::move(o));
    if (--in_flight_[claim.webhook.id] <= 0) in_flight_.erase(claim.webhook.id);
    in_flight_total_--;
    woken_ = true;
  }
  cv_.notify_all();
}

void DeliveryEngine::sleep_until_work() {
  int64_t wait_ms = options_.idle_poll_ms;
  if (!last_turn_ok_) wait_ms = options_.store_retry_ms;
  auto due = store_.next_due_ms(clock_.now_ms());
  // A due time in the past means a due batch waits for its webhook's slot:
  // a completion wakes us then, so the idle poll is enough.
  if (due.ok() && *due && **due > clock_.now_ms()) wait_ms = std::min<int64_t>(**due - clock_.now_ms(), wait_ms);
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)),
               [&] { return woken_ || stopping_; });
}

}  // namespace growhook
