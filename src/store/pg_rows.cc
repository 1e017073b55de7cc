#include "store/pg_rows.h"

#include "domain/batching.h"
#include "store/codec.h"

namespace growhook::pg {

Status Tx::begin() {
  // One round trip either way: both statements go in one simple query.
  auto s = c_.exec_simple(relaxed_ ? "BEGIN; SET LOCAL synchronous_commit TO off" : "BEGIN");
  open_ = s.ok();
  return s;
}

Status Tx::commit() {
  open_ = false;
  // COMMIT in a failed transaction answers "ROLLBACK" without an error.
  if (PQtransactionStatus(c_.raw()) != PQTRANS_INTRANS) {
    (void)c_.make_idle();
    return Error::internal("PostgreSQL: the transaction failed before its commit");
  }
  return c_.exec_simple("COMMIT");
}

Result<Webhook> webhook_from_row(const SecretBox& box, const PgResult& r, int row, int c) {
  Webhook w;
  w.id = r.str(row, c + 0);
  w.account_id = r.str(row, c + 1);
  w.name = r.str(row, c + 2);
  w.url = r.str(row, c + 3);
  w.enabled = r.boolean(row, c + 4);
  w.event_types = static_cast<uint8_t>(r.i64(row, c + 5));
  w.batch_max_events = static_cast<int>(r.i64(row, c + 6));
  w.previous_secret_expires_ms = r.i64(row, c + 10);
  w.disabled_reason = r.str(row, c + 11);
  w.created_at_ms = r.i64(row, c + 12);
  w.updated_at_ms = r.i64(row, c + 13);
  w.batch_max_bytes = static_cast<int>(r.i64(row, c + 14));
  w.health = health_from_row(r, row, c + 15);
  w.ordering = parse_ordering(r.str(row, c + 20)).value_or(Ordering::kNone);
  if (auto o = open_secrets(box, {w.id, r.str(row, c + 7), r.str(row, c + 8), r.str(row, c + 9)}, w); !o.ok())
    return o.error();
  return w;
}

WebhookHealth health_from_row(const PgResult& r, int row, int c) {
  WebhookHealth h;
  h.failing_since_ms = r.opt_i64(row, c + 0);
  h.failure_streak = static_cast<int>(r.i64(row, c + 1));
  h.probe_count = static_cast<int>(r.i64(row, c + 2));
  h.next_probe_at_ms = r.i64(row, c + 3);
  h.last_error = r.str(row, c + 4);
  return h;
}

Batch batch_from_row(const PgResult& r, int row, int c) {
  Batch b;
  b.id = r.str(row, c + 0);
  b.webhook_id = r.str(row, c + 1);
  b.account_id = r.str(row, c + 2);
  b.state = parse_batch_state(r.text(row, c + 3)).value_or(BatchState::kPending);
  b.event_count = static_cast<int>(r.i64(row, c + 4));
  b.created_at_ms = r.i64(row, c + 5);
  if (b.state == BatchState::kPending) b.next_attempt_at_ms = r.opt_i64(row, c + 6);
  b.cycle_attempts = static_cast<int>(r.i64(row, c + 7));
  return b;
}

Result<Webhook> load_webhook(Conn& c, const std::string& account_id, const std::string& id) {
  GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = $1::text AND "
                         "($2::text = '' OR w.account_id = $2::text)",
                         Params().add(id).add(account_id)));
  if (r->rows() == 0) return Error::not_found("webhook " + id + " not found");
  return webhook_from_row(c.secrets(), *r, 0);
}

Result<std::string> batch_events(Conn& c, const std::string& account_id, const std::string& batch_id, bool members,
                                 int64_t first_seq, int64_t last_seq, int64_t type_mask, int64_t* oldest_created) {
  Result<PgResult> r =
      members ? c.exec("SELECT m.seq, e.occurred_at, e.created_at, e.body FROM batch_members m CROSS JOIN LATERAL "
                       "(SELECT occurred_at, created_at, body FROM events WHERE account_id = $2::text AND seq = "
                       "m.seq) e WHERE m.batch_id = $1::text ORDER BY m.seq",
                       Params().add(batch_id).add(account_id))
              : c.exec("SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1::text AND "
                       "seq >= $2::bigint AND seq <= $3::bigint AND (type & $4::smallint) <> 0 ORDER BY seq",
                       Params().add(account_id).add(first_seq).add(last_seq).add(type_mask));
  if (!r.ok()) return r.error();
  std::vector<PendingEvent> rows;
  rows.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) rows.push_back({r->i64(i, 0), r->i64(i, 1), r->i64(i, 2), r->str(i, 3)});
  *oldest_created = oldest_created_at_ms(rows);
  return batch_events_json(rows);
}

Status notify_work(Conn& c) {
  GH_PG_ASSIGN(r, c.exec("SELECT pg_notify('growhook_work', '')"));
  return ok_status();
}

}  // namespace growhook::pg
