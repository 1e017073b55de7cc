#include "store/sqlite_activity.h"

#include <map>

#include "store/sqlite_rows.h"

namespace growhook::sqlite {

Result<std::vector<ActivityBucket>> webhook_activity(Db& db, const std::string& account_id,
                                                     const std::string& webhook_id, int64_t since_ms) {
  {
    GH_STMT(s, db, "SELECT 1 FROM webhooks WHERE id = $1 AND account_id = $2");
    s->bind(1, webhook_id).bind(2, account_id);
    int rc = s->step();
    if (rc == SQLITE_DONE) return Error::not_found("webhook " + webhook_id + " not found");
    if (rc != SQLITE_ROW) return db.error(rc, "the webhook of its stats");
  }
  std::map<int64_t, ActivityCounts> hours;  // by hour number since the epoch
  {
    // batches_finished_by_webhook: the term "state <> 'pending'" is its WHERE.
    GH_STMT(s, db,
            "SELECT updated_at / 3600000, state = 'delivered', count(*), sum(event_count) FROM batches "
            "WHERE webhook_id = $1 AND state <> 'pending' AND updated_at >= $2 GROUP BY 1, 2");
    s->bind(1, webhook_id).bind(2, since_ms);
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      ActivityCounts& c = hours[s->i64(0)];
      if (s->i64(1) != 0) {
        c.batches_delivered += s->i64(2);
        c.events_delivered += s->i64(3);
      } else {
        c.batches_failed += s->i64(2);
      }
    }
    if (rc != SQLITE_DONE) return db.error(rc, "the webhook's finished batches");
  }
  {
    // A batch's updated_at is at least its last attempt's time, so the
    // finished batches updated since since_ms hold every attempt made since
    // then that a finished batch has; pending ones are read whole
    // (batches_by_webhook_state), then each batch's attempts by key.
    GH_STMT(s, db,
            "WITH b(id) AS (SELECT id FROM batches WHERE webhook_id = $1 AND state <> 'pending' AND updated_at >= $2 "
            "UNION ALL SELECT id FROM batches WHERE webhook_id = $1 AND state = 'pending') "
            "SELECT a.at / 3600000, count(*) FROM b JOIN attempts a ON a.batch_id = b.id "
            "WHERE a.at >= $2 AND a.error <> '' GROUP BY 1");
    s->bind(1, webhook_id).bind(2, since_ms);
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) hours[s->i64(0)].attempts_failed += s->i64(1);
    if (rc != SQLITE_DONE) return db.error(rc, "the webhook's failed attempts");
  }
  std::vector<ActivityBucket> out;
  out.reserve(hours.size());
  for (const auto& [h, c] : hours) out.push_back({h * kHourMs, c});
  return out;
}

}  // namespace growhook::sqlite
