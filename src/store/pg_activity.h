// The PostgreSQL store's webhook activity (delivery_activity.h).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "store/pg_conn.h"
#include "store/delivery_activity.h"

namespace growhook::pg {

Result<std::vector<ActivityBucket>> webhook_activity(Conn& c, const std::string& account_id,
                                                     const std::string& webhook_id, int64_t since_ms);

}  // namespace growhook::pg
