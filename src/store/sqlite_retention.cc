#include "store/sqlite_retention.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite_rows.h"

namespace growhook::sqlite {

namespace {

// Finished batches past their retention, at most `limit`, with their
// attempts and listed events (ordering "contact"); how many went.
Result<int> prune_batches(Db& db, int64_t delivered_before_ms, int64_t failed_before_ms, int limit) {
  int deleted = 0;
  std::vector<std::string> ids;
  {
    GH_STMT(q, db,
            "SELECT id FROM batches WHERE (state = 'delivered' AND state <> 'pending' AND updated_at < $1) OR "
            "(state = 'failed' AND state <> 'pending' AND updated_at < $2) LIMIT $3");
    q->bind(1, delivered_before_ms).bind(2, failed_before_ms).bind(3, limit);
    while (q->step() == SQLITE_ROW) ids.push_back(q->str(0));
  }
  for (const auto& id : ids) {
    {
      GH_STMT(a, db, "DELETE FROM attempts WHERE batch_id = $1");
      a->bind(1, id);
      GH_RETURN_IF_ERROR(done(db, a->step(), "prune attempts"));
    }
    {
      GH_STMT(m, db, "DELETE FROM batch_members WHERE batch_id = $1");
      m->bind(1, id);
      GH_RETURN_IF_ERROR(done(db, m->step(), "prune batch members"));
    }
    GH_STMT(b, db, "DELETE FROM batches WHERE id = $1");
    b->bind(1, id);
    GH_RETURN_IF_ERROR(done(db, b->step(), "prune batches"));
    ++deleted;
  }
  return deleted;
}

}  // namespace

Result<int> prune(Db& db, int64_t delivered_before_ms, int64_t failed_before_ms, int limit) {
  auto batches = prune_batches(db, delivered_before_ms, failed_before_ms, limit);
  if (!batches.ok()) return batches.error();
  const int deleted = *batches;
  // Events below every enabled webhook's position and deferred event
  // (ordering "contact") and every remaining batch of their account, older
  // than the shorter retention, are needed by nobody
  // (a disabled webhook does not hold them: backlog.h). A webhook with
  // nothing of its types to cut counts as at the head (its position stays
  // put while no event of its types arrives: work_queue.h). The step looks
  // at accounts whose prune_at has passed (accounts_to_prune; schema 12),
  // at most `limit` of them, oldest first: the others have nothing old.
  // Each is read from its oldest event on, at most `limit` rows a step
  // (created_at follows seq), so a step never reads the events that stay.
  // (A filter on created_at over the whole table read every event under
  // the write lock; a loop over every account read them all, every step.)
  // The shorter period (the later time) applies to events: a failed batch
  // kept longer holds its own events through the bound above.
  const int64_t created_before = std::max(delivered_before_ms, failed_before_ms);
  std::vector<std::pair<std::string, int64_t>> accounts;
  {
    GH_STMT(q, db,
            "SELECT id, head_seq FROM accounts INDEXED BY accounts_to_prune WHERE prune_at IS NOT NULL AND "
            "prune_at <= $1 ORDER BY prune_at LIMIT $2");
    q->bind(1, created_before).bind(2, limit);
    int rc;
    while ((rc = q->step()) == SQLITE_ROW) accounts.emplace_back(q->str(0), q->i64(1));
    GH_RETURN_IF_ERROR(done(db, rc, "prune: accounts"));
  }
  int events_deleted = 0;
  for (const auto& [account, head] : accounts) {
    if (events_deleted < limit) {
      int64_t upto;
      {
        GH_STMT(q, db,
                "SELECT min(coalesce((SELECT min(CASE WHEN cursor < work_seq THEN cursor ELSE $2 END) FROM "
                "webhooks WHERE account_id = $1 AND enabled = 1), $2), coalesce((SELECT min(first_seq) - 1 FROM "
                "batches WHERE account_id = $1), $2), coalesce((SELECT min(d.seq) - 1 FROM deferred_events d JOIN "
                "webhooks w ON w.id = d.webhook_id WHERE w.account_id = $1 AND w.enabled = 1), $2))");
        q->bind(1, account).bind(2, head);
        int rc = q->step();
        if (rc != SQLITE_ROW) return db.error(rc, "prune: bound");
        upto = q->i64(0);
      }
      GH_STMT(e, db,
              "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE account_id = $1 AND seq <= $2 "
              "ORDER BY seq LIMIT $3) AND created_at < $4");
      e->bind(1, account).bind(2, upto).bind(3, limit - events_deleted).bind(4, created_before);
      GH_RETURN_IF_ERROR(done(db, e->step(), "prune events"));
      events_deleted += static_cast<int>(db.changes());
    }
    // Its next look: when its oldest event comes of age, or, when that one
    // is old already (still needed, or more than this step deleted), after
    // the accounts not looked at since this bound.
    GH_STMT(u, db,
            "UPDATE accounts SET prune_at = (SELECT CASE WHEN e.created_at < $2 THEN $2 ELSE e.created_at END "
            "FROM events e WHERE e.account_id = $1 ORDER BY e.seq LIMIT 1) WHERE id = $1");
    u->bind(1, account).bind(2, created_before);
    GH_RETURN_IF_ERROR(done(db, u->step(), "prune: next look"));
  }
  return deleted + events_deleted;
}

Result<StoreCounts> counts(Db& db) {
  StoreCounts c;
  {
    // Each count from its partial index: pending ones from batches_due,
    // failed ones from batches_finished (the query must name its
    // condition for SQLite to use it).
    GH_STMT(s, db,
            "SELECT (SELECT count(*) FROM batches WHERE state = 'pending'), "
            "(SELECT count(*) FROM batches WHERE state = 'failed' AND state <> 'pending')");
    if (s->step() == SQLITE_ROW) {
      c.pending_batches = s->i64(0);
      c.failed_batches = s->i64(1);
    }
  }
  {
    GH_STMT(s, db, "SELECT count(*) FROM batches WHERE state = 'pending' AND cycle_attempts > 0");
    if (s->step() == SQLITE_ROW) c.retry_scheduled = s->i64(0);
  }
  GH_STMT(s, db,
          "SELECT coalesce(sum((SELECT count(*) FROM events e WHERE e.account_id = w.account_id AND e.seq > "
          "w.cursor AND (e.type & w.event_types) != 0)), 0) FROM webhooks w INDEXED BY webhooks_with_work "
          "WHERE w.enabled = 1 AND w.cursor < w.work_seq");
  if (s->step() == SQLITE_ROW) c.pending_events = s->i64(0);
  GH_STMT(h, db,
          "SELECT coalesce(sum(enabled = 1 AND failing_since IS NOT NULL), 0), coalesce(sum(enabled = 0), 0) "
          "FROM webhooks");
  if (h->step() == SQLITE_ROW) {
    c.failing_webhooks = h->i64(0);
    c.disabled_webhooks = h->i64(1);
  }
  return c;
}

}  // namespace growhook::sqlite
