// The PostgreSQL store's portal sessions (portal_sessions.h). Each function
// is one statement on the connection it is given (autocommit).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "store/pg_conn.h"
#include "store/portal_sessions.h"

namespace growhook::pg {

Status create_portal_session(Conn& c, const PortalSession& s);
Result<PortalGrant> redeem_portal_link(Conn& c, const std::string& link_hash, const std::string& token_hash,
                                       int64_t now_ms);
Result<PortalGrant> portal_session_by_token(Conn& c, const std::string& token_hash, int64_t now_ms);
Status end_portal_session(Conn& c, const std::string& token_hash, int64_t now_ms);
Result<int> end_portal_sessions(Conn& c, const std::string& account_id, int64_t now_ms);
Result<int> prune_portal_sessions(Conn& c, int64_t now_ms, int limit);

}  // namespace growhook::pg
