// The PostgreSQL store's catalog: webhooks and batches as the API sees them
// (webhooks.h, batches.h). Each function runs on the connection it is given,
// inside the caller's transaction for those that write more than one row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "domain/model.h"
#include "store/batches.h"
#include "store/pg_conn.h"

namespace growhook::pg {

Status create_webhook(Conn& c, const Webhook& w);
Result<std::vector<Webhook>> list_webhooks(Conn& c, const std::string& account_id, const std::string& after_id,
                                           int limit);
Status update_webhook(Conn& c, const Webhook& w);
// In a transaction: the webhook, its batches, their attempts.
Status delete_webhook(Conn& c, const std::string& account_id, const std::string& id);
Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(Conn& c, const std::string& account_id,
                                                                    const std::vector<std::string>& ids);

Result<std::vector<Batch>> list_batches(Conn& c, const std::string& account_id, const std::string& webhook_id,
                                        std::optional<BatchState> state, const std::string& before_id, int limit);
Result<BatchDetail> get_batch(Conn& c, const std::string& account_id, const std::string& batch_id);
// The write of retry_batch: a failed or delivered batch pending again, due
// now, and the other nodes told; kConflict for a pending one, kNotFound for
// none.
Status mark_for_retry(Conn& c, const std::string& account_id, const std::string& batch_id, int64_t now_ms);
// Returns how many failed batches of the webhook are pending again.
Result<int> retry_failed(Conn& c, const std::string& account_id, const std::string& webhook_id, int64_t now_ms);

}  // namespace growhook::pg
