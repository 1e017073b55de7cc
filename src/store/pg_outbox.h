// The PostgreSQL store's notification outbox (outbox.h). Each function is
// one statement on the connection it is given (autocommit, or the caller's
// transaction for enqueue_notifications).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/notification.h"
#include "store/outbox.h"
#include "store/pg_conn.h"

namespace growhook::pg {

// accounts.h's set_notification_email.
Status set_notification_email(Conn& c, const std::string& account_id, const std::optional<std::string>& email);

// As sqlite::enqueue_notifications: inside the transaction that records
// the change.
Status enqueue_notifications(Conn& c, const std::string& webhook_id, const HealthNews& news);

// Due rows taken with FOR UPDATE SKIP LOCKED and leased in the same
// statement: two nodes claiming at once never take the same row.
Result<std::vector<Notification>> claim_notifications(Conn& c, const std::string& owner, int64_t now_ms,
                                                      int64_t lease_ms, int limit);
Result<bool> finish_notification(Conn& c, const std::string& owner, const NotificationDone& done, int64_t now_ms);
Status release_notification_leases(Conn& c, const std::string& owner);
Result<std::optional<int64_t>> next_notification_due_ms(Conn& c);
Result<int64_t> events_waiting(Conn& c, const std::string& webhook_id);
Result<int> prune_notifications(Conn& c, int64_t before_ms, int limit);

}  // namespace growhook::pg
