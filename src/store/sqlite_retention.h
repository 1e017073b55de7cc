// The SQLite store's maintenance (maintenance.h): the retention step, inside
// the caller's write transaction on the writer, and the counts for /metrics,
// on a reader.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "store/maintenance.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

// Deletes at most limit old delivered and failed batches with their
// attempts, then at most limit events that nobody needs any more; returns
// how many rows went.
Result<int> prune(Db& db, int64_t delivered_before_ms, int64_t failed_before_ms, int limit);

// The batches pending, failed and waiting for a retry, the events pending
// at enabled webhooks, the webhooks failing and disabled.
Result<StoreCounts> counts(Db& db);

}  // namespace growhook::sqlite
