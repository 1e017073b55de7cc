#include "store/sqlite_catalog.h"

#include "store/codec.h"
#include "store/sqlite_ordering.h"
#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

void bind_webhook(const SecretBox& box, Stmt& s, const Webhook& w) {
  StoredSecrets sealed = seal_secrets(box, w);
  s.bind(1, w.id).bind(2, w.account_id).bind(3, w.name).bind(4, w.url).bind(5, w.enabled ? 1 : 0);
  s.bind(6, static_cast<int>(w.event_types)).bind(7, w.batch_max_events).bind(8, sealed.auth);
  s.bind(9, sealed.secret).bind(10, sealed.previous_secret).bind(11, w.previous_secret_expires_ms);
  s.bind(12, w.disabled_reason).bind(13, w.created_at_ms).bind(14, w.updated_at_ms).bind(15, w.batch_max_bytes);
  s.bind(16, to_string(w.ordering));
}

Status collect_batches(Db& db, Stmt& s, std::vector<Batch>& out) {
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(batch_from_row(s));
  if (rc != SQLITE_DONE) return db.error(rc, "list_batches");
  return ok_status();
}

}  // namespace

Status create_webhook(Db& db, const Webhook& w) {
  GH_STMT(s, db,
          "INSERT INTO webhooks(id, account_id, name, url, enabled, event_types, batch_max_events, auth, "
          "secret, previous_secret, previous_secret_expires_at, disabled_reason, created_at, updated_at, "
          "batch_max_bytes, ordering, cursor) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
          "$14, $15, $16, (SELECT head_seq FROM accounts WHERE id = $2))");
  bind_webhook(db.secrets(), *s, w);
  return done(db, s->step(), "create_webhook");
}

Result<std::vector<Webhook>> list_webhooks(Db& db, const std::string& account_id, const std::string& after_id,
                                           int limit) {
  GH_STMT(s, db,
          "SELECT " GH_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.account_id = $1 AND w.id > $2 "
          "ORDER BY w.id LIMIT $3");
  s->bind(1, account_id).bind(2, after_id).bind(3, limit);
  std::vector<Webhook> out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    auto w = webhook_from_row(db.secrets(), *s);
    if (!w.ok()) return w.error();
    out.push_back(std::move(*w));
  }
  if (rc != SQLITE_DONE) return db.error(rc, "list_webhooks");
  return out;
}

Status update_webhook(Db& db, const Webhook& w) {
  GH_STMT(s, db,
          "UPDATE webhooks SET name = $3, url = $4, "
          // Enabled again: its health starts afresh (domain/health.h).
          "failing_since = CASE WHEN enabled = 0 AND $5 = 1 THEN NULL ELSE failing_since END, "
          "failure_streak = CASE WHEN enabled = 0 AND $5 = 1 THEN 0 ELSE failure_streak END, "
          "probe_count = CASE WHEN enabled = 0 AND $5 = 1 THEN 0 ELSE probe_count END, "
          // Other types, and nothing of the old ones to cut: its position
          // moves to the head, so that it gets the new types' later events
          // only, as a new webhook does (the position stays put while no
          // event of its types arrives: work_queue.h).
          "cursor = CASE WHEN event_types <> $6 AND cursor >= work_seq THEN (SELECT head_seq FROM accounts WHERE "
          "id = $2) ELSE cursor END, "
          "enabled = $5, event_types = $6, batch_max_events = $7, auth = $8, secret = $9, "
          "previous_secret = $10, previous_secret_expires_at = $11, disabled_reason = $12, updated_at = $14, "
          "batch_max_bytes = $15, ordering = $16 WHERE id = $1 AND account_id = $2");
  bind_webhook(db.secrets(), *s, w);
  GH_RETURN_IF_ERROR(done(db, s->step(), "update_webhook"));
  if (db.changes() == 0) return Error::not_found("webhook " + w.id + " not found");
  // Ordering "none": no contact waits any more.
  if (w.ordering == Ordering::kNone) return release_every_contact(db, w.id);
  return ok_status();
}

Status delete_webhook(Db& db, const std::string& account_id, const std::string& id) {
  {
    GH_STMT(a, db,
            "DELETE FROM attempts WHERE batch_id IN (SELECT b.id FROM batches b WHERE b.webhook_id = $1 "
            "AND +b.account_id = $2)");
    a->bind(1, id).bind(2, account_id);
    GH_RETURN_IF_ERROR(done(db, a->step(), "delete attempts"));
  }
  {
    // "+": the webhook's index, not the account's (which also has every
    // other webhook's batches).
    GH_STMT(b, db, "DELETE FROM batches WHERE webhook_id = $1 AND +account_id = $2");
    b->bind(1, id).bind(2, account_id);
    GH_RETURN_IF_ERROR(done(db, b->step(), "delete batches"));
  }
  GH_STMT(w, db, "DELETE FROM webhooks WHERE id = $1 AND account_id = $2");
  w->bind(1, id).bind(2, account_id);
  GH_RETURN_IF_ERROR(done(db, w->step(), "delete webhook"));
  if (db.changes() == 0) return Error::not_found("webhook " + id + " not found");
  GH_RETURN_IF_ERROR(forget_ordering(db, id));
  return ok_status();
}

Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(
    Db& db, const std::string& account_id, const std::vector<std::string>& ids) {
  std::unordered_map<std::string, WebhookStats> out;
  for (const auto& id : ids) {
    WebhookStats st;
    {
      GH_STMT(s, db,
              "SELECT updated_at FROM batches WHERE webhook_id = $1 AND account_id = $2 AND state = "
              "'delivered' ORDER BY id DESC LIMIT 1");
      s->bind(1, id).bind(2, account_id);
      if (s->step() == SQLITE_ROW) st.last_delivery_at_ms = s->i64(0);
    }
    {
      GH_STMT(c, db,
              "SELECT state, count(*), sum(event_count) FROM batches WHERE webhook_id = $1 AND account_id = $2 "
              "AND state IN ('pending', 'failed') GROUP BY state");
      c->bind(1, id).bind(2, account_id);
      while (c->step() == SQLITE_ROW) {
        if (c->text(0) == "failed") {
          st.failed_batches = c->i64(1);
        } else {
          st.pending_batches = c->i64(1);
          st.events_waiting = c->i64(2);
        }
      }
    }
    GH_STMT(w, db,
            "SELECT count(*) FROM (SELECT 1 FROM events e JOIN webhooks w ON w.id = $1 AND w.account_id = $2 "
            "WHERE e.account_id = $2 AND e.seq > w.cursor AND (e.type & w.event_types) != 0 LIMIT $3)");
    w->bind(1, id).bind(2, account_id).bind(3, kWaitingCountCap);
    if (w->step() == SQLITE_ROW) st.events_waiting += w->i64(0);
    GH_STMT(d, db, "SELECT count(*) FROM (SELECT 1 FROM deferred_events WHERE webhook_id = $1 LIMIT $2)");
    d->bind(1, id).bind(2, kWaitingCountCap);
    if (d->step() == SQLITE_ROW) st.events_waiting += d->i64(0);
    out.emplace(id, st);
  }
  return out;
}

Result<std::vector<Batch>> list_batches(Db& db, const std::string& account_id, const std::string& webhook_id,
                                        std::optional<BatchState> state, const std::string& before_id,
                                        int limit) {
  std::string before = before_id.empty() ? std::string("\x7f") : before_id;
  std::vector<Batch> out;
  if (state) {
    GH_STMT(s, db,
            "SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, "
            "cycle_attempts FROM batches WHERE webhook_id = $1 AND account_id = $2 AND state = $3 AND id < $4 "
            "ORDER BY id DESC LIMIT $5");
    s->bind(1, webhook_id).bind(2, account_id).bind(3, to_string(*state)).bind(4, before).bind(5, limit);
    GH_RETURN_IF_ERROR(collect_batches(db, *s, out));
  } else {
    // Every state: the three ranges of batches(webhook_id, state, id)
    // merged by id, reading no more rows than the page (there is no
    // index on (webhook_id, id): one fewer for every batch to update).
#define GH_BATCHES_OF_STATE(state)                                                                     \
"SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, cycle_attempts " \
"FROM batches WHERE webhook_id = $1 AND account_id = $2 AND state = '" state "' AND id < $4"
    GH_STMT(s, db,
            GH_BATCHES_OF_STATE("pending") " UNION ALL " GH_BATCHES_OF_STATE("delivered") " UNION ALL "
                GH_BATCHES_OF_STATE("failed") " ORDER BY id DESC LIMIT $5");
#undef GH_BATCHES_OF_STATE
    s->bind(1, webhook_id).bind(2, account_id).bind(4, before).bind(5, limit);
    GH_RETURN_IF_ERROR(collect_batches(db, *s, out));
  }
  for (auto& b : out) GH_RETURN_IF_ERROR(load_attempts(db, b));
  return out;
}

Result<BatchDetail> get_batch(Db& db, const std::string& account_id, const std::string& batch_id) {
  GH_STMT(s, db,
          "SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, cycle_attempts, "
          "first_seq, last_seq, type_mask, members FROM batches WHERE id = $1 AND account_id = $2");
  s->bind(1, batch_id).bind(2, account_id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return Error::not_found("batch " + batch_id + " not found");
  if (rc != SQLITE_ROW) return db.error(rc, "get_batch");
  BatchDetail d;
  d.batch = batch_from_row(*s);
  const BatchSpanRef span{d.batch.id, s->i64(11) != 0, s->i64(8), s->i64(9), s->i64(10)};
  GH_RETURN_IF_ERROR(load_attempts(db, d.batch));
  int64_t oldest = 0;
  auto ev = batch_events(db, account_id, span, &oldest);
  if (!ev.ok()) return ev.error();
  d.events_json = std::move(*ev);
  return d;
}

Status mark_for_retry(Db& db, const std::string& account_id, const std::string& batch_id, int64_t now_ms) {
  GH_STMT(u, db,
          "UPDATE batches SET state = 'pending', next_attempt_at = $3, cycle_attempts = 0, lease_owner = NULL, "
          "lease_until = 0, updated_at = $3 WHERE id = $1 AND account_id = $2 AND state IN ('failed', "
          "'delivered')");
  u->bind(1, batch_id).bind(2, account_id).bind(3, now_ms);
  GH_RETURN_IF_ERROR(done(db, u->step(), "retry_batch"));
  if (db.changes() == 1) return ok_status();
  GH_STMT(q, db, "SELECT state FROM batches WHERE id = $1 AND account_id = $2");
  q->bind(1, batch_id).bind(2, account_id);
  if (q->step() == SQLITE_ROW)
    return Error::conflict("batch " + batch_id + " is pending already; only failed or delivered batches can be retried");
  return Error::not_found("batch " + batch_id + " not found");
}

Result<int> retry_failed(Db& db, const std::string& account_id, const std::string& webhook_id, int64_t now_ms) {
  GH_STMT(u, db,
          "UPDATE batches SET state = 'pending', next_attempt_at = $3, cycle_attempts = 0, lease_owner = NULL, "
          "lease_until = 0, updated_at = $3 WHERE webhook_id = $1 AND account_id = $2 AND state = 'failed'");
  u->bind(1, webhook_id).bind(2, account_id).bind(3, now_ms);
  GH_RETURN_IF_ERROR(done(db, u->step(), "retry_failed"));
  return static_cast<int>(db.changes());
}

}  // namespace growhook::sqlite
