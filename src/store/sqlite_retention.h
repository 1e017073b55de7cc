// The SQLite store's retention step (Maintenance::prune in maintenance.h),
// inside the caller's write transaction on the writer.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

// Deletes at most limit old delivered and failed batches with their
// attempts, then at most limit events that nobody needs any more; returns
// how many rows went.
Result<int> prune(Db& db, int64_t delivered_before_ms, int64_t failed_before_ms, int limit);

}  // namespace growhook::sqlite
