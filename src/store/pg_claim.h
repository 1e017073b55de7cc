// claim_work of the PostgreSQL store: leasing due batches and cutting new
// ones, safe with any number of nodes claiming at once.
#pragma once

#include <vector>

#include "common/result.h"
#include "store/pg_conn.h"
#include "store/store.h"

namespace growhook::pg {

// Runs inside the caller's transaction on c. Rows it takes are locked with
// FOR NO KEY UPDATE SKIP LOCKED: due batches, and the webhooks whose cursor
// it advances, so a node never waits for another and two nodes never lease
// the same batch nor cut the same events.
Result<std::vector<ClaimedBatch>> claim_in_transaction(Conn& c, const ClaimRequest& req);

}  // namespace growhook::pg
