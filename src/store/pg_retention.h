// The PostgreSQL store's retention step and counts (Maintenance::prune in
// maintenance.h), inside the caller's transaction. Batches are taken with
// SKIP LOCKED: a step never waits for a node that is recording them.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "store/maintenance.h"
#include "store/pg_conn.h"

namespace growhook::pg {

// Deletes at most limit old delivered and failed batches with their
// attempts, then at most limit events that nobody needs any more; returns
// how many rows went.
Result<int> prune(Conn& c, int64_t delivered_before_ms, int64_t failed_before_ms, int limit);

// The counts for /metrics (maintenance.h), in one statement.
Result<StoreCounts> counts(Conn& c);

}  // namespace growhook::pg
