// Ordering "contact" in the PostgreSQL store (domain/batching.h,
// pack_by_contact; the tables of schema 11 as in sqlite_ordering.h), inside
// the caller's transaction. The claim that cuts holds the webhook's row
// (FOR NO KEY UPDATE), so two nodes never cut by contact for one webhook at
// once; a release locks the webhooks of its outcomes first (record_health),
// then their deferred events, so the two never wait for each other in a cycle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/pg_conn.h"
#include "store/work_queue.h"

namespace growhook::pg {

// Cuts up to `count` batches for w: the deferred events that are ready
// first (when deferred_ready), then its events after `position` (updated)
// up to head; keeps aside what must wait. The batches are leased.
Result<std::vector<ClaimedBatch>> cut_by_contact(Conn& c, const ClaimRequest& req, const Webhook& w,
                                                 int64_t& position, int64_t head, int count, bool deferred_ready);
// These batches (cut by contact) ended: the contacts they held are free,
// the oldest deferred event of each ready.
Status release_contacts(Conn& c, const std::vector<std::string>& batch_ids);
// No contact of the webhook waits any more (its ordering became "none").
Status release_every_contact(Conn& c, const std::string& webhook_id);
// The webhook is gone: what ordering kept for it goes too.
Status forget_ordering(Conn& c, const std::string& webhook_id);

}  // namespace growhook::pg
