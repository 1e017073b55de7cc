#include "store/sqlite_backlog.h"

#include <algorithm>
#include <vector>

#include "common/ids.h"
#include "domain/batching.h"
#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

struct Place {
  int64_t cursor = 0, head = 0, mask = 0;
};

Result<Place> place_of(Db& db, const std::string& account_id, const std::string& id) {
  GH_STMT(s, db,
          "SELECT w.cursor, a.head_seq, w.event_types FROM webhooks w JOIN accounts a ON a.id = w.account_id "
          "WHERE w.id = $1 AND w.account_id = $2");
  s->bind(1, id).bind(2, account_id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return Error::not_found("webhook " + id + " not found");
  if (rc != SQLITE_ROW) return db.error(rc, "webhook position");
  return Place{s->i64(0), s->i64(1), s->i64(2)};
}

}  // namespace

Result<Enabled> enable_webhook(Db& db, const std::string& account_id, const std::string& id, bool from_head,
                               int64_t now_ms) {
  auto p = place_of(db, account_id, id);
  if (!p.ok()) return p.error();
  Enabled out;
  if (from_head) {
    GH_STMT(n, db,
            "SELECT count(*) FROM events WHERE account_id = $1 AND seq > $2 AND seq <= $3 AND (type & $4) != 0");
    n->bind(1, account_id).bind(2, p->cursor).bind(3, p->head).bind(4, p->mask);
    int rc = n->step();
    if (rc != SQLITE_ROW) return db.error(rc, "events skipped");
    out.events_skipped = n->i64(0);
  }
  GH_STMT(u, db,
          "UPDATE webhooks SET cursor = CASE WHEN $3 = 1 THEN $4 ELSE cursor END, "
          // Enabled again: its health starts afresh (domain/health.h).
          "failing_since = CASE WHEN enabled = 0 THEN NULL ELSE failing_since END, "
          "failure_streak = CASE WHEN enabled = 0 THEN 0 ELSE failure_streak END, "
          "probe_count = CASE WHEN enabled = 0 THEN 0 ELSE probe_count END, "
          "enabled = 1, disabled_reason = '', updated_at = $5 WHERE id = $1 AND account_id = $2");
  u->bind(1, id).bind(2, account_id).bind(3, from_head ? 1 : 0).bind(4, p->head).bind(5, now_ms);
  GH_RETURN_IF_ERROR(done(db, u->step(), "enable webhook"));
  return out;
}

Result<Recovered> recover(Db& db, const std::string& account_id, const std::string& id, const RecoverRequest& req) {
  auto w = load_webhook(db, account_id, id);
  if (!w.ok()) return w.error();
  auto p = place_of(db, account_id, id);
  if (!p.ok()) return p.error();
  Recovered out;
  int64_t position;
  {
    // created_at follows seq: the first event ingested at or after since
    // starts the range.
    GH_STMT(f, db,
            "SELECT seq FROM events WHERE account_id = $1 AND seq <= $2 AND created_at >= $3 ORDER BY seq LIMIT 1");
    f->bind(1, account_id).bind(2, p->cursor).bind(3, req.since_ms);
    int rc = f->step();
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return db.error(rc, "recover: first event");
    position = f->i64(0) - 1;
  }
  while (position < p->cursor && out.events < req.max_events) {
    const BatchLimits limits = batch_limits(*w, req.max_batch_bytes, 100);
    const int64_t limit = std::min(events_to_read(limits), req.max_events - out.events);
    std::vector<PendingEvent> rows;
    {
      GH_STMT(s, db,
              "SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1 AND seq > $2 AND "
              "seq <= $3 AND (type & $4) != 0 ORDER BY seq LIMIT $5");
      s->bind(1, account_id).bind(2, position).bind(3, p->cursor).bind(4, p->mask).bind(5, limit);
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) rows.push_back({s->i64(0), s->i64(1), s->i64(2), s->str(3)});
      GH_RETURN_IF_ERROR(done(db, rc, "recover: events"));
    }
    if (rows.empty()) break;
    const Packing packed = pack_batches(rows, position, p->cursor, static_cast<int64_t>(rows.size()) < limit, limits);
    for (const auto& cut : packed.batches) {
      GH_STMT(ins, db,
              "INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, event_count, "
              "created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, lease_until) "
              "VALUES($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $8, $8, 0, NULL, 0)");
      ins->bind(1, new_id("bat", req.now_ms)).bind(2, id).bind(3, account_id).bind(4, cut.first_seq);
      ins->bind(5, cut.last_seq).bind(6, p->mask).bind(7, cut.event_count).bind(8, req.now_ms);
      GH_RETURN_IF_ERROR(done(db, ins->step(), "recover: insert batch"));
      out.events += cut.event_count;
      ++out.batches;
    }
    if (packed.position <= position) break;
    position = packed.position;
  }
  return out;
}

}  // namespace growhook::sqlite
