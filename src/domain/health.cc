#include "domain/health.h"

#include <algorithm>

#include "domain/timestamp.h"

namespace growhook {

int64_t probe_interval_ms(int n, double rand01, const HealthConfig& config) {
  const int64_t cap = std::max<int64_t>(config.probe_max_interval_ms, 1);
  int64_t base = std::min(std::max<int64_t>(config.probe_first_interval_ms, 1), cap);
  for (int i = 0; i < n && base < cap; ++i) base = std::min(base * 2, cap);
  const double scaled = static_cast<double>(base) * (1.0 + config.jitter * (2.0 * rand01 - 1.0));
  return std::clamp<int64_t>(static_cast<int64_t>(scaled), 1, cap);
}

std::string failing_disabled_reason(int64_t failing_since_ms, const std::string& last_error) {
  return "failing since " + format_timestamp(failing_since_ms) + "; last error: " +
         (last_error.empty() ? std::string("unknown") : last_error);
}

const char* to_string(HealthChange c) {
  switch (c) {
    case HealthChange::kFailing: return "failing";
    case HealthChange::kDisabled: return "disabled";
    case HealthChange::kRecovered: return "recovered";
    case HealthChange::kNone: break;
  }
  return "";
}

namespace {

// The next probe after a failed attempt: the receiver's Retry-After within
// its cap wins over the backoff.
int64_t next_probe_at(const WebhookHealth& h, const AttemptReport& r, const HealthConfig& config) {
  if (r.retry_after_ms && *r.retry_after_ms >= 0)
    return r.at_ms + std::min(*r.retry_after_ms, config.retry_after_cap_ms);
  return r.at_ms + probe_interval_ms(h.probe_count, r.rand01, config);
}

}  // namespace

HealthStep observe(const WebhookHealth& h, const AttemptReport& r, const HealthConfig& config) {
  HealthStep step;
  if (r.success) {
    // Healthy again: the backlog flows, nothing of the outage is kept.
    step.change = h.failing() ? HealthChange::kRecovered : HealthChange::kNone;
    return step;
  }
  WebhookHealth next = h;
  next.last_error = r.error;
  next.failure_streak = h.failure_streak + 1;
  if (r.gone) {
    next.failing_since_ms = h.failing_since_ms.value_or(r.at_ms);
    step.health = next;
    step.change = HealthChange::kDisabled;
    step.disabled_reason = r.error;  // the caller says when and why (retry_policy)
    return step;
  }
  if (!h.failing()) {
    step.health = next;
    if (!r.batch_failed && next.failure_streak < config.attempts_to_fail) return step;
    step.health.failing_since_ms = r.at_ms;
    step.health.probe_count = 0;
    step.health.next_probe_at_ms = next_probe_at(step.health, r, config);
    step.change = HealthChange::kFailing;
    return step;
  }
  next.probe_count = h.probe_count + 1;
  if (r.at_ms - *h.failing_since_ms >= config.disable_after_ms) {
    step.health = next;
    step.change = HealthChange::kDisabled;
    step.disabled_reason = failing_disabled_reason(*h.failing_since_ms, r.error);
    return step;
  }
  next.next_probe_at_ms = next_probe_at(next, r, config);
  step.health = next;
  return step;
}

}  // namespace growhook
