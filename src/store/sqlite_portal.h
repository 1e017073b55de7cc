// The SQLite store's portal sessions (portal_sessions.h). Each function
// runs on the connection it is given: the caller holds the writer in a
// transaction for those that write, or a reader.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "store/portal_sessions.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

Status create_portal_session(Db& db, const PortalSession& s);
Result<PortalGrant> redeem_portal_link(Db& db, const std::string& link_hash, const std::string& token_hash,
                                       int64_t now_ms);
Result<PortalGrant> portal_session_by_token(Db& db, const std::string& token_hash, int64_t now_ms);
Status end_portal_session(Db& db, const std::string& token_hash, int64_t now_ms);
Result<int> end_portal_sessions(Db& db, const std::string& account_id, int64_t now_ms);
Result<int> prune_portal_sessions(Db& db, int64_t now_ms, int limit);

}  // namespace growhook::sqlite
