#include "delivery/fair_share.h"

#include "delivery/retry_policy.h"

namespace growhook {

namespace {
// A bound on the webhooks remembered: beyond it the idle ones are forgotten
// (they start again at level 1, kUnproven).
constexpr size_t kMaxWebhooks = 100'000;
}  // namespace

void FairShare::on_send(const std::string& webhook_id, int64_t mono_ms) {
  if (webhooks_.size() >= kMaxWebhooks && !webhooks_.contains(webhook_id)) forget_idle();
  State& s = webhooks_[webhook_id];
  if (s.in_flight++ == 0) {
    s.waiting_since = mono_ms;
    busy_.insert(webhook_id);
  }
  total_++;
}

void FairShare::on_answer(const std::string& webhook_id, const TransportResult& r, int64_t mono_ms) {
  auto it = webhooks_.find(webhook_id);
  if (it == webhooks_.end()) return;
  State& s = it->second;
  if (s.in_flight > 0) {
    s.in_flight--;
    total_--;
  }
  if (s.in_flight == 0) busy_.erase(webhook_id);
  s.waiting_since = mono_ms;
  const State before = s;
  const bool fast = r.duration_ms <= config_.fast_answer_ms;
  if (is_success(r) && fast) {
    s.last = Standing::kFast;
    s.level = std::min(s.level + 1, std::max(1, config_.per_webhook_in_flight));
  } else {
    s.last = is_success(r) ? Standing::kUnproven : Standing::kFailing;
    s.level = 1;
  }
  if (s.last != before.last || s.level != before.level) changed_.insert(webhook_id);
}

Standing FairShare::standing_of(const State& s, int64_t mono_ms) const {
  if (s.in_flight > 0 && mono_ms - s.waiting_since > config_.slow_after_ms) return Standing::kFailing;
  return s.last;
}

Standing FairShare::standing(const std::string& webhook_id, int64_t mono_ms) const {
  auto it = webhooks_.find(webhook_id);
  return it == webhooks_.end() ? Standing::kUnproven : standing_of(it->second, mono_ms);
}

int FairShare::limit(const std::string& webhook_id, int64_t mono_ms) const {
  auto it = webhooks_.find(webhook_id);
  if (it == webhooks_.end()) return 1;
  return standing_of(it->second, mono_ms) == Standing::kFailing ? 1 : it->second.level;
}

int FairShare::in_flight(const std::string& webhook_id) const {
  auto it = webhooks_.find(webhook_id);
  return it == webhooks_.end() ? 0 : it->second.in_flight;
}

void FairShare::lanes(int64_t mono_ms, int& unproven, int& failing) const {
  unproven = failing = 0;
  for (const auto& id : busy_) {
    const State& s = webhooks_.at(id);
    Standing st = standing_of(s, mono_ms);
    if (st != Standing::kFast) unproven += s.in_flight;
    if (st == Standing::kFailing) failing += s.in_flight;
  }
}

bool FairShare::may_send(const std::string& webhook_id, int64_t mono_ms) const {
  if (total_ >= config_.max_in_flight) return false;
  if (in_flight(webhook_id) >= limit(webhook_id, mono_ms)) return false;
  Standing st = standing(webhook_id, mono_ms);
  if (st == Standing::kFast) return true;
  int unproven, failing;
  lanes(mono_ms, unproven, failing);
  return unproven < unproven_cap() && (st != Standing::kFailing || failing < failing_cap());
}

void FairShare::put(WebhookShares& shares, const std::string& id, const State* s, bool ahead) const {
  shares.fast.erase(id);
  shares.failing.erase(id);
  shares.limits.erase(id);
  if (!s) return;
  int lim = s->last == Standing::kFailing ? 1 : s->level;
  if (s->last == Standing::kFast) {
    shares.fast.insert(id);
    if (ahead) lim *= 2;
  } else if (s->last == Standing::kFailing) {
    shares.failing.insert(id);
  }
  if (lim != ShareBudget{}.default_limit) shares.limits[id] = lim;
}

ShareBudget FairShare::budget(int64_t mono_ms, bool ahead) {
  ShareBudget b;
  // From the last answers; who hangs now is added below.
  if (!shares_ || shares_ahead_ != ahead || (!changed_.empty() && shares_.use_count() > 1)) {
    auto shares = std::make_shared<WebhookShares>();
    for (const auto& [id, s] : webhooks_) put(*shares, id, &s, ahead);
    shares_ = std::move(shares);
    shares_ahead_ = ahead;
  } else {
    for (const auto& id : changed_) {
      auto it = webhooks_.find(id);
      put(*shares_, id, it == webhooks_.end() ? nullptr : &it->second, ahead);
    }
  }
  changed_.clear();
  b.shares = shares_;
  for (const auto& id : busy_) {
    if (standing_of(webhooks_.at(id), mono_ms) == Standing::kFailing) b.hanging.insert(id);
  }
  int unproven, failing;
  lanes(mono_ms, unproven, failing);
  b.max_unproven = std::max(0, unproven_cap() - unproven);
  b.max_failing = std::min(b.max_unproven, std::max(0, failing_cap() - failing));
  return b;
}

void FairShare::forget_idle() {
  shares_.reset();
  changed_.clear();
  for (auto it = webhooks_.begin(); it != webhooks_.end();) {
    it = it->second.in_flight == 0 ? webhooks_.erase(it) : std::next(it);
  }
}

}  // namespace growhook
