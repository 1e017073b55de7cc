// Ordering "contact" in the SQLite store (domain/batching.h,
// pack_by_contact), inside the caller's transaction on the writer. What it
// keeps (schema 11): batch_members (the events of a batch cut under it),
// held_contacts (a contact and the unfinished batch that holds it),
// deferred_events (events waiting for their contact; ready once it is
// free), webhooks.deferred_ready (some are ready).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/sqlite_db.h"
#include "store/work_queue.h"

namespace growhook::sqlite {

// Cuts up to `room` batches for w: the deferred events that are ready
// first (when deferred_ready), then its events after `position` up to
// head; leases them, keeps aside what must wait, moves the position.
Status cut_by_contact(Db& db, const ClaimRequest& req, const Webhook& w, int64_t position, int64_t head, int room,
                      bool deferred_ready, std::vector<ClaimedBatch>& out);
// The batch ended (delivered or failed): the contacts it held are free,
// and the oldest deferred event of each is ready.
Status release_contacts(Db& db, const std::string& webhook_id, const std::string& batch_id);
// No contact of the webhook waits any more (its ordering became "none").
Status release_every_contact(Db& db, const std::string& webhook_id);
// The webhook is gone: what ordering kept for it goes too.
Status forget_ordering(Db& db, const std::string& webhook_id);

}  // namespace growhook::sqlite
