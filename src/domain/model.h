// The things growhook keeps: accounts, webhooks, batches and attempts.
// Plain values; the rules that decide about them live in their own headers
// (domain/batching.h, domain/webhook.h, delivery/retry_policy.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/event.h"
#include "domain/health.h"

namespace growhook {

struct Account {
  std::string id;
  std::string name;
  int64_t created_at_ms = 0;
  std::optional<std::string> notification_email = std::nullopt;  // where news of its webhooks' health goes; none: no mail
};

// Extra authentication a webhook sends with every message.
struct WebhookAuth {
  enum class Kind { kNone, kBasic, kBearer, kHeader };
  Kind kind = Kind::kNone;
  std::string username;  // basic
  std::string password;  // basic
  std::string token;     // bearer
  std::string header_name;   // header
  std::string header_value;  // header
};

// How a webhook's events are ordered across its batches (docs/receiving-webhooks.md,
// "Order"): kNone lets any batch go whenever it can; kContact never sends a
// batch holding a contact's (msisdn's) event while an earlier batch holding
// one of that contact's events is unfinished (domain/batching.h,
// pack_by_contact).
enum class Ordering { kNone, kContact };
std::string_view to_string(Ordering o);
std::optional<Ordering> parse_ordering(std::string_view s);

struct Webhook {
  std::string id;
  std::string account_id;
  std::string name;
  std::string url;
  bool enabled = true;
  uint8_t event_types = kAllEventTypes;  // bit mask of EventType
  int batch_max_events = 100;
  int batch_max_bytes = 1 << 20;  // of the POST's events array
  Ordering ordering = Ordering::kNone;
  WebhookAuth auth;
  std::string secret;
  std::string previous_secret;           // signs too until it expires
  int64_t previous_secret_expires_ms = 0;
  std::string disabled_reason;           // set when the service disabled it
  WebhookHealth health;                  // failing or not (domain/health.h); stored, set by delivery
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  // The secrets that sign a message sent at now_ms: the current one, and the
  // previous one while its grace period lasts.
  std::vector<std::string> signing_secrets(int64_t now_ms) const {
    std::vector<std::string> s{secret};
    if (!previous_secret.empty() && now_ms < previous_secret_expires_ms) s.push_back(previous_secret);
    return s;
  }
};

struct WebhookStats {
  std::optional<int64_t> last_delivery_at_ms;
  int64_t failed_batches = 0;
  int64_t pending_batches = 0;
  // Events it has not got yet: in its pending batches, and those of its
  // types after its position (counted up to kWaitingCountCap of those).
  int64_t events_waiting = 0;
};
inline constexpr int64_t kWaitingCountCap = 100'000;

enum class BatchState { kPending, kDelivered, kFailed };
std::string_view to_string(BatchState s);
std::optional<BatchState> parse_batch_state(std::string_view s);

struct Attempt {
  int64_t at_ms = 0;
  int status_code = 0;        // 0: no HTTP answer
  int64_t duration_ms = 0;
  std::string error;          // transport error or reason; empty on success
  std::string response_body;  // the start of the body, capped
};

struct Batch {
  std::string id;
  std::string webhook_id;
  std::string account_id;
  BatchState state = BatchState::kPending;
  int event_count = 0;
  int64_t created_at_ms = 0;
  std::optional<int64_t> next_attempt_at_ms;  // set while pending
  int cycle_attempts = 0;     // attempts since creation or the last manual retry
  std::vector<Attempt> attempts;
};

}  // namespace growhook
