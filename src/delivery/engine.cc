#include "delivery/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/thread_name.h"

namespace growhook {

namespace {
constexpr int64_t kMaxReadyWaitMs = 1'000;
constexpr int64_t kDueReuseMs = 50;
}  // namespace

DeliveryEngine::DeliveryEngine(WorkQueue& queue, Transport& transport, const Clock& clock, Metrics& metrics,
                               DeliveryOptions options)
    : queue_(queue),
      transport_(transport),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      lease_ms_(lease_ms_or_default(options_.lease_ms, options_.timeouts)),
      fair_(FairShareConfig{options_.max_in_flight, options_.per_webhook_in_flight, options_.fast_answer_ms,
                            options_.slow_after_ms}),
      rng_(options_.seed ? options_.seed : std::random_device{}()) {}

DeliveryEngine::~DeliveryEngine() { stop(0); }

void DeliveryEngine::start() {
  // Waking once a pass, with every result of the pass queued, gives the
  // loop's turn (a transaction) all of them instead of the first one.
  wake_per_pass_ = transport_.set_pass_hook([this] {
    {
      std::lock_guard lock(mu_);
      if (!woken_ && !deferral_begun_) return;
      deferral_begun_ = false;
    }
    cv_.notify_all();
  });
  last_turn_mono_ms_ = clock_.mono_ms();
  thread_ = std::thread([this] {
    name_this_thread("gh-delivery");
    run();
  });
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
  // The loop's last turn sent what it claimed for free slots (stopping only
  // stops the next turn). Batches claimed ahead stay unsent and keep their
  // lease, like those still in flight after the grace period.
  int64_t deadline = clock_.mono_ms() + grace_ms;
  std::unique_lock lock(mu_);
  ready_.clear();
  ready_total_ = 0;
  // Let requests in flight finish within the grace period, then record them.
  // (In steps of 20 ms at most: a completion notifies, but a lost
  // notification must not hold shutdown for the whole grace period.)
  while (in_flight_total_ > 0 && clock_.mono_ms() < deadline) {
    clock_.wait_for(lock, cv_, std::min<int64_t>(20, deadline - clock_.mono_ms()), [&] { return in_flight_total_ == 0; });
  }
  std::vector<AttemptOutcome> outcomes(std::make_move_iterator(done_.begin()), std::make_move_iterator(done_.end()));
  done_.clear();
  lock.unlock();
  if (!outcomes.empty()) {
    if (auto s = queue_.record_outcomes(outcomes); !s.ok()) {
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
    turn();
    metrics_.delivery_loop_turns++;
    last_turn_mono_ms_ = clock_.mono_ms();
    // Either every slot is taken (a completion wakes us) or there was no
    // more work to claim (ingestion or a timer wakes us): sleep in both
    // cases, unless something woke us during the turn.
    sleep_until_work();
  }
}

void DeliveryEngine::turn() {
  std::vector<AttemptOutcome> outcomes;
  ClaimRequest req;
  {
    std::lock_guard lock(mu_);
    woken_ = false;
    outcomes.assign(std::make_move_iterator(done_.begin()), std::make_move_iterator(done_.end()));
    done_.clear();
    deferred_since_mono_ms_ = -1;
    // Claimed and not finished: in flight, or ready for a slot.
    req.in_flight = in_flight_;
    for (const auto& [id, q] : ready_) req.in_flight[id] += static_cast<int>(q.size());
    req.max_batches = options_.max_in_flight + options_.ready_ahead - in_flight_total_ - ready_total_;
    // The limits and lanes of fair capacity (delivery/fair_share.h): a
    // snapshot made again only when a standing changed, so a turn beside
    // thousands of quiet webhooks copies nothing (issue 12).
    ShareBudget b = fair_.budget(clock_.mono_ms(), options_.ready_ahead > 0);
    req.per_webhook_in_flight = b.default_limit;
    req.shares = std::move(b.shares);
    req.hanging = std::move(b.hanging);
    req.max_unproven = b.max_unproven;
    req.max_failing = b.max_failing;
  }
  // Keeps the outcomes for the next turn. Until they are recorded their
  // leases hold, so nobody sends those batches again.
  auto keep = [&](const Error& e, const char* what) {
    metrics_.store_errors++;
    last_turn_ok_ = false;
    spdlog::error("msg=\"{}; will retry\" error=\"{}\"", what, e.message);
    std::lock_guard lock(mu_);
    for (auto it = outcomes.rbegin(); it != outcomes.rend(); ++it) done_.push_front(std::move(*it));
  };
  if (req.max_batches <= 0) {
    {
      std::lock_guard lock(mu_);
      last_claim_full_ = true;
    }
    if (outcomes.empty()) return;
    if (auto s = queue_.record_outcomes(outcomes); !s.ok()) keep(s.error(), "recording attempts failed");
    return;
  }
  req.now_ms = clock_.now_ms();
  req.owner = options_.owner;
  req.lease_ms = lease_ms_;
  req.max_batch_bytes = options_.max_batch_bytes;
  // Recording what came back and claiming the next work share a turn (and,
  // where the store can, a transaction).
  auto claims = queue_.record_and_claim(outcomes, req);
  if (!claims.ok()) {
    keep(claims.error(), "recording attempts or claiming work failed");
    return;
  }
  last_turn_ok_ = true;
  {
    std::lock_guard lock(mu_);
    last_claim_full_ = static_cast<int>(claims->size()) >= req.max_batches;
  }
  queue_claims(std::move(*claims));
}

void DeliveryEngine::queue_claims(std::vector<ClaimedBatch> claims) {
  if (claims.empty()) return;
  std::vector<Ready> built;
  built.reserve(claims.size());
  const int64_t mono = clock_.mono_ms();
  for (auto& c : claims) {
    Ready r;
    r.request = build_request(c.webhook, c.batch.id, c.events_json, false, clock_.now_ms(), options_.timeouts);
    c.events_json.clear();
    c.events_json.shrink_to_fit();
    r.claim = std::make_shared<ClaimedBatch>(std::move(c));
    r.claimed_mono_ms = mono;
    built.push_back(std::move(r));
  }
  std::vector<Ready> now;
  {
    std::lock_guard lock(mu_);
    for (auto& r : built) {
      ready_[r.claim->webhook.id].push_back(std::move(r));
      ready_total_++;
    }
    take_sendable_locked(std::string(), now);
  }
  for (auto& r : now) send(std::move(r));
}

void DeliveryEngine::take_sendable_locked(const std::string& first, std::vector<Ready>& out) {
  // A batch that waited longer than kMaxReadyWaitMs (its webhook's requests
  // are slow) is left alone: it was built with the webhook as it was when
  // claimed, which may since have been edited or disabled, and its attempt
  // must end within its lease. It is due again when the lease ends.
  const int64_t max_wait =
      std::min<int64_t>(kMaxReadyWaitMs, lease_ms_ - options_.timeouts.connect_ms - options_.timeouts.total_ms);
  const int64_t mono = clock_.mono_ms();
  auto take_from = [&](const std::string& id, std::deque<Ready>& q) {
    int& n = in_flight_[id];
    while (!q.empty() && fair_.may_send(id, mono)) {
      Ready r = std::move(q.front());
      q.pop_front();
      ready_total_--;
      if (mono - r.claimed_mono_ms > max_wait) continue;
      n++;
      in_flight_total_++;
      fair_.on_send(id, mono);
      out.push_back(std::move(r));
    }
    if (n == 0) in_flight_.erase(id);
  };
  if (!first.empty()) {
    auto it = ready_.find(first);
    if (it != ready_.end()) {
      take_from(first, it->second);
      if (it->second.empty()) ready_.erase(it);
    }
  }
  for (auto it = ready_.begin(); it != ready_.end() && in_flight_total_ < options_.max_in_flight;) {
    take_from(it->first, it->second);
    it = it->second.empty() ? ready_.erase(it) : std::next(it);
  }
}

void DeliveryEngine::send(Ready r) {
  metrics_.in_flight++;
  // Counted when first sent: a batch claimed ahead and left for its lease is
  // claimed again later, still without an attempt.
  if (r.claim->batch.cycle_attempts == 0 && r.claim->batch.attempts.empty()) metrics_.batches_created++;
  int64_t started = clock_.now_ms();
  auto claim = std::move(r.claim);
  transport_.send(std::move(r.request),
                  [this, claim, started](TransportResult result) { on_result(*claim, started, std::move(result)); });
}

void DeliveryEngine::on_result(ClaimedBatch& claim, int64_t started_ms, TransportResult r) {
  const int64_t now = clock_.now_ms();
  AttemptOutcome o;
  o.batch_id = claim.batch.id;
  o.webhook_id = claim.webhook.id;
  o.owner = options_.owner;
  o.attempt_number = claim.next_attempt_number;
  o.by_contact = claim.by_contact;
  o.attempt = {started_ms, r.status_code, r.duration_ms, describe_failure(r), r.body.substr(0, 1024)};
  Decision d;
  {
    std::lock_guard lock(mu_);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    d = decide(r, claim.batch.cycle_attempts + 1, now, options_.retry, [&] { return u(rng_); });
    o.rand01 = u(rng_);
  }
  // A batch cut while its webhook fails is a probe: a failure leaves it pending.
  if (is_probe(claim.webhook.health, claim.batch.created_at_ms)) d = as_probe(std::move(d), now);
  apply_decision(d, now, o);
  o.retry_after_ms = retry_after_of(r, now);
  o.health = options_.health;
  count_attempt(claim, r, d, now);
  std::vector<Ready> next;
  bool wake = true;
  {
    std::lock_guard lock(mu_);
    const int64_t mono = clock_.mono_ms();
    // Room for one more beside this request: the last claim was not held
    // back by this webhook's limit or lane, so no turn is needed to claim
    // what it left (record_delay_ms).
    const bool defer = options_.record_delay_ms > 0 && std::holds_alternative<Delivered>(d) && !last_claim_full_ &&
                       ready_total_ == 0 && done_.size() < 64 && fair_.may_send(claim.webhook.id, mono);
    done_.push_back(std::move(o));
    if (--in_flight_[claim.webhook.id] <= 0) in_flight_.erase(claim.webhook.id);
    in_flight_total_--;
    if (defer) {
      // The sleeping loop shortens its sleep to the delay (one notify, no
      // turn); a turn for another reason records this too.
      wake = deferred_since_mono_ms_ < 0;
      if (wake) {
        deferred_since_mono_ms_ = mono;
        deferral_begun_ = true;
      }
    } else {
      woken_ = true;
    }
    fair_.on_answer(claim.webhook.id, r, mono);
    if (auto* failed = std::get_if<Failed>(&d); failed && failed->disable_webhook) {
      // 410 Gone: nothing more goes there. The batches that were ready keep
      // their leases until they end, and wait for the webhook to be enabled.
      if (auto it = ready_.find(claim.webhook.id); it != ready_.end()) {
        ready_total_ -= static_cast<int>(it->second.size());
        ready_.erase(it);
      }
    }
    // The freed slot takes a batch that is ready, without waiting for a turn.
    if (ready_total_ > 0) take_sendable_locked(claim.webhook.id, next);
  }
  if (wake && !wake_per_pass_) cv_.notify_all();
  for (auto& n : next) send(std::move(n));
}

void DeliveryEngine::count_attempt(const ClaimedBatch& claim, const TransportResult& r, const Decision& d,
                                   int64_t now) {
  metrics_.attempt_duration.observe(static_cast<double>(r.duration_ms) / 1000.0);
  metrics_.in_flight--;
  if (std::holds_alternative<Delivered>(d)) {
    metrics_.attempts_ok++;
    metrics_.batches_delivered++;
    metrics_.events_delivered += static_cast<uint64_t>(claim.batch.event_count);
    if (claim.oldest_event_created_ms > 0)
      metrics_.ingest_to_delivery.observe(static_cast<double>(now - claim.oldest_event_created_ms) / 1000.0);
    return;
  }
  if (r.error_kind == TransportErrorKind::kNone) metrics_.attempts_http_error++;
  else metrics_.attempts_transport_error++;
  if (const auto* failed = std::get_if<Failed>(&d)) {
    metrics_.batches_failed++;
    if (failed->disable_webhook) metrics_.webhooks_disabled++;
    spdlog::warn("msg=\"batch failed\" batch={} webhook={} reason=\"{}\"", claim.batch.id, claim.webhook.id,
                 failed->reason);
  }
}

void DeliveryEngine::sleep_until_work() {
  {
    // Woken during the turn (a completion, new events): turn again at once,
    // without asking the store when the next retry is due.
    std::lock_guard lock(mu_);
    if (woken_ || stopping_) return;
  }
  int64_t wait_ms = options_.idle_poll_ms;
  if (!last_turn_ok_) wait_ms = options_.store_retry_ms;
  // Asking the store reads every pending batch (leased ones included). While
  // requests are in flight their answers wake the loop anyway, often
  // hundreds of times a second: then an answer at most kDueReuseMs old is
  // used again (a retry scheduled meanwhile waits at most the idle poll).
  bool busy;
  {
    std::lock_guard lock(mu_);
    busy = in_flight_total_ > 0;
  }
  const int64_t mono = clock_.mono_ms();
  if (!busy || mono - due_asked_mono_ms_ >= kDueReuseMs) {
    auto due = queue_.next_due_ms();
    due_ = due.ok() ? *due : std::nullopt;
    due_asked_mono_ms_ = mono;
  }
  // A due time in the past means a due batch waits for its webhook's slot:
  // a completion wakes us then, so the idle poll is enough.
  if (due_ && *due_ > clock_.now_ms()) wait_ms = std::min<int64_t>(*due_ - clock_.now_ms(), wait_ms);
  wait_ms = std::max<int64_t>(wait_ms, 1);
  // Outcomes left for a later turn shorten the sleep to their delay; one
  // left while asleep wakes the wait to shorten it.
  std::unique_lock lock(mu_);
  const int64_t until = clock_.mono_ms() + wait_ms;
  while (!woken_ && !stopping_) {
    int64_t end = until;
    if (deferred_since_mono_ms_ >= 0) end = std::min(end, deferred_since_mono_ms_ + options_.record_delay_ms);
    const int64_t left = end - clock_.mono_ms();
    if (left <= 0) return;
    const int64_t seen = deferred_since_mono_ms_;
    clock_.wait_for(lock, cv_, left, [&] { return woken_ || stopping_ || deferred_since_mono_ms_ != seen; });
  }
}

}  // namespace growhook
