#include "store/pg_catalog.h"

#include "store/codec.h"
#include "store/pg_ordering.h"
#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

void add_webhook_params(const SecretBox& box, Params& p, const Webhook& w) {
  StoredSecrets sealed = seal_secrets(box, w);
  p.add(w.id).add(w.account_id).add(w.name).add(w.url).add(w.enabled).add(static_cast<int>(w.event_types));
  p.add(w.batch_max_events).add(sealed.auth).add(sealed.secret).add(sealed.previous_secret);
  p.add(w.previous_secret_expires_ms).add(w.disabled_reason).add(w.created_at_ms).add(w.updated_at_ms);
  p.add(w.batch_max_bytes).add(std::string(to_string(w.ordering)));
}

Status load_attempts(Conn& c, std::vector<Batch>& batches) {
  if (batches.empty()) return ok_status();
  std::vector<std::string> ids;
  std::unordered_map<std::string, Batch*> by_id;
  for (auto& b : batches) {
    ids.push_back(b.id);
    by_id[b.id] = &b;
  }
  GH_PG_ASSIGN(r, c.exec("SELECT batch_id, at, status_code, duration_ms, error, response_body FROM attempts "
                         "WHERE batch_id = ANY($1::text[]) ORDER BY batch_id, n",
                         Params().add(text_array(ids))));
  for (int i = 0; i < r->rows(); ++i) {
    by_id[r->str(i, 0)]->attempts.push_back(
        {r->i64(i, 1), static_cast<int>(r->i64(i, 2)), r->i64(i, 3), r->str(i, 4), r->str(i, 5)});
  }
  return ok_status();
}

}  // namespace

Status create_webhook(Conn& c, const Webhook& w) {
  Params p;
  add_webhook_params(c.secrets(), p, w);
  GH_PG_ASSIGN(r, c.exec("INSERT INTO webhooks(id, account_id, name, url, enabled, event_types, batch_max_events, "
                         "auth, secret, previous_secret, previous_secret_expires_at, disabled_reason, created_at, "
                         "updated_at, batch_max_bytes, ordering, cursor) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                         "$10, $11, $12, $13, $14, $15, $16, (SELECT head_seq FROM accounts WHERE id = $2))",
                         p));
  return ok_status();
}

Result<std::vector<Webhook>> list_webhooks(Conn& c, const std::string& account_id, const std::string& after_id,
                                           int limit) {
  GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.account_id = $1::text AND "
                         "w.id > $2::text ORDER BY w.id LIMIT $3::integer",
                         Params().add(account_id).add(after_id).add(limit)));
  std::vector<Webhook> out;
  for (int i = 0; i < r->rows(); ++i) {
    auto w = webhook_from_row(c.secrets(), *r, i);
    if (!w.ok()) return w.error();
    out.push_back(std::move(*w));
  }
  return out;
}

Status update_webhook(Conn& c, const Webhook& w) {
  StoredSecrets sealed = seal_secrets(c.secrets(), w);
  Params p;
  p.add(w.id).add(w.account_id).add(w.name).add(w.url).add(w.enabled).add(static_cast<int>(w.event_types));
  p.add(w.batch_max_events).add(sealed.auth).add(sealed.secret).add(sealed.previous_secret);
  p.add(w.previous_secret_expires_ms).add(w.disabled_reason).add(w.updated_at_ms).add(w.batch_max_bytes);
  p.add(std::string(to_string(w.ordering)));
  GH_PG_ASSIGN(r, c.exec("UPDATE webhooks SET name = $3, url = $4, "
                         // Enabled again: its health starts afresh (domain/health.h).
                         "failing_since = CASE WHEN NOT enabled AND $5::boolean THEN NULL ELSE failing_since END, "
                         "failure_streak = CASE WHEN NOT enabled AND $5::boolean THEN 0 ELSE failure_streak END, "
                         "probe_count = CASE WHEN NOT enabled AND $5::boolean THEN 0 ELSE probe_count END, "
                         // Other types: as in SQLite's (sqlite_catalog.cc).
                         "cursor = CASE WHEN event_types <> $6::smallint AND cursor >= work_seq THEN (SELECT "
                         "head_seq FROM accounts WHERE id = $2::text) ELSE cursor END, "
                         "enabled = $5, event_types = $6, batch_max_events = $7, auth = $8, secret = $9, "
                         "previous_secret = $10, previous_secret_expires_at = $11, disabled_reason = $12, "
                         "updated_at = $13, batch_max_bytes = $14, ordering = $15 WHERE id = $1::text AND "
                         "account_id = $2::text",
                         p));
  if (r->affected() == 0) return Error::not_found("webhook " + w.id + " not found");
  // Ordering "none": no contact waits any more.
  if (w.ordering == Ordering::kNone) return release_every_contact(c, w.id);
  return ok_status();
}

Status delete_webhook(Conn& c, const std::string& account_id, const std::string& id) {
  // The webhook row goes first: that waits for a claim cutting a batch
  // of it (which holds the row), so the later statements, each with a new
  // snapshot, see that batch and its attempts instead of leaving them behind.
  Params p = Params().add(id).add(account_id);
  GH_PG_ASSIGN(w, c.exec("DELETE FROM webhooks WHERE id = $1::text AND account_id = $2::text", p));
  if (w->affected() == 0) return Error::not_found("webhook " + id + " not found");
  GH_PG_RETURN_IF_ERROR(forget_ordering(c, id));
  GH_PG_ASSIGN(b,
               c.exec("DELETE FROM batches WHERE webhook_id = $1::text AND account_id = $2::text RETURNING id", p));
  if (b->rows() == 0) return ok_status();
  std::vector<std::string> ids;
  for (int i = 0; i < b->rows(); ++i) ids.push_back(b->str(i, 0));
  GH_PG_ASSIGN(a,
               c.exec("DELETE FROM attempts WHERE batch_id = ANY($1::text[])", Params().add(text_array(ids))));
  return ok_status();
}

Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(Conn& c, const std::string& account_id,
                                                                    const std::vector<std::string>& ids) {
  GH_PG_ASSIGN(r, c.exec("SELECT i.id, "
                         "(SELECT b.updated_at FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 "
                         "AND b.state = 'delivered' ORDER BY b.id DESC LIMIT 1), "
                         "(SELECT count(*) FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 AND "
                         "b.state = 'failed'), "
                         "(SELECT count(*) FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 AND "
                         "b.state = 'pending'), "
                         "(SELECT coalesce(sum(b.event_count), 0) FROM batches b WHERE b.webhook_id = i.id AND "
                         "b.account_id = $1 AND b.state = 'pending') + "
                         "(SELECT count(*) FROM (SELECT 1 FROM events e JOIN webhooks w ON w.id = i.id AND "
                         "w.account_id = $1 WHERE e.account_id = $1 AND e.seq > w.cursor AND "
                         "(e.type & w.event_types) <> 0 LIMIT $3::bigint) x) + "
                         "(SELECT count(*) FROM (SELECT 1 FROM deferred_events d WHERE d.webhook_id = i.id "
                         "LIMIT $3::bigint) y) "
                         "FROM unnest($2::text[]) AS i(id)",
                         Params().add(account_id).add(text_array(ids)).add(kWaitingCountCap)));
  std::unordered_map<std::string, WebhookStats> out;
  for (int i = 0; i < r->rows(); ++i) {
    WebhookStats st;
    st.last_delivery_at_ms = r->opt_i64(i, 1);
    st.failed_batches = r->i64(i, 2);
    st.pending_batches = r->i64(i, 3);
    st.events_waiting = r->i64(i, 4);
    out.emplace(r->str(i, 0), st);
  }
  return out;
}

Result<std::vector<Batch>> list_batches(Conn& c, const std::string& account_id, const std::string& webhook_id,
                                        std::optional<BatchState> state, const std::string& before_id,
                                        int limit) {
  std::string before = before_id.empty() ? std::string("\x7f") : before_id;
  Params p = Params().add(webhook_id).add(account_id).add(before).add(limit);
  Result<PgResult> r = Error::internal("unreachable");
  if (state) {
    p.add(to_string(*state));
    r = c.exec("SELECT " GH_PG_BATCH_COLUMNS " FROM batches b WHERE b.webhook_id = $1::text AND "
               "b.account_id = $2::text AND b.state = $5::text AND b.id < $3::text "
               "ORDER BY b.id DESC LIMIT $4::integer",
               p);
  } else {
    r = c.exec("SELECT " GH_PG_BATCH_COLUMNS " FROM batches b WHERE b.webhook_id = $1::text AND "
               "b.account_id = $2::text AND b.id < $3::text ORDER BY b.id DESC LIMIT $4::integer",
               p);
  }
  if (!r.ok()) return r.error();
  std::vector<Batch> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(batch_from_row(*r, i));
  GH_PG_RETURN_IF_ERROR(load_attempts(c, out));
  return out;
}

Result<BatchDetail> get_batch(Conn& c, const std::string& account_id, const std::string& batch_id) {
  GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_BATCH_COLUMNS ", b.first_seq, b.last_seq, b.type_mask, b.members FROM "
                         "batches b WHERE b.id = $1::text AND b.account_id = $2::text",
                         Params().add(batch_id).add(account_id)));
  if (r->rows() == 0) return Error::not_found("batch " + batch_id + " not found");
  std::vector<Batch> one{batch_from_row(*r, 0)};
  GH_PG_RETURN_IF_ERROR(load_attempts(c, one));
  int64_t oldest = 0;
  GH_PG_ASSIGN(ev, batch_events(c, account_id, batch_id, r->boolean(0, 11), r->i64(0, 8), r->i64(0, 9),
                                r->i64(0, 10), &oldest));
  return BatchDetail{std::move(one.front()), std::move(*ev)};
}

Status mark_for_retry(Conn& c, const std::string& account_id, const std::string& batch_id, int64_t now_ms) {
  GH_PG_ASSIGN(u, c.exec("UPDATE batches SET state = 'pending', next_attempt_at = $3::bigint, cycle_attempts = 0, "
                         "lease_owner = NULL, lease_until = 0, updated_at = $3::bigint WHERE id = $1::text AND "
                         "account_id = $2::text AND state IN ('failed', 'delivered')",
                         Params().add(batch_id).add(account_id).add(now_ms)));
  if (u->affected() == 1) return notify_work(c);
  GH_PG_ASSIGN(q, c.exec("SELECT state FROM batches WHERE id = $1::text AND account_id = $2::text",
                         Params().add(batch_id).add(account_id)));
  if (q->rows() > 0) {
    return Error::conflict("batch " + batch_id +
                           " is pending already; only failed or delivered batches can be retried");
  }
  return Error::not_found("batch " + batch_id + " not found");
}

Result<int> retry_failed(Conn& c, const std::string& account_id, const std::string& webhook_id, int64_t now_ms) {
  GH_PG_ASSIGN(u, c.exec("UPDATE batches SET state = 'pending', next_attempt_at = $3::bigint, cycle_attempts = 0, "
                         "lease_owner = NULL, lease_until = 0, updated_at = $3::bigint WHERE webhook_id = $1::text "
                         "AND account_id = $2::text AND state = 'failed'",
                         Params().add(webhook_id).add(account_id).add(now_ms)));
  const int n = static_cast<int>(u->affected());
  if (n > 0) GH_PG_RETURN_IF_ERROR(notify_work(c));
  return n;
}

}  // namespace growhook::pg
