// The SQLite store's notification outbox (outbox.h). Each function runs on
// the connection it is given: the caller holds the writer in a transaction
// for those that write, or a reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/notification.h"
#include "store/outbox.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

// accounts.h's set_notification_email, in the caller's transaction.
Status set_notification_email(Db& db, const std::string& account_id, const std::optional<std::string>& email);

// The rows of news (one per channel) for the webhook, inside the caller's
// transaction (the one that records the change); a second write of the
// same news (the same dedupe key) adds nothing.
Status enqueue_notifications(Db& db, const std::string& webhook_id, const HealthNews& news);

Result<std::vector<Notification>> claim_notifications(Db& db, const std::string& owner, int64_t now_ms,
                                                      int64_t lease_ms, int limit);
Result<bool> finish_notification(Db& db, const std::string& owner, const NotificationDone& done, int64_t now_ms);
Status release_notification_leases(Db& db, const std::string& owner);
Result<std::optional<int64_t>> next_notification_due_ms(Db& db);
Result<int64_t> events_waiting(Db& db, const std::string& webhook_id);
Result<int> prune_notifications(Db& db, int64_t before_ms, int limit);

}  // namespace growhook::sqlite
