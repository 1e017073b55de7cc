#include "store/pg_retention.h"

#include <algorithm>
#include <string>
#include <vector>

#include "store/pg_rows.h"

namespace growhook::pg {

Result<int> prune(Conn& c, int64_t delivered_before_ms, int64_t failed_before_ms, int limit) {
  GH_PG_ASSIGN(b, c.exec("WITH gone AS (DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE "
                         "(state = 'delivered' AND updated_at < $1::bigint) OR (state = 'failed' AND updated_at "
                         "< $2::bigint) LIMIT $3::integer FOR UPDATE SKIP LOCKED) RETURNING id), "
                         "a AS (DELETE FROM attempts WHERE batch_id IN (SELECT id FROM gone)), "
                         "m AS (DELETE FROM batch_members WHERE batch_id IN (SELECT id FROM gone)) "
                         "SELECT count(*) FROM gone",
                         Params().add(delivered_before_ms).add(failed_before_ms).add(limit)));
  int deleted = static_cast<int>(b->i64(0, 0));
  // Events below every enabled webhook's position and every remaining batch
  // of their account, older than the shorter retention, are needed by nobody,
  // as in SQLite's (sqlite_retention.cc): the accounts whose prune_at has
  // passed (accounts_to_prune), at most $2 of them, oldest first, each read
  // from its oldest event on, at most $2 rows. Their rows are locked (SKIP
  // LOCKED: another node's step takes others) so that an ingestion waits
  // for their next look to be written.
  const int64_t created_before = std::max(delivered_before_ms, failed_before_ms);
  GH_PG_ASSIGN(acc, c.exec("SELECT id FROM accounts WHERE prune_at IS NOT NULL AND prune_at <= $1::bigint ORDER BY "
                           "prune_at LIMIT $2::integer FOR NO KEY UPDATE SKIP LOCKED",
                           Params().add(created_before).add(limit)));
  if (acc->rows() == 0) return deleted;
  std::vector<std::string> ids;
  for (int i = 0; i < acc->rows(); ++i) ids.push_back(acc->str(i, 0));
  const std::string id_array = text_array(ids);
  GH_PG_ASSIGN(e, c.exec("DELETE FROM events e USING (SELECT x.account_id, x.seq FROM accounts a "
                         "CROSS JOIN LATERAL (SELECT LEAST("
                         "  coalesce((SELECT min(CASE WHEN w.cursor < w.work_seq THEN w.cursor ELSE a.head_seq END) "
                         "FROM webhooks w WHERE w.account_id = a.id AND w.enabled), a.head_seq),"
                         "  coalesce((SELECT min(b.first_seq) - 1 FROM batches b WHERE b.account_id = a.id), "
                         "a.head_seq),"
                         "  coalesce((SELECT min(d.seq) - 1 FROM deferred_events d JOIN webhooks w ON w.id = "
                         "d.webhook_id WHERE w.account_id = a.id AND w.enabled), a.head_seq)) AS upto) k "
                         "CROSS JOIN LATERAL (SELECT ev.account_id, ev.seq, ev.created_at FROM events ev "
                         "WHERE ev.account_id = a.id AND ev.seq <= k.upto ORDER BY ev.seq LIMIT $2::integer) x "
                         "WHERE a.id = ANY($3::text[]) AND x.created_at < $1::bigint LIMIT $2::integer) d "
                         "WHERE e.account_id = d.account_id AND e.seq = d.seq",
                         Params().add(created_before).add(limit).add(id_array)));
  // Their next look, as in SQLite's.
  GH_PG_ASSIGN(u, c.exec("UPDATE accounts a SET prune_at = (SELECT greatest(e.created_at, $2::bigint) FROM events e "
                         "WHERE e.account_id = a.id ORDER BY e.seq LIMIT 1) WHERE a.id = ANY($1::text[])",
                         Params().add(id_array).add(created_before)));
  return deleted + static_cast<int>(e->affected());
}

Result<StoreCounts> counts(Conn& c) {
  GH_PG_ASSIGN(r, c.exec("SELECT "
                         "(SELECT count(*) FROM batches WHERE state = 'pending'), "
                         "(SELECT count(*) FROM batches WHERE state = 'pending' AND cycle_attempts > 0), "
                         "(SELECT count(*) FROM batches WHERE state = 'failed'), "
                         "(SELECT coalesce(sum((SELECT count(*) FROM events e WHERE e.account_id = w.account_id "
                         "AND e.seq > w.cursor AND (e.type & w.event_types) <> 0)), 0) FROM webhooks w "
                         "WHERE w.enabled AND w.cursor < w.work_seq), "
                         "(SELECT count(*) FROM webhooks WHERE enabled AND failing_since IS NOT NULL), "
                         "(SELECT count(*) FROM webhooks WHERE NOT enabled)"));
  StoreCounts out;
  out.pending_batches = r->i64(0, 0);
  out.retry_scheduled = r->i64(0, 1);
  out.failed_batches = r->i64(0, 2);
  out.pending_events = r->i64(0, 3);
  out.failing_webhooks = r->i64(0, 4);
  out.disabled_webhooks = r->i64(0, 5);
  return out;
}

}  // namespace growhook::pg
