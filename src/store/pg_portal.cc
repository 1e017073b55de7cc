#include "store/pg_portal.h"

#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

// A grant from the columns id, expires_at, account id, name, created_at.
Result<PortalGrant> grant_row(const PgResult& r) {
  if (r.rows() == 0) return Error::not_found("no such portal session");
  return PortalGrant{Account{r.str(0, 2), r.str(0, 3), r.i64(0, 4)}, r.str(0, 0), r.i64(0, 1)};
}

}  // namespace

Status create_portal_session(Conn& c, const PortalSession& p) {
  // INSERT … SELECT: an unknown account inserts nothing (kNotFound) rather
  // than failing the foreign key.
  GH_PG_ASSIGN(r, c.exec("INSERT INTO portal_sessions(id, account_id, link_hash, token_hash, created_at, expires_at) "
                         "SELECT $1::text, a.id, $3::text, NULL, $4::bigint, $5::bigint FROM accounts a "
                         "WHERE a.id = $2::text",
                         Params().add(p.id).add(p.account_id).add(p.link_hash).add(p.created_at_ms).add(
                             p.expires_at_ms)));
  if (r->affected() == 0) return Error::not_found("account " + p.account_id + " not found");
  return ok_status();
}

Result<PortalGrant> redeem_portal_link(Conn& c, const std::string& link_hash, const std::string& token_hash,
                                       int64_t now_ms) {
  // One statement: the link's hash goes as the token's comes (a row lock
  // makes a second redeem of the same link find nothing), so a link signs
  // in once.
  GH_PG_ASSIGN(r, c.exec("WITH s AS (UPDATE portal_sessions SET link_hash = NULL, token_hash = $2::text "
                         "WHERE link_hash = $1::text AND token_hash IS NULL AND expires_at > $3::bigint "
                         "RETURNING id, expires_at, account_id) "
                         "SELECT s.id, s.expires_at, a.id, a.name, a.created_at FROM s JOIN accounts a "
                         "ON a.id = s.account_id",
                         Params().add(link_hash).add(token_hash).add(now_ms)));
  return grant_row(*r);
}

Result<PortalGrant> portal_session_by_token(Conn& c, const std::string& token_hash, int64_t now_ms) {
  GH_PG_ASSIGN(r, c.exec("SELECT s.id, s.expires_at, a.id, a.name, a.created_at FROM portal_sessions s "
                         "JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1::text "
                         "AND s.expires_at > $2::bigint",
                         Params().add(token_hash).add(now_ms)));
  return grant_row(*r);
}

Status end_portal_session(Conn& c, const std::string& token_hash, int64_t now_ms) {
  GH_PG_ASSIGN(r, c.exec("DELETE FROM portal_sessions WHERE token_hash = $1::text AND expires_at > $2::bigint",
                         Params().add(token_hash).add(now_ms)));
  if (r->affected() == 0) return Error::not_found("no such portal session");
  return ok_status();
}

Result<int> end_portal_sessions(Conn& c, const std::string& account_id, int64_t now_ms) {
  GH_PG_ASSIGN(r, c.exec("WITH d AS (DELETE FROM portal_sessions WHERE account_id = $1::text "
                         "RETURNING expires_at) SELECT count(*) FROM d WHERE expires_at > $2::bigint",
                         Params().add(account_id).add(now_ms)));
  return static_cast<int>(r->i64(0, 0));
}

Result<int> prune_portal_sessions(Conn& c, int64_t now_ms, int limit) {
  GH_PG_ASSIGN(r, c.exec("DELETE FROM portal_sessions WHERE id IN (SELECT id FROM portal_sessions "
                         "WHERE expires_at <= $1::bigint ORDER BY expires_at LIMIT $2::int)",
                         Params().add(now_ms).add(limit)));
  return static_cast<int>(r->affected());
}

}  // namespace growhook::pg
