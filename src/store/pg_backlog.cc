#include "store/pg_backlog.h"

#include <algorithm>
#include <vector>

#include "common/ids.h"
#include "domain/batching.h"
#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

struct Place {
  int64_t cursor = 0, head = 0, mask = 0;
};

Result<Place> lock_place(Conn& c, const std::string& account_id, const std::string& id) {
  GH_PG_ASSIGN(r, c.exec("SELECT w.cursor, a.head_seq, w.event_types FROM webhooks w JOIN accounts a ON "
                         "a.id = w.account_id WHERE w.id = $1::text AND w.account_id = $2::text FOR UPDATE OF w",
                         Params().add(id).add(account_id)));
  if (r->rows() == 0) return Error::not_found("webhook " + id + " not found");
  return Place{r->i64(0, 0), r->i64(0, 1), r->i64(0, 2)};
}

}  // namespace

Result<Enabled> enable_webhook(Conn& c, const std::string& account_id, const std::string& id, bool from_head,
                               int64_t now_ms) {
  auto p = lock_place(c, account_id, id);
  if (!p.ok()) return p.error();
  Enabled out;
  if (from_head) {
    GH_PG_ASSIGN(n, c.exec("SELECT count(*) FROM events WHERE account_id = $1::text AND seq > $2::bigint AND "
                           "seq <= $3::bigint AND (type & $4::smallint) <> 0",
                           Params().add(account_id).add(p->cursor).add(p->head).add(static_cast<int>(p->mask))));
    out.events_skipped = n->i64(0, 0);
  }
  GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET cursor = CASE WHEN $3::boolean THEN $4::bigint ELSE cursor END, "
                         // Enabled again: its health starts afresh (domain/health.h).
                         "failing_since = CASE WHEN NOT enabled THEN NULL ELSE failing_since END, "
                         "failure_streak = CASE WHEN NOT enabled THEN 0 ELSE failure_streak END, "
                         "probe_count = CASE WHEN NOT enabled THEN 0 ELSE probe_count END, "
                         "enabled = true, disabled_reason = '', updated_at = $5::bigint "
                         "WHERE id = $1::text AND account_id = $2::text",
                         Params().add(id).add(account_id).add(from_head).add(p->head).add(now_ms)));
  GH_PG_RETURN_IF_ERROR(notify_work(c));
  return out;
}

Result<Recovered> recover(Conn& c, const std::string& account_id, const std::string& id, const RecoverRequest& req) {
  auto p = lock_place(c, account_id, id);
  if (!p.ok()) return p.error();
  auto w = load_webhook(c, account_id, id);
  if (!w.ok()) return w.error();
  Recovered out;
  // created_at follows seq: the first event ingested at or after since
  // starts the range.
  GH_PG_ASSIGN(f, c.exec("SELECT seq FROM events WHERE account_id = $1::text AND seq <= $2::bigint AND "
                         "created_at >= $3::bigint ORDER BY seq LIMIT 1",
                         Params().add(account_id).add(p->cursor).add(req.since_ms)));
  if (f->rows() == 0) return out;
  int64_t position = f->i64(0, 0) - 1;
  std::vector<std::string> ids;
  std::vector<int64_t> firsts, lasts, counts;
  while (position < p->cursor && out.events < req.max_events) {
    const BatchLimits limits = batch_limits(*w, req.max_batch_bytes, 100);
    const int64_t limit = std::min(events_to_read(limits), req.max_events - out.events);
    GH_PG_ASSIGN(r, c.exec("SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1::text AND "
                           "seq > $2::bigint AND seq <= $3::bigint AND (type & $4::smallint) <> 0 "
                           "ORDER BY seq LIMIT $5::bigint",
                           Params().add(account_id).add(position).add(p->cursor).add(static_cast<int>(p->mask))
                               .add(limit)));
    if (r->rows() == 0) break;
    std::vector<PendingEvent> rows;
    rows.reserve(r->rows());
    for (int i = 0; i < r->rows(); ++i) rows.push_back({r->i64(i, 0), r->i64(i, 1), r->i64(i, 2), r->str(i, 3)});
    const Packing packed = pack_batches(rows, position, p->cursor, r->rows() < limit, limits);
    for (const auto& cut : packed.batches) {
      ids.push_back(new_id("bat", req.now_ms));
      firsts.push_back(cut.first_seq);
      lasts.push_back(cut.last_seq);
      counts.push_back(cut.event_count);
      out.events += cut.event_count;
      ++out.batches;
    }
    if (packed.position <= position) break;
    position = packed.position;
  }
  if (ids.empty()) return out;
  GH_PG_ASSIGN(ins, c.exec("INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, "
                           "event_count, created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, "
                           "lease_until) SELECT t.id, $2, $3, 'pending', t.first_seq, t.last_seq, $4, t.event_count, "
                           "$5, $5, $5, 0, NULL, 0 FROM unnest($1::text[], $6::bigint[], $7::bigint[], "
                           "$8::integer[]) AS t(id, first_seq, last_seq, event_count)",
                           Params().add(text_array(ids)).add(id).add(account_id).add(static_cast<int>(p->mask))
                               .add(req.now_ms).add(int_array(firsts)).add(int_array(lasts)).add(int_array(counts))));
  GH_PG_RETURN_IF_ERROR(notify_work(c));
  return out;
}

}  // namespace growhook::pg
