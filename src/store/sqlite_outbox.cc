#include "store/sqlite_outbox.h"

#include "store/sqlite_rows.h"

namespace growhook::sqlite {

Status set_notification_email(Db& db, const std::string& account_id, const std::optional<std::string>& email) {
  GH_STMT(s, db, "UPDATE accounts SET notification_email = $2 WHERE id = $1");
  s->bind(1, account_id);
  if (email) {
    s->bind(2, *email);
  } else {
    s->bind_null(2);
  }
  GH_RETURN_IF_ERROR(done(db, s->step(), "set notification_email"));
  if (db.changes() == 0) return Error::not_found("account " + account_id + " not found");
  return ok_status();
}

Status enqueue_notifications(Db& db, const std::string& webhook_id, const HealthNews& news) {
  const std::string key = notification_key(webhook_id, news.kind, news.at_ms);
  GH_STMT(s, db,
          "INSERT INTO notifications(id, channel, account_id, webhook_id, kind, at, failing_since, reason, state, "
          "attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at) "
          "SELECT $1, $2, w.account_id, w.id, $3, $4, $5, $6, 'pending', 0, $4, NULL, 0, '', $4 FROM webhooks w "
          "WHERE w.id = $7 ON CONFLICT(id, channel) DO NOTHING");
  for (NotificationChannel c : kNotificationChannels) {
    s->bind(1, key).bind(2, to_string(c)).bind(3, news.kind).bind(4, news.at_ms).bind(5, news.failing_since_ms);
    s->bind(6, news.reason).bind(7, webhook_id);
    GH_RETURN_IF_ERROR(done(db, s->step(), "enqueue notification"));
    s->reset();
  }
  return ok_status();
}

Result<std::vector<Notification>> claim_notifications(Db& db, const std::string& owner, int64_t now_ms,
                                                      int64_t lease_ms, int limit) {
  // One writer: nobody else claims between the SELECT and the UPDATE.
  GH_STMT(s, db,
          "UPDATE notifications SET lease_owner = $1, lease_until = $2 + $3 WHERE rowid IN (SELECT rowid FROM "
          "notifications WHERE state = 'pending' AND next_attempt_at <= $2 AND lease_until <= $2 "
          "ORDER BY next_attempt_at LIMIT $4) "
          "RETURNING id, channel, account_id, webhook_id, kind, at, failing_since, reason, attempts");
  s->bind(1, owner).bind(2, now_ms).bind(3, lease_ms).bind(4, limit);
  std::vector<Notification> out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    Notification n{s->str(0), s->text(1) == "platform" ? NotificationChannel::kPlatform : NotificationChannel::kEmail,
                   s->str(2), s->str(3), s->str(4), s->i64(5), s->i64(6), s->str(7), static_cast<int>(s->i64(8))};
    out.push_back(std::move(n));
  }
  GH_RETURN_IF_ERROR(done(db, rc, "claim notifications"));
  return out;
}

Result<bool> finish_notification(Db& db, const std::string& owner, const NotificationDone& d, int64_t now_ms) {
  GH_STMT(s, db,
          "UPDATE notifications SET state = $4, attempts = attempts + 1, next_attempt_at = $5, last_error = $6, "
          "lease_owner = NULL, lease_until = 0, updated_at = $7 "
          "WHERE id = $1 AND channel = $2 AND lease_owner = $3 AND state = 'pending'");
  const char* state = notification_state(d.outcome);
  s->bind(1, d.id).bind(2, to_string(d.channel)).bind(3, owner).bind(4, state);
  s->bind(5, d.outcome == NotificationDone::Outcome::kRetry ? d.retry_at_ms : now_ms).bind(6, d.error).bind(7, now_ms);
  GH_RETURN_IF_ERROR(done(db, s->step(), "finish notification"));
  return db.changes() > 0;
}

Status release_notification_leases(Db& db, const std::string& owner) {
  GH_STMT(s, db,
          "UPDATE notifications SET lease_owner = NULL, lease_until = 0 WHERE state = 'pending' AND lease_owner IS "
          "NOT NULL AND ($1 = '' OR lease_owner = $1)");
  s->bind(1, owner);
  return done(db, s->step(), "release notification leases");
}

Result<std::optional<int64_t>> next_notification_due_ms(Db& db) {
  GH_STMT(s, db, "SELECT min(max(next_attempt_at, lease_until)) FROM notifications WHERE state = 'pending'");
  int rc = s->step();
  if (rc != SQLITE_ROW) return db.error(rc, "next notification");
  return s->opt_i64(0);
}

Result<int64_t> events_waiting(Db& db, const std::string& webhook_id) {
  GH_STMT(s, db,
          "SELECT (SELECT count(*) FROM events e WHERE e.account_id = w.account_id AND e.seq > w.cursor AND "
          "(e.type & w.event_types) != 0) + (SELECT coalesce(sum(b.event_count), 0) FROM batches b WHERE "
          "b.webhook_id = w.id AND b.state = 'pending') FROM webhooks w WHERE w.id = $1");
  s->bind(1, webhook_id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return int64_t{0};
  if (rc != SQLITE_ROW) return db.error(rc, "events waiting");
  return s->i64(0);
}

Result<int> prune_notifications(Db& db, int64_t before_ms, int limit) {
  GH_STMT(s, db,
          "DELETE FROM notifications WHERE rowid IN (SELECT rowid FROM notifications WHERE state <> 'pending' AND "
          "updated_at <= $1 LIMIT $2)");
  s->bind(1, before_ms).bind(2, limit);
  GH_RETURN_IF_ERROR(done(db, s->step(), "prune notifications"));
  return static_cast<int>(db.changes());
}

}  // namespace growhook::sqlite
