#include "store/pg_retention.h"

#include <algorithm>

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
  // Events below every enabled webhook's position and deferred event, and
  // every remaining batch of their account, older than the shorter retention, are needed by nobody
  // (a disabled webhook does not hold them: backlog.h). Each account
  // is read from its oldest event on, at most $2 rows, and not at all
  // when its oldest event is too recent (created_at follows seq): a step
  // never reads the events that stay (filtering on created_at inside the
  // ordered scan read all of them, every step).
  GH_PG_ASSIGN(e, c.exec("DELETE FROM events e USING (SELECT x.account_id, x.seq FROM accounts a "
                         "CROSS JOIN LATERAL (SELECT LEAST("
                         "  coalesce((SELECT min(w.cursor) FROM webhooks w WHERE w.account_id = a.id AND w.enabled), "
                         "a.head_seq),"
                         "  coalesce((SELECT min(b.first_seq) - 1 FROM batches b WHERE b.account_id = a.id), "
                         "a.head_seq),"
                         "  coalesce((SELECT min(d.seq) - 1 FROM deferred_events d JOIN webhooks w ON w.id = "
                         "d.webhook_id WHERE w.account_id = a.id AND w.enabled), a.head_seq)) AS upto) k "
                         "CROSS JOIN LATERAL (SELECT ev.account_id, ev.seq, ev.created_at FROM events ev "
                         "WHERE ev.account_id = a.id AND ev.seq <= k.upto AND (SELECT o.created_at FROM events o "
                         "WHERE o.account_id = a.id AND o.seq <= k.upto ORDER BY o.seq LIMIT 1) < $1::bigint "
                         "ORDER BY ev.seq LIMIT $2::integer) x WHERE x.created_at < $1::bigint "
                         "LIMIT $2::integer) d "
                         "WHERE e.account_id = d.account_id AND e.seq = d.seq",
                         Params().add(std::max(delivered_before_ms, failed_before_ms)).add(limit)));
  return deleted + static_cast<int>(e->affected());
}

Result<StoreCounts> counts(Conn& c) {
  GH_PG_ASSIGN(r, c.exec("SELECT "
                         "(SELECT count(*) FROM batches WHERE state = 'pending'), "
                         "(SELECT count(*) FROM batches WHERE state = 'pending' AND cycle_attempts > 0), "
                         "(SELECT count(*) FROM batches WHERE state = 'failed'), "
                         "(SELECT coalesce(sum((SELECT count(*) FROM events e WHERE e.account_id = w.account_id "
                         "AND e.seq > w.cursor AND (e.type & w.event_types) <> 0)), 0) FROM webhooks w JOIN "
                         "accounts a ON a.id = w.account_id WHERE w.enabled AND w.cursor < a.head_seq), "
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
