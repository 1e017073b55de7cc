#include "store/pg_secrets.h"

#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

Status reseal_rows(Conn& c, const PgResult& rows, bool reseal, ResealPage& page) {
  for (int i = 0; i < rows.rows(); ++i) {
    StoredSecrets row{rows.str(i, 0), rows.str(i, 1), rows.str(i, 2), rows.str(i, 3)};
    page.last_id = row.id;
    ++page.examined;
    GH_PG_ASSIGN(next, refreshed_secrets(c.secrets(), row, reseal));
    if (!*next) continue;
    GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET auth = $2, secret = $3, previous_secret = $4 WHERE id = $1 AND "
                           "auth = $5 AND secret = $6 AND previous_secret = $7 RETURNING id",
                           Params()
                               .add(row.id)
                               .add((*next)->auth)
                               .add((*next)->secret)
                               .add((*next)->previous_secret)
                               .add(row.auth)
                               .add(row.secret)
                               .add(row.previous_secret)));
    if (u->rows() == 1) ++page.resealed;
    else ++page.changed_meanwhile;
  }
  return ok_status();
}

}  // namespace

Result<ResealPage> reseal_page(Conn& c, const std::string& after_id, int limit, bool reseal) {
  Tx tx(c);
  GH_PG_RETURN_IF_ERROR(tx.begin());
  // Locked: a node's write to one of these rows waits for this short
  // transaction (and this one for a claim that holds a row).
  GH_PG_ASSIGN(rows, c.exec("SELECT id, auth, secret, previous_secret FROM webhooks WHERE id > $1::text "
                            "ORDER BY id LIMIT $2::integer FOR NO KEY UPDATE",
                            Params().add(after_id).add(limit)));
  ResealPage page;
  page.last_id = after_id;
  GH_PG_RETURN_IF_ERROR(reseal_rows(c, *rows, reseal, page));
  GH_PG_RETURN_IF_ERROR(tx.commit());
  return page;
}

Result<int64_t> count_not_sealed_by_first(Conn& c) {
  GH_PG_ASSIGN(r, c.exec("SELECT count(*) FROM webhooks WHERE NOT (auth LIKE $1 AND secret LIKE $1 AND "
                         "(previous_secret = '' OR previous_secret LIKE $1))",
                         Params().add(sealed_by_first_pattern(c.secrets()))));
  return r->i64(0, 0);
}

}  // namespace growhook::pg
