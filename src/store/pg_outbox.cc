#include "store/pg_outbox.h"

#include "store/pg_rows.h"

namespace growhook::pg {

Status set_notification_email(Conn& c, const std::string& account_id, const std::optional<std::string>& email) {
  Params p;
  p.add(account_id);
  if (email) {
    p.add(*email);
  } else {
    p.add_null();
  }
  GH_PG_ASSIGN(r, c.exec("UPDATE accounts SET notification_email = $2::text WHERE id = $1::text", p));
  if (r->affected() == 0) return Error::not_found("account " + account_id + " not found");
  return ok_status();
}

Status enqueue_notifications(Conn& c, const std::string& webhook_id, const HealthNews& news) {
  GH_PG_ASSIGN(r, c.exec("INSERT INTO notifications(id, channel, account_id, webhook_id, kind, at, failing_since, "
                         "reason, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at) "
                         "SELECT $1::text, ch.channel, w.account_id, w.id, $2::text, $3::bigint, $4::bigint, "
                         "$5::text, 'pending', 0, $3::bigint, NULL, 0, '', $3::bigint FROM webhooks w "
                         "CROSS JOIN (VALUES ('email'), ('platform')) AS ch(channel) WHERE w.id = $6::text "
                         "ON CONFLICT (id, channel) DO NOTHING",
                         Params()
                             .add(notification_key(webhook_id, news.kind, news.at_ms))
                             .add(news.kind)
                             .add(news.at_ms)
                             .add(news.failing_since_ms)
                             .add(clean_text(news.reason))
                             .add(webhook_id)));
  return ok_status();
}

Result<std::vector<Notification>> claim_notifications(Conn& c, const std::string& owner, int64_t now_ms,
                                                      int64_t lease_ms, int limit) {
  GH_PG_ASSIGN(r, c.exec("UPDATE notifications n SET lease_owner = $1::text, lease_until = $2::bigint + $3::bigint "
                         "FROM (SELECT id, channel FROM notifications WHERE state = 'pending' AND next_attempt_at <= "
                         "$2::bigint AND lease_until <= $2::bigint ORDER BY next_attempt_at LIMIT $4::int "
                         "FOR UPDATE SKIP LOCKED) d WHERE n.id = d.id AND n.channel = d.channel "
                         "RETURNING n.id, n.channel, n.account_id, n.webhook_id, n.kind, n.at, n.failing_since, "
                         "n.reason, n.attempts",
                         Params().add(owner).add(now_ms).add(lease_ms).add(limit)));
  std::vector<Notification> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->str(i, 0),
                   r->text(i, 1) == "platform" ? NotificationChannel::kPlatform : NotificationChannel::kEmail,
                   r->str(i, 2), r->str(i, 3), r->str(i, 4), r->i64(i, 5), r->i64(i, 6), r->str(i, 7),
                   static_cast<int>(r->i64(i, 8))});
  }
  return out;
}

Result<bool> finish_notification(Conn& c, const std::string& owner, const NotificationDone& d, int64_t now_ms) {
  const char* state = notification_state(d.outcome);
  const int64_t next = d.outcome == NotificationDone::Outcome::kRetry ? d.retry_at_ms : now_ms;
  GH_PG_ASSIGN(r, c.exec("UPDATE notifications SET state = $4::text, attempts = attempts + 1, next_attempt_at = "
                         "$5::bigint, last_error = $6::text, lease_owner = NULL, lease_until = 0, updated_at = "
                         "$7::bigint WHERE id = $1::text AND channel = $2::text AND lease_owner = $3::text AND "
                         "state = 'pending'",
                         Params().add(d.id).add(to_string(d.channel)).add(owner).add(state).add(next).add(
                             clean_text(d.error)).add(now_ms)));
  return r->affected() > 0;
}

Status release_notification_leases(Conn& c, const std::string& owner) {
  GH_PG_ASSIGN(r, c.exec("UPDATE notifications SET lease_owner = NULL, lease_until = 0 WHERE state = 'pending' AND "
                         "lease_owner IS NOT NULL AND ($1::text = '' OR lease_owner = $1::text)",
                         Params().add(owner)));
  return ok_status();
}

Result<std::optional<int64_t>> next_notification_due_ms(Conn& c) {
  GH_PG_ASSIGN(r, c.exec("SELECT min(greatest(next_attempt_at, lease_until)) FROM notifications "
                         "WHERE state = 'pending'",
                         Params()));
  return r->opt_i64(0, 0);
}

Result<int64_t> events_waiting(Conn& c, const std::string& webhook_id) {
  GH_PG_ASSIGN(r, c.exec("SELECT (SELECT count(*) FROM events e WHERE e.account_id = w.account_id AND e.seq > "
                         "w.cursor AND (e.type & w.event_types) != 0) + (SELECT coalesce(sum(b.event_count), 0) "
                         "FROM batches b WHERE b.webhook_id = w.id AND b.state = 'pending') FROM webhooks w "
                         "WHERE w.id = $1::text",
                         Params().add(webhook_id)));
  if (r->rows() == 0) return int64_t{0};
  return r->i64(0, 0);
}

Result<int> prune_notifications(Conn& c, int64_t before_ms, int limit) {
  GH_PG_ASSIGN(r, c.exec("DELETE FROM notifications WHERE (id, channel) IN (SELECT id, channel FROM notifications "
                         "WHERE state <> 'pending' AND updated_at <= $1::bigint LIMIT $2::int)",
                         Params().add(before_ms).add(limit)));
  return static_cast<int>(r->affected());
}

}  // namespace growhook::pg
