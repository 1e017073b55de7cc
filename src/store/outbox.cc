#include "store/outbox.h"

#include <string>

namespace growhook {

std::string_view to_string(NotificationChannel c) {
  return c == NotificationChannel::kEmail ? "email" : "platform";
}

const char* notification_state(NotificationDone::Outcome o) {
  switch (o) {
    case NotificationDone::Outcome::kSent: return "sent";
    case NotificationDone::Outcome::kSkipped: return "skipped";
    case NotificationDone::Outcome::kRetry: return "pending";
    case NotificationDone::Outcome::kGiveUp: return "failed";
  }
  return "pending";
}

std::string notification_key(std::string_view webhook_id, std::string_view kind, int64_t at_ms) {
  return std::string(webhook_id) + "." + std::string(kind) + "." + std::to_string(at_ms);
}

}  // namespace growhook
