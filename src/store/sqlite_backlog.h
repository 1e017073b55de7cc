// The SQLite store's backlog moves (backlog.h), each inside the caller's
// write transaction.
#pragma once

#include <string>

#include "common/result.h"
#include "store/backlog.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

Result<Enabled> enable_webhook(Db& db, const std::string& account_id, const std::string& id, bool from_head,
                               int64_t now_ms);
Result<Recovered> recover(Db& db, const std::string& account_id, const std::string& id, const RecoverRequest& req);

}  // namespace growhook::sqlite
