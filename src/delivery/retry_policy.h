// The one place that decides what follows an attempt. Pure: the time and
// the random source come in as arguments, so tests walk the whole schedule
// with exact numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "delivery/transport.h"
#include "store/work_queue.h"

namespace growhook {

struct RetryConfig {
  // The waits before each retry; their count is the number of retries.
  std::vector<int64_t> delays_ms{10'000, 60'000, 300'000};
  double jitter = 0.2;                       // each wait is scaled by 1 ± jitter
  int64_t retry_after_cap_ms = 3'600'000;    // a Retry-After is honoured up to this
};

// "10s,1m,5m" → {10000, 60000, 300000}. Units ms, s, m, h; "0" allowed.
Result<std::vector<int64_t>> parse_delays(std::string_view text);
// "10s" style for one duration; used by flags too.
Result<int64_t> parse_duration_ms(std::string_view text);

// Success is an HTTP answer with a 2xx status (docs/receiving-webhooks.md,
// "Answering"); a
// redirect is not followed, so a 3xx fails like any other status.
inline bool is_success(const TransportResult& r) {
  return r.error_kind == TransportErrorKind::kNone && r.status_code >= 200 && r.status_code <= 299;
}

// What follows an attempt: one of three, each with what it needs.
struct Delivered {};
struct Retry {
  int64_t at_ms = 0;   // the next attempt
  std::string reason;  // why this one failed, for people
};
struct Failed {
  std::string reason;            // why, for people
  bool disable_webhook = false;  // 410 Gone: stop for good
};
using Decision = std::variant<Delivered, Retry, Failed>;

// What follows an attempt whose result is r, when attempts_in_cycle
// attempts (this one included) were made since the batch's cycle began.
// rand01 returns a uniform number in [0, 1).
Decision decide(const TransportResult& r, int attempts_in_cycle, int64_t now_ms, const RetryConfig& config,
                const std::function<double()>& rand01);

// What follows a probe (is_probe, domain/health.h) that decide() judged d:
// a failure does not use up the batch's attempts (the batch stays pending,
// due again when its webhook's next probe is, which the work queue holds it
// to); a 2xx or a 410 stays what it was.
Decision as_probe(Decision d, int64_t now_ms);

// The receiver's Retry-After on a 429 or 503, as a wait in ms from now_ms.
std::optional<int64_t> retry_after_of(const TransportResult& r, int64_t now_ms);

// What decision d, taken at now_ms, makes of the batch, as the work queue
// records it in o: its new state, its next attempt, and the reason its
// webhook is disabled (410).
void apply_decision(const Decision& d, int64_t now_ms, AttemptOutcome& o);

// What went wrong in an attempt, for people: the transport error, or
// "HTTP 500" (with a note on redirects for 3xx). Empty for a 2xx.
std::string describe_failure(const TransportResult& r);

// Parses a Retry-After value: delay-seconds or an IMF-fixdate
// ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns the wait in ms from now_ms.
std::optional<int64_t> parse_retry_after(std::string_view value, int64_t now_ms);

}  // namespace growhook
