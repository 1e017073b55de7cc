// The PostgreSQL store's backlog moves (backlog.h), each inside the
// caller's write transaction; the webhook's row is locked first, so a
// node cutting its batches waits (or is waited for).
#pragma once

#include <string>

#include "common/result.h"
#include "store/backlog.h"
#include "store/pg_conn.h"

namespace growhook::pg {

Result<Enabled> enable_webhook(Conn& c, const std::string& account_id, const std::string& id, bool from_head,
                               int64_t now_ms);
Result<Recovered> recover(Conn& c, const std::string& account_id, const std::string& id, const RecoverRequest& req);

}  // namespace growhook::pg
