// The SQLite store's work queue (work_queue.h): recording outcomes, leasing
// due batches and cutting new ones, inside the caller's transaction on the
// writer (one writer: nobody claims at the same time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/batching.h"
#include "store/sqlite_db.h"
#include "store/work_queue.h"

namespace growhook::sqlite {

// Applies one outcome when its owner still holds the lease; drops it
// (without an error) when the lease was lost.
Status record_outcome(Db& db, const AttemptOutcome& o);
// Leases due batches, then cuts new ones, within the request's bounds.
Result<std::vector<ClaimedBatch>> claim(Db& db, const ClaimRequest& req);
Status release_leases(Db& db, const std::string& owner);
// Inserts one batch as cut, leased to the request's owner; members: its
// events are listed in batch_members (ordering "contact"), not its range.
Result<ClaimedBatch> insert_batch(Db& db, const ClaimRequest& req, const Webhook& w, CutBatch& cut, bool members);
Result<std::optional<int64_t>> next_due_ms(Db& db);

}  // namespace growhook::sqlite
