#include "store/sqlite_portal.h"

#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

// A grant from the columns s.id, s.expires_at, a.id, a.name, a.created_at.
Result<PortalGrant> grant_row(Db& db, Stmt& s, std::string_view what) {
  int rc = s.step();
  if (rc == SQLITE_DONE) return Error::not_found("no such portal session");
  if (rc != SQLITE_ROW) return db.error(rc, what);
  return PortalGrant{Account{s.str(2), s.str(3), s.i64(4)}, s.str(0), s.i64(1)};
}

}  // namespace

Status create_portal_session(Db& db, const PortalSession& p) {
  // INSERT … SELECT: an unknown account inserts nothing (kNotFound) rather
  // than failing the foreign key.
  GH_STMT(s, db,
          "INSERT INTO portal_sessions(id, account_id, link_hash, token_hash, created_at, expires_at) "
          "SELECT $1, a.id, $3, NULL, $4, $5 FROM accounts a WHERE a.id = $2");
  s->bind(1, p.id).bind(2, p.account_id).bind(3, p.link_hash).bind(4, p.created_at_ms).bind(5, p.expires_at_ms);
  GH_RETURN_IF_ERROR(done(db, s->step(), "create portal session"));
  if (db.changes() == 0) return Error::not_found("account " + p.account_id + " not found");
  return ok_status();
}

Result<PortalGrant> redeem_portal_link(Db& db, const std::string& link_hash, const std::string& token_hash,
                                       int64_t now_ms) {
  {
    // One statement: the link's hash goes as the token's comes, so a link
    // signs in once.
    GH_STMT(u, db,
            "UPDATE portal_sessions SET link_hash = NULL, token_hash = $2 "
            "WHERE link_hash = $1 AND token_hash IS NULL AND expires_at > $3");
    u->bind(1, link_hash).bind(2, token_hash).bind(3, now_ms);
    GH_RETURN_IF_ERROR(done(db, u->step(), "redeem portal link"));
    if (db.changes() == 0) return Error::not_found("no such portal link");
  }
  return portal_session_by_token(db, token_hash, now_ms);
}

Result<PortalGrant> portal_session_by_token(Db& db, const std::string& token_hash, int64_t now_ms) {
  GH_STMT(s, db,
          "SELECT s.id, s.expires_at, a.id, a.name, a.created_at FROM portal_sessions s "
          "JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2");
  s->bind(1, token_hash).bind(2, now_ms);
  return grant_row(db, *s, "portal session");
}

Status end_portal_session(Db& db, const std::string& token_hash, int64_t now_ms) {
  GH_STMT(s, db, "DELETE FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2");
  s->bind(1, token_hash).bind(2, now_ms);
  GH_RETURN_IF_ERROR(done(db, s->step(), "end portal session"));
  if (db.changes() == 0) return Error::not_found("no such portal session");
  return ok_status();
}

Result<int> end_portal_sessions(Db& db, const std::string& account_id, int64_t now_ms) {
  int live = 0;
  {
    GH_STMT(c, db, "SELECT count(*) FROM portal_sessions WHERE account_id = $1 AND expires_at > $2");
    c->bind(1, account_id).bind(2, now_ms);
    int rc = c->step();
    if (rc != SQLITE_ROW) return db.error(rc, "count portal sessions");
    live = static_cast<int>(c->i64(0));
  }
  GH_STMT(d, db, "DELETE FROM portal_sessions WHERE account_id = $1");
  d->bind(1, account_id);
  GH_RETURN_IF_ERROR(done(db, d->step(), "end portal sessions"));
  return live;
}

Result<int> prune_portal_sessions(Db& db, int64_t now_ms, int limit) {
  GH_STMT(s, db,
          "DELETE FROM portal_sessions WHERE id IN "
          "(SELECT id FROM portal_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)");
  s->bind(1, now_ms).bind(2, limit);
  GH_RETURN_IF_ERROR(done(db, s->step(), "prune portal sessions"));
  return static_cast<int>(db.changes());
}

}  // namespace growhook::sqlite
