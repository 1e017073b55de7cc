// The SQLite store's webhook activity (delivery_activity.h), on a reader connection.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "store/sqlite_db.h"
#include "store/delivery_activity.h"

namespace growhook::sqlite {

Result<std::vector<ActivityBucket>> webhook_activity(Db& db, const std::string& account_id,
                                                     const std::string& webhook_id, int64_t since_ms);

}  // namespace growhook::sqlite
