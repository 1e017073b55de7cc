#include "store/pg_activity.h"

#include <map>

#include "store/pg_rows.h"

namespace growhook::pg {

// The same three reads as SQLite's (sqlite_activity.cc says why they find
// every attempt), on the same indexes.
Result<std::vector<ActivityBucket>> webhook_activity(Conn& c, const std::string& account_id,
                                                     const std::string& webhook_id, int64_t since_ms) {
  GH_PG_ASSIGN(w, c.exec("SELECT 1 FROM webhooks WHERE id = $1::text AND account_id = $2::text",
                         Params().add(webhook_id).add(account_id)));
  if (w->rows() == 0) return Error::not_found("webhook " + webhook_id + " not found");
  std::map<int64_t, ActivityCounts> hours;  // by hour number since the epoch
  // batches_finished_by_webhook: the term "state <> 'pending'" is its WHERE.
  GH_PG_ASSIGN(b, c.exec("SELECT updated_at / 3600000, state = 'delivered', count(*), sum(event_count)::bigint "
                         "FROM batches WHERE webhook_id = $1::text AND state <> 'pending' AND updated_at >= "
                         "$2::bigint GROUP BY 1, 2",
                         Params().add(webhook_id).add(since_ms)));
  for (int i = 0; i < b->rows(); ++i) {
    ActivityCounts& n = hours[b->i64(i, 0)];
    if (b->boolean(i, 1)) {
      n.batches_delivered += b->i64(i, 2);
      n.events_delivered += b->i64(i, 3);
    } else {
      n.batches_failed += b->i64(i, 2);
    }
  }
  GH_PG_ASSIGN(a, c.exec("WITH b AS (SELECT id FROM batches WHERE webhook_id = $1::text AND state <> 'pending' "
                         "AND updated_at >= $2::bigint UNION ALL SELECT id FROM batches WHERE webhook_id = $1::text "
                         "AND state = 'pending') SELECT a.at / 3600000, count(*) FROM b JOIN attempts a ON "
                         "a.batch_id = b.id WHERE a.at >= $2::bigint AND a.error <> '' GROUP BY 1",
                         Params().add(webhook_id).add(since_ms)));
  for (int i = 0; i < a->rows(); ++i) hours[a->i64(i, 0)].attempts_failed += a->i64(i, 1);
  std::vector<ActivityBucket> out;
  out.reserve(hours.size());
  for (const auto& [h, n] : hours) out.push_back({h * kHourMs, n});
  return out;
}

}  // namespace growhook::pg
