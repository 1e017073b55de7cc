// The PostgreSQL store's work queue (work_queue.h): leasing due batches and
// cutting new ones, safe with any number of nodes claiming at once, and
// recording outcomes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/pg_conn.h"
#include "store/work_queue.h"

namespace growhook::pg {

// Runs inside the caller's transaction on c. Rows it takes are locked with
// FOR NO KEY UPDATE SKIP LOCKED: due batches, and the webhooks whose position
// it advances, so a node never waits for another and two nodes never lease
// the same batch nor cut the same events.
Result<std::vector<ClaimedBatch>> claim_in_transaction(Conn& c, const ClaimRequest& req);

// Records outcomes inside the caller's transaction on c: those whose owner
// still holds the lease, in one order (batches by id, then the webhooks to
// disable by id), so that nodes recording at once cannot deadlock.
Status record_outcomes(Conn& c, std::span<const AttemptOutcome> outcomes);
// Frees the leases of owner (everyone's when empty) and tells the other
// nodes when it freed any.
Status release_leases(Conn& c, const std::string& owner);
Result<std::optional<int64_t>> next_due_ms(Conn& c);

}  // namespace growhook::pg
