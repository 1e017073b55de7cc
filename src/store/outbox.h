// The notification outbox: one row per change of a webhook's health
// (domain/health.h: failing, disabled, recovered) and channel (email, the
// platform's webhook), written by the store IN THE TRANSACTION that records
// the attempt causing the change, so a change is never stored without its
// notifications nor a notification without its change. The rules of
// store.h hold for it.
//
// A row's id is its dedupe key, "<webhook id>.<kind>.<at ms>": the same
// change cannot be written twice, and the sender uses it as the mail's
// Message-ID and the platform message's webhook-id, so a receiver can drop
// the copy sent again after a crash between sending and marking sent.
//
// The sender (notify/sender.h) leases due rows (a lease column, taken in
// one statement, so several PostgreSQL nodes never send a row at the same
// time), sends them and finishes each one: sent, skipped (nothing to send
// to), or retried later. Only the holder of a lease can finish it; a lease
// that ends (the node died) makes the row due again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace growhook {

enum class NotificationChannel { kEmail, kPlatform };
std::string_view to_string(NotificationChannel c);  // "email", "platform"
inline constexpr NotificationChannel kNotificationChannels[] = {NotificationChannel::kEmail,
                                                                NotificationChannel::kPlatform};

// A row of the outbox, as the sender gets it.
struct Notification {
  std::string id;  // the dedupe key
  NotificationChannel channel = NotificationChannel::kEmail;
  std::string account_id;
  std::string webhook_id;
  std::string kind;               // "failing", "disabled", "recovered" (to_string(HealthChange))
  int64_t at_ms = 0;              // when the change happened
  int64_t failing_since_ms = 0;   // since when it failed (0 for none)
  std::string reason;             // the last error, or the disabled reason
  int attempts = 0;               // sends tried before this one
};

// How a send ended.
struct NotificationDone {
  enum class Outcome { kSent, kSkipped, kRetry, kGiveUp };  // kGiveUp: state "failed", never sent
  std::string id;
  NotificationChannel channel = NotificationChannel::kEmail;
  Outcome outcome = Outcome::kSent;
  int64_t retry_at_ms = 0;  // kRetry: due again then
  std::string error;        // kRetry, kSkipped: why
};

// The state a row takes when finished so: "sent", "skipped", "pending"
// (kRetry), "failed" (kGiveUp).
const char* notification_state(NotificationDone::Outcome o);

// The dedupe key of a change.
std::string notification_key(std::string_view webhook_id, std::string_view kind, int64_t at_ms);

class Outbox {
 public:
  virtual ~Outbox() = default;

  // Leases up to limit rows due at now_ms (pending, next attempt due, no
  // live lease) to owner until now_ms + lease_ms, oldest first.
  virtual Result<std::vector<Notification>> claim_notifications(const std::string& owner, int64_t now_ms,
                                                                int64_t lease_ms, int limit) = 0;
  // Finishes a row that owner leased: written only while owner still holds
  // the lease (false otherwise: another node has it now). now_ms stamps it.
  virtual Result<bool> finish_notification(const std::string& owner, const NotificationDone& done,
                                           int64_t now_ms) = 0;
  // Frees the leases of owner (everyone's when empty): a node starting again
  // takes back the rows its previous life held (store.h's release_leases,
  // for the outbox).
  virtual Status release_notification_leases(const std::string& owner) = 0;
  // When the next pending row is due (its attempt or its lease), if any.
  virtual Result<std::optional<int64_t>> next_notification_due_ms() = 0;
  // The events the webhook has yet to receive: those after its position
  // (of its event types) and those in its pending batches. 0 for a webhook
  // that does not exist.
  virtual Result<int64_t> events_waiting(const std::string& webhook_id) = 0;
  // Retention: deletes at most limit rows sent or skipped at or before
  // before_ms; returns how many.
  virtual Result<int> prune_notifications(int64_t before_ms, int limit) = 0;
};

}  // namespace growhook
