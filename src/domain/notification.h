// Notifications of a webhook's health, as pure decisions: which change of
// state (domain/health.h) is news, what it says, and whether an account's
// notification_email is one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "domain/health.h"

namespace growhook {

// The news of one change of a webhook's health.
struct HealthNews {
  std::string kind;              // "failing", "disabled", "recovered"
  int64_t at_ms = 0;             // when it changed (the attempt that changed it ended)
  int64_t failing_since_ms = 0;  // since when it failed
  std::string reason;            // the last error, the disabled reason, or what recovered it
};

// The news of step (observed from `before` by an attempt that ended at
// at_ms), or nullopt when nothing changed.
std::optional<HealthNews> health_news(const WebhookHealth& before, const HealthStep& step, int64_t at_ms);

// An account's notification_email: a single address local@domain, at most
// 254 bytes, no spaces, control characters, quotes, commas or angle
// brackets (it goes into a mail header and an SMTP RCPT), a domain with a
// dot or "localhost". kInvalid says what is wrong (without the field's name).
Status validate_notification_email(std::string_view email);

}  // namespace growhook
