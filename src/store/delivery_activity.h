// A webhook's deliveries and failures per hour (GET /v1/webhooks/{id}/stats,
// domain/delivery_stats.h makes the 24-hour and 7-day series of them). The
// rules of store.h hold for it. Counted from what the store keeps, so
// retention's pruning of batches and attempts bounds how far back it sees.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "domain/delivery_stats.h"

namespace growhook {

class DeliveryActivity {
 public:
  virtual ~DeliveryActivity() = default;

  // The webhook's counts per UTC hour from since_ms on (an hour's start),
  // only the hours with something, in any order: batches that ended
  // delivered or failed by their updated_at (when they ended), their
  // events, and failed attempts (error not empty) by their time, whatever
  // state their batch is in now. kNotFound when the webhook is not the
  // account's. Reads the webhook's finished batches by
  // batches_finished_by_webhook (schema 9) and its pending ones by
  // batches_by_webhook_state, then their attempts by key.
  virtual Result<std::vector<ActivityBucket>> webhook_activity(const std::string& account_id,
                                                               const std::string& webhook_id, int64_t since_ms) = 0;
};

}  // namespace growhook
