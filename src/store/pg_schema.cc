#include "store/pg_schema.h"

#include <string>

#include "store/schema_version.h"

namespace growhook {
namespace {

// pg_advisory_lock key of the migrations: "growhook" in ASCII.
constexpr const char* kMigrationLockKey = "7454142891895517035";

// Never edit a migration that has shipped; add a new one. A new table or
// column: say in store/migration_plan.cc what `growhook migrate` does with
// it (migration_plan_test.cc fails otherwise).
// webhooks.cursor holds the webhook's position in its account's log (the
// last seq already cut into one of its batches); the column kept the name
// it had before pages had cursors of their own (?cursor=, next_cursor).
// Ids are TEXT COLLATE "C": lists page by id ranges, which must compare
// bytes like SQLite does, whatever the database's locale.
const char* const kMigrations[] = {
    // 1: the first schema. Sequence numbers are per account (the primary
    // key of events is (account_id, seq)); see postgres_store.cc.
    R"sql(
CREATE TABLE accounts(
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL,
  head_seq BIGINT NOT NULL DEFAULT 0);
CREATE TABLE api_keys(
  key_hash TEXT COLLATE "C" PRIMARY KEY, account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  created_at BIGINT NOT NULL);
CREATE TABLE webhooks(
  id TEXT COLLATE "C" PRIMARY KEY, account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL, url TEXT NOT NULL, enabled BOOLEAN NOT NULL,
  event_types SMALLINT NOT NULL, batch_max_events INTEGER NOT NULL, auth TEXT NOT NULL,
  secret TEXT NOT NULL, previous_secret TEXT NOT NULL, previous_secret_expires_at BIGINT NOT NULL,
  disabled_reason TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  cursor BIGINT NOT NULL);
CREATE INDEX webhooks_by_account ON webhooks(account_id, id);
CREATE INDEX webhooks_enabled ON webhooks(account_id) WHERE enabled;
CREATE TABLE events(
  account_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, id TEXT COLLATE "C" NOT NULL,
  type SMALLINT NOT NULL, occurred_at BIGINT NOT NULL, created_at BIGINT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY(account_id, seq));
CREATE UNIQUE INDEX events_by_account_id ON events(account_id, id);
CREATE TABLE batches(
  id TEXT COLLATE "C" PRIMARY KEY, webhook_id TEXT COLLATE "C" NOT NULL, account_id TEXT COLLATE "C" NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, type_mask SMALLINT NOT NULL,
  event_count INTEGER NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  next_attempt_at BIGINT, cycle_attempts INTEGER NOT NULL, lease_owner TEXT,
  lease_until BIGINT NOT NULL);
CREATE INDEX batches_by_webhook ON batches(webhook_id, id);
CREATE INDEX batches_by_webhook_state ON batches(webhook_id, state, id);
CREATE INDEX batches_due ON batches(next_attempt_at) WHERE state = 'pending';
CREATE INDEX batches_by_state_updated ON batches(state, updated_at);
CREATE INDEX batches_leased ON batches(webhook_id) WHERE lease_owner IS NOT NULL;
CREATE INDEX batches_by_account_first_seq ON batches(account_id, first_seq);
CREATE TABLE attempts(
  batch_id TEXT COLLATE "C" NOT NULL, n INTEGER NOT NULL, at BIGINT NOT NULL, status_code INTEGER NOT NULL,
  duration_ms BIGINT NOT NULL, error TEXT NOT NULL, response_body TEXT NOT NULL,
  PRIMARY KEY(batch_id, n));
)sql",
    // 2: a byte cap per webhook (the POST's events array); 1 MiB, the
    // global cap until then, for the webhooks that were there.
    R"sql(
ALTER TABLE webhooks ADD COLUMN batch_max_bytes INTEGER NOT NULL DEFAULT 1048576;
)sql",
    // 3: SQLite's schema 3 adds the index retention uses; PostgreSQL has had
    // it since 1. Kept so that a schema number means the same in both.
    R"sql(
CREATE INDEX IF NOT EXISTS batches_by_account_first_seq ON batches(account_id, first_seq);
)sql",
    // 4: SQLite's schema 4 trades two batch indexes for a partial one;
    // nothing changes here.
    R"sql(
SELECT 1;
)sql",
    // 5: finding a contact's events, as SQLite's schema 5 (the email in
    // lower case, ASCII only, as ascii_lower in domain/event.h).
    R"sql(
ALTER TABLE events ADD COLUMN msisdn BIGINT, ADD COLUMN email TEXT COLLATE "C";
UPDATE events SET msisdn = (body::json -> 'data' ->> 'msisdn')::bigint,
  email = translate(body::json -> 'data' ->> 'ecom_email', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
CREATE INDEX events_by_msisdn ON events(account_id, msisdn, seq);
CREATE INDEX events_by_email ON events(account_id, email, seq) WHERE email IS NOT NULL;
CREATE INDEX batches_by_webhook_first_seq ON batches(webhook_id, first_seq);
)sql",
    // 6: portal sessions, as SQLite's schema 6.
    R"sql(
CREATE TABLE IF NOT EXISTS portal_sessions(
  id TEXT COLLATE "C" PRIMARY KEY, account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  link_hash TEXT COLLATE "C" UNIQUE, token_hash TEXT COLLATE "C" UNIQUE,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS portal_sessions_by_account ON portal_sessions(account_id);
CREATE INDEX IF NOT EXISTS portal_sessions_by_expiry ON portal_sessions(expires_at);
)sql",
    // 7: webhooks' secrets sealed at rest, as SQLite's schema 7: the
    // PostgreSQL store seals the values in clear right after the migrations.
    R"sql(
SELECT 1;
)sql",
    // 8: a webhook's health (domain/health.h), as in SQLite's schema 8.
    R"sql(
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
ALTER TABLE webhooks ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN probe_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN next_probe_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
)sql",
    // 9: a webhook's stats, as SQLite's schema 9 (the covered columns as
    // INCLUDE).
    R"sql(
CREATE INDEX IF NOT EXISTS batches_finished_by_webhook ON batches(webhook_id, updated_at) INCLUDE (state, event_count, id)
  WHERE state <> 'pending';
)sql",
    // 10: notifications (store/outbox.h), as in SQLite's schema 10.
    R"sql(
ALTER TABLE accounts ADD COLUMN notification_email TEXT;
CREATE TABLE notifications(
  id TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL, account_id TEXT COLLATE "C" NOT NULL,
  webhook_id TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, failing_since BIGINT NOT NULL,
  reason TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT, lease_until BIGINT NOT NULL, last_error TEXT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY(id, channel));
CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_finished ON notifications(updated_at) WHERE state <> 'pending';
)sql",
    // 11: per-contact ordering, as in SQLite's schema 11.
    R"sql(
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE webhooks ADD COLUMN deferred_ready BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE batches ADD COLUMN members BOOLEAN NOT NULL DEFAULT false;
CREATE TABLE batch_members(
  batch_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, webhook_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY(batch_id, seq));
CREATE INDEX batch_members_by_webhook ON batch_members(webhook_id, seq);
CREATE TABLE held_contacts(
  webhook_id TEXT COLLATE "C" NOT NULL, msisdn BIGINT NOT NULL, batch_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY(webhook_id, msisdn));
CREATE INDEX held_contacts_by_batch ON held_contacts(batch_id);
CREATE TABLE deferred_events(
  webhook_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, msisdn BIGINT NOT NULL, ready BOOLEAN NOT NULL,
  PRIMARY KEY(webhook_id, seq));
CREATE INDEX deferred_events_by_contact ON deferred_events(webhook_id, msisdn);
CREATE INDEX deferred_events_ready ON deferred_events(webhook_id, seq) WHERE ready;
DROP INDEX batches_by_webhook_first_seq;
CREATE INDEX batches_by_webhook_range ON batches(webhook_id, first_seq) WHERE NOT members;
)sql",
    // 12: cost follows the work, as in SQLite's schema 12.
    R"sql(
ALTER TABLE webhooks ADD COLUMN work_seq BIGINT NOT NULL DEFAULT 0;
UPDATE webhooks SET work_seq = a.head_seq FROM accounts a WHERE a.id = webhooks.account_id;
CREATE INDEX webhooks_with_work ON webhooks(id) WHERE enabled AND (cursor < work_seq OR deferred_ready);
CREATE INDEX webhooks_failing ON webhooks(id) WHERE enabled AND failing_since IS NOT NULL;
CREATE INDEX batches_due_at ON batches((greatest(next_attempt_at, lease_until))) WHERE state = 'pending';
ALTER TABLE accounts ADD COLUMN prune_at BIGINT;
UPDATE accounts SET prune_at = (SELECT e.created_at FROM events e WHERE e.account_id = accounts.id ORDER BY e.seq
                                LIMIT 1);
CREATE INDEX accounts_to_prune ON accounts(prune_at) WHERE prune_at IS NOT NULL;
)sql",
};

static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion,
              "a migration added: raise kSchemaVersion (store/schema_version.h)");

Result<int> schema_version(pg::Conn& c) {
  auto r = c.exec("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return 0;
  return static_cast<int>(r->i64(0, 0));
}

Status migrate_locked(pg::Conn& c) {
  if (auto s = c.exec_simple("CREATE TABLE IF NOT EXISTS meta(key TEXT COLLATE \"C\" PRIMARY KEY, value TEXT NOT NULL)");
      !s.ok())
    return s;
  auto version = schema_version(c);
  if (!version.ok()) return version.error();
  const int total = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
  if (*version > total) {
    return Error::internal("the database was written by a newer growhook (schema " + std::to_string(*version) +
                           "); this binary knows schema " + std::to_string(total));
  }
  for (int v = *version; v < total; ++v) {
    std::string sql = std::string("BEGIN;") + kMigrations[v] +
                      "INSERT INTO meta(key, value) VALUES('schema_version', '" + std::to_string(v + 1) +
                      "') ON CONFLICT(key) DO UPDATE SET value = excluded.value; COMMIT;";
    if (auto s = c.exec_simple(sql); !s.ok()) {
      (void)c.make_idle();
      return s;
    }
  }
  return ok_status();
}

}  // namespace

Status apply_postgres_migrations(pg::Conn& c) {
  // Another node may be migrating: wait for it as long as it takes; a
  // migration of a large table takes what it takes too.
  const DbLimits bounded = c.limits();
  if (auto s = c.set_limits(DbLimits{0}); !s.ok()) return s;
  if (auto s = c.exec_simple(std::string("SELECT pg_advisory_lock(") + kMigrationLockKey + ")"); !s.ok()) return s;
  Status result = migrate_locked(c);
  (void)c.exec_simple(std::string("SELECT pg_advisory_unlock(") + kMigrationLockKey + ")");
  if (auto s = c.set_limits(bounded); !s.ok() && result.ok()) return s;
  return result;
}

}  // namespace growhook
