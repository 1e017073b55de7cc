// Portal sessions: the short-lived sign-ins that the platform mints so that
// an account's page opens without an API key (api/portal.h has the rules,
// docs/embedding.md the whole story). The rules of store.h hold for it.
//
// A session is minted with a link: the SHA-256 hex of the link's one-time
// secret is stored, never the secret. Redeeming the link swaps that hash
// for the SHA-256 hex of the session's token (again never the token) in
// one write, so a link signs in once. Every method takes the time from its
// caller (the injected clock): a session whose expires_at_ms is not after
// now_ms is over, and no method finds it again; retention deletes it.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

struct PortalSession {
  std::string id;           // ps_…, for logs
  std::string account_id;
  std::string link_hash;    // SHA-256 hex of the link's secret
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// What a live session opens: its account, until when.
struct PortalGrant {
  Account account;
  std::string session_id;
  int64_t expires_at_ms = 0;
};

class PortalSessions {
 public:
  virtual ~PortalSessions() = default;

  // kNotFound when the account does not exist; kConflict when the id or the
  // link hash exists already.
  virtual Status create_portal_session(const PortalSession& session) = 0;
  // The link of link_hash, not redeemed yet and live at now_ms, becomes the
  // session of token_hash. kNotFound when there is no such link (unknown,
  // redeemed already, expired, or its account's sessions were ended):
  // callers cannot tell which. Two redeems of one link: one wins.
  virtual Result<PortalGrant> redeem_portal_link(const std::string& link_hash, const std::string& token_hash,
                                                 int64_t now_ms) = 0;
  // The redeemed session of token_hash, live at now_ms; kNotFound otherwise.
  virtual Result<PortalGrant> portal_session_by_token(const std::string& token_hash, int64_t now_ms) = 0;
  // Ends the session of token_hash (sign-out); kNotFound when it is not live.
  virtual Status end_portal_session(const std::string& token_hash, int64_t now_ms) = 0;
  // Ends every session of the account, redeemed or not; returns how many
  // were live at now_ms.
  virtual Result<int> end_portal_sessions(const std::string& account_id, int64_t now_ms) = 0;
  // Retention (api::Portal::mint calls it): deletes at most limit sessions
  // that ended at or before now_ms; returns how many.
  virtual Result<int> prune_portal_sessions(int64_t now_ms, int limit) = 0;
};

}  // namespace growhook
