// The SQLite store's catalog: webhooks and batches as the API sees them.
// Each function runs on the connection it is given: the caller holds the
// writer in a transaction for those that write, or a reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "domain/model.h"
#include "store/batches.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

// Webhooks (webhooks.h).
Status create_webhook(Db& db, const Webhook& w);
Result<std::vector<Webhook>> list_webhooks(Db& db, const std::string& account_id, const std::string& after_id,
                                           int limit);
Status update_webhook(Db& db, const Webhook& w);
Status delete_webhook(Db& db, const std::string& account_id, const std::string& id);
Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(Db& db, const std::string& account_id,
                                                                    const std::vector<std::string>& ids);

// Batches (batches.h).
Result<std::vector<Batch>> list_batches(Db& db, const std::string& account_id, const std::string& webhook_id,
                                        std::optional<BatchState> state, const std::string& before_id, int limit);
Result<BatchDetail> get_batch(Db& db, const std::string& account_id, const std::string& batch_id);
// The write of retry_batch: a failed or delivered batch pending again, due
// now; kConflict for a pending one, kNotFound for none.
Status mark_for_retry(Db& db, const std::string& account_id, const std::string& batch_id, int64_t now_ms);
// Returns how many failed batches of the webhook are pending again.
Result<int> retry_failed(Db& db, const std::string& account_id, const std::string& webhook_id, int64_t now_ms);

}  // namespace growhook::sqlite
