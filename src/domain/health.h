// A webhook's health, decided in one pure place: healthy → failing (a batch
// failed all its attempts, or attempts_to_fail attempts in a row failed) →
// disabled (failing for disable_after_ms, or a 410 Gone at once); failing →
// healthy on a 2xx. While failing, new batches are not cut and one probe at
// a time is sent, at growing jittered intervals up to probe_max_interval_ms.
//
// Pure: the time, the random draw and the stored state come in, the next
// state comes out. The state is stored with the webhook (both stores call
// observe() in the transaction that records the attempt), so every node and
// every restart agree: nothing here lives only in memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace growhook {

struct HealthConfig {
  int attempts_to_fail = 4;                   // failed attempts in a row that make a webhook failing
  int64_t disable_after_ms = 5LL * 86'400'000;  // failing that long: disabled
  int64_t probe_first_interval_ms = 1'000;    // the wait before the first probe; doubles each time
  int64_t probe_max_interval_ms = 300'000;    // the longest wait between two probes
  double jitter = 0.2;                        // each wait is scaled by 1 ± jitter (then capped)
  int64_t retry_after_cap_ms = 3'600'000;     // a Retry-After is honoured up to this
};

// What the store keeps of a webhook's health (columns of webhooks).
struct WebhookHealth {
  std::optional<int64_t> failing_since_ms;  // set while failing
  int failure_streak = 0;                   // failed attempts in a row
  int probe_count = 0;                      // failed attempts since it became failing
  int64_t next_probe_at_ms = 0;             // while failing: no attempt before this
  std::string last_error;                   // of the last failed attempt

  bool failing() const { return failing_since_ms.has_value(); }
  bool operator==(const WebhookHealth&) const = default;
};

// One attempt's result, as health sees it.
struct AttemptReport {
  int64_t at_ms = 0;           // when it ended
  bool success = false;        // a 2xx
  bool batch_failed = false;   // the batch's last attempt failed: marked failed
  bool gone = false;           // 410 Gone: the webhook is disabled at once
  std::string error;           // why it failed, for people
  std::optional<int64_t> retry_after_ms;  // the receiver's Retry-After, as a wait
  double rand01 = 0.5;         // a uniform draw in [0, 1) for the jitter
};

enum class HealthChange { kNone, kFailing, kDisabled, kRecovered };

struct HealthStep {
  WebhookHealth health;
  HealthChange change = HealthChange::kNone;
  std::string disabled_reason;  // when change is kDisabled
};

// The state after `report`, from the stored state `h`.
HealthStep observe(const WebhookHealth& h, const AttemptReport& report, const HealthConfig& config);

// The bound on a webhook's batches in flight: one (the probe) while it is
// failing, `limit` otherwise.
inline int in_flight_limit(bool failing, int limit) { return failing ? 1 : limit; }

// Whether a batch created at batch_created_at_ms is a probe of a webhook
// whose health is h: cut while it was failing. A probe's failures do not use
// up its attempts (it waits for the next probe instead of ending failed);
// a batch cut before keeps its own retries, one at a time, and may fail.
inline bool is_probe(const WebhookHealth& h, int64_t batch_created_at_ms) {
  return h.failing() && batch_created_at_ms >= *h.failing_since_ms;
}

// "failing", "disabled", "recovered"; empty for kNone.
const char* to_string(HealthChange c);

// The wait before probe n (0 for the first), jittered by rand01, capped.
int64_t probe_interval_ms(int n, double rand01, const HealthConfig& config);

// The reason shown on a webhook that failed continuously since failing_since_ms.
std::string failing_disabled_reason(int64_t failing_since_ms, const std::string& last_error);

}  // namespace growhook
