#include "store/sqlite_rows.h"

#include <vector>

#include "domain/batching.h"
#include "store/codec.h"

namespace growhook::sqlite {

Status done(Db& db, int rc, std::string_view what) {
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return ok_status();
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return Error::conflict(std::string(what) + ": " + db.errmsg());
  return db.error(rc, what);
}

Result<Webhook> webhook_from_row(const SecretBox& box, const Stmt& s, int c) {
  Webhook w;
  w.id = s.str(c + 0);
  w.account_id = s.str(c + 1);
  w.name = s.str(c + 2);
  w.url = s.str(c + 3);
  w.enabled = s.i64(c + 4) != 0;
  w.event_types = static_cast<uint8_t>(s.i64(c + 5));
  w.batch_max_events = static_cast<int>(s.i64(c + 6));
  w.previous_secret_expires_ms = s.i64(c + 10);
  w.disabled_reason = s.str(c + 11);
  w.created_at_ms = s.i64(c + 12);
  w.updated_at_ms = s.i64(c + 13);
  w.batch_max_bytes = static_cast<int>(s.i64(c + 14));
  w.health = health_from_row(s, c + 15);
  w.ordering = parse_ordering(s.text(c + 20)).value_or(Ordering::kNone);
  if (auto o = open_secrets(box, {w.id, s.str(c + 7), s.str(c + 8), s.str(c + 9)}, w); !o.ok()) return o.error();
  return w;
}

WebhookHealth health_from_row(const Stmt& s, int c) {
  WebhookHealth h;
  h.failing_since_ms = s.opt_i64(c + 0);
  h.failure_streak = static_cast<int>(s.i64(c + 1));
  h.probe_count = static_cast<int>(s.i64(c + 2));
  h.next_probe_at_ms = s.i64(c + 3);
  h.last_error = s.str(c + 4);
  return h;
}

Batch batch_from_row(const Stmt& s) {
  Batch b;
  b.id = s.str(0);
  b.webhook_id = s.str(1);
  b.account_id = s.str(2);
  b.state = parse_batch_state(s.text(3)).value_or(BatchState::kPending);
  b.event_count = static_cast<int>(s.i64(4));
  b.created_at_ms = s.i64(5);
  if (b.state == BatchState::kPending) b.next_attempt_at_ms = s.opt_i64(6);
  b.cycle_attempts = static_cast<int>(s.i64(7));
  return b;
}

Result<Webhook> load_webhook(Db& db, const std::string& account_id, const std::string& id) {
  GH_STMT(s, db,
          "SELECT " GH_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = $1 AND ($2 = '' OR w.account_id = $2)");
  s->bind(1, id).bind(2, account_id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return Error::not_found("webhook " + id + " not found");
  if (rc != SQLITE_ROW) return db.error(rc, "get_webhook");
  return webhook_from_row(db.secrets(), *s);
}

Result<Batch> load_batch(Db& db, const std::string& id) {
  GH_STMT(s, db,
          "SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, cycle_attempts "
          "FROM batches WHERE id = $1");
  s->bind(1, id);
  int rc = s->step();
  if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? Error::not_found("batch " + id) : db.error(rc, "batch");
  return batch_from_row(*s);
}

Status load_attempts(Db& db, Batch& b) {
  GH_STMT(s, db,
          "SELECT at, status_code, duration_ms, error, response_body FROM attempts WHERE batch_id = $1 ORDER BY n");
  s->bind(1, b.id);
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    b.attempts.push_back({s->i64(0), static_cast<int>(s->i64(1)), s->i64(2), s->str(3), s->str(4)});
  }
  if (rc != SQLITE_DONE) return db.error(rc, "attempts");
  return ok_status();
}

Result<std::string> batch_events(Db& db, const std::string& account_id, const BatchSpanRef& batch,
                                 int64_t* oldest_created) {
  std::vector<PendingEvent> rows;
  auto collect = [&](Stmt& s) {
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) rows.push_back({s.i64(0), s.i64(1), s.i64(2), s.str(3)});
    return rc;
  };
  int rc;
  if (batch.members) {
    GH_STMT(s, db,
            "SELECT e.seq, e.occurred_at, e.created_at, e.body FROM batch_members m JOIN events e ON e.seq = m.seq "
            "WHERE m.batch_id = $1 AND e.account_id = $2 ORDER BY m.seq");
    s->bind(1, batch.id).bind(2, account_id);
    rc = collect(*s);
  } else {
    GH_STMT(s, db,
            "SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1 AND seq >= $2 AND "
            "seq <= $3 AND (type & $4) != 0 ORDER BY seq");
    s->bind(1, account_id).bind(2, batch.first).bind(3, batch.last).bind(4, batch.mask);
    rc = collect(*s);
  }
  if (rc != SQLITE_DONE) return db.error(rc, "batch events");
  *oldest_created = oldest_created_at_ms(rows);
  return batch_events_json(rows);
}

}  // namespace growhook::sqlite
