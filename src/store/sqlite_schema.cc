#include "store/sqlite_schema.h"

#include <string>

#include "store/schema_version.h"

namespace growhook {
namespace {

// Never edit a migration that has shipped; add a new one. A new table or
// column: say in store/migration_plan.cc what `growhook migrate` does with
// it (migration_plan_test.cc fails otherwise).
// webhooks.cursor holds the webhook's position in its account's log (the
// last seq already cut into one of its batches); the column kept the name
// it had before pages had cursors of their own (?cursor=, next_cursor).
const char* const kMigrations[] = {
    // 1: the first schema.
    R"sql(
CREATE TABLE accounts(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL,
  head_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE api_keys(
  key_hash TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
  created_at INTEGER NOT NULL);
CREATE TABLE webhooks(
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL, url TEXT NOT NULL, enabled INTEGER NOT NULL,
  event_types INTEGER NOT NULL, batch_max_events INTEGER NOT NULL, auth TEXT NOT NULL,
  secret TEXT NOT NULL, previous_secret TEXT NOT NULL, previous_secret_expires_at INTEGER NOT NULL,
  disabled_reason TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  cursor INTEGER NOT NULL);
CREATE INDEX webhooks_by_account ON webhooks(account_id, id);
CREATE TABLE events(
  seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, id TEXT NOT NULL, type INTEGER NOT NULL,
  occurred_at INTEGER NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX events_by_account_id ON events(account_id, id);
CREATE INDEX events_by_account_seq ON events(account_id, seq);
CREATE TABLE batches(
  id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, account_id TEXT NOT NULL, state TEXT NOT NULL,
  first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, type_mask INTEGER NOT NULL,
  event_count INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  next_attempt_at INTEGER, cycle_attempts INTEGER NOT NULL, lease_owner TEXT,
  lease_until INTEGER NOT NULL);
CREATE INDEX batches_by_webhook ON batches(webhook_id, id);
CREATE INDEX batches_by_webhook_state ON batches(webhook_id, state, id);
CREATE INDEX batches_due ON batches(next_attempt_at) WHERE state = 'pending';
CREATE INDEX batches_by_state_updated ON batches(state, updated_at);
CREATE TABLE attempts(
  batch_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, status_code INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL, error TEXT NOT NULL, response_body TEXT NOT NULL,
  PRIMARY KEY(batch_id, n)) WITHOUT ROWID;
)sql",
    // 2: a byte cap per webhook (the POST's events array); 1 MiB, the
    // global cap until then, for the webhooks that were there.
    R"sql(
ALTER TABLE webhooks ADD COLUMN batch_max_bytes INTEGER NOT NULL DEFAULT 1048576;
)sql",
    // 3: retention finds the oldest remaining batch of an account (events
    // below it and below every cursor can go) without reading every batch.
    R"sql(
CREATE INDEX IF NOT EXISTS batches_by_account_first_seq ON batches(account_id, first_seq);
)sql",
    // 4: two indexes fewer to keep up on every batch (delivery of batch size
    // 1 spent a third of its store time on index upkeep). A webhook's list
    // of every state merges the state ranges of batches_by_webhook_state;
    // retention and the failed count need finished batches only.
    R"sql(
DROP INDEX batches_by_webhook;
DROP INDEX batches_by_state_updated;
CREATE INDEX batches_finished ON batches(state, updated_at) WHERE state <> 'pending';
)sql",
    // 5: finding a contact's events (store/contacts.h): each event keeps
    // its contact's msisdn and ecom_email (in lower case, ASCII; null when
    // the event has none), indexed by account; and a webhook's batches by
    // where their range starts, to tell which batch holds an event. The
    // events stored before get theirs from their message.
    R"sql(
ALTER TABLE events ADD COLUMN msisdn INTEGER;
ALTER TABLE events ADD COLUMN email TEXT;
UPDATE events SET msisdn = json_extract(body, '$.data.msisdn'), email = lower(json_extract(body, '$.data.ecom_email'));
CREATE INDEX events_by_msisdn ON events(account_id, msisdn, seq);
CREATE INDEX events_by_email ON events(account_id, email, seq) WHERE email IS NOT NULL;
CREATE INDEX batches_by_webhook_first_seq ON batches(webhook_id, first_seq);
)sql",
    // 6: portal sessions (store/portal_sessions.h): only hashes of the
    // link's secret and of the session's token; a link's hash is cleared
    // when it is redeemed. By expiry for retention, by account for the
    // platform's DELETE.
    R"sql(
CREATE TABLE IF NOT EXISTS portal_sessions(
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
  link_hash TEXT UNIQUE, token_hash TEXT UNIQUE,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS portal_sessions_by_account ON portal_sessions(account_id);
CREATE INDEX IF NOT EXISTS portal_sessions_by_expiry ON portal_sessions(expires_at);
)sql",
    // 7: webhooks' secrets sealed at rest (auth, secret, previous_secret;
    // store/codec.h). The sealing itself is C++: SqliteStore::migrate seals
    // every value still in clear right after the migrations, in place. The
    // number is what matters: a growhook from before refuses this store
    // instead of signing with a sealed value.
    R"sql(
SELECT 1;
)sql",
    // 8: a webhook's health (domain/health.h): failing since when, failed
    // attempts in a row, probes, when the next probe may go, the last error.
    R"sql(
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;
ALTER TABLE webhooks ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN probe_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN next_probe_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
)sql",
    // 9: a webhook's stats (store/delivery_activity.h): its finished
    // batches by when they ended. Partial, so delivery's updates of pending
    // batches do not keep it up: a batch enters it once, when it ends.
    // Covering (state, event_count, id), so the stats read no batch row
    // (bench/stats_bench: 76 ms to 41 ms for 50,000 batches).
    R"sql(
CREATE INDEX IF NOT EXISTS batches_finished_by_webhook ON batches(webhook_id, updated_at, state, event_count, id)
  WHERE state <> 'pending';
)sql",
    // 10: notifications (store/outbox.h): the account's address, and the
    // outbox, a row per change of a webhook's health and channel, written
    // in the transaction of the change; id is the dedupe key.
    R"sql(
ALTER TABLE accounts ADD COLUMN notification_email TEXT;
CREATE TABLE notifications(
  id TEXT NOT NULL, channel TEXT NOT NULL, account_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
  kind TEXT NOT NULL, at INTEGER NOT NULL, failing_since INTEGER NOT NULL, reason TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT, lease_until INTEGER NOT NULL, last_error TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY(id, channel));
CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_finished ON notifications(updated_at) WHERE state <> 'pending';
)sql",
    // 11: per-contact ordering (domain/batching.h, pack_by_contact). A
    // webhook's ordering; a batch cut under it lists its events
    // (batch_members, members = 1) instead of covering its range; the
    // contacts an unfinished batch holds (held_contacts, removed when it
    // ends); the events waiting for their contact (deferred_events; ready
    // once the batch that held it ended; webhooks.deferred_ready says some
    // are, so the claim finds the webhook without reading them). The
    // search's index of batches by where their range starts leaves such
    // batches out (store/contacts.h).
    R"sql(
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE webhooks ADD COLUMN deferred_ready INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN members INTEGER NOT NULL DEFAULT 0;
CREATE TABLE batch_members(
  batch_id TEXT NOT NULL, seq INTEGER NOT NULL, webhook_id TEXT NOT NULL,
  PRIMARY KEY(batch_id, seq)) WITHOUT ROWID;
CREATE INDEX batch_members_by_webhook ON batch_members(webhook_id, seq);
CREATE TABLE held_contacts(
  webhook_id TEXT NOT NULL, msisdn INTEGER NOT NULL, batch_id TEXT NOT NULL,
  PRIMARY KEY(webhook_id, msisdn)) WITHOUT ROWID;
CREATE INDEX held_contacts_by_batch ON held_contacts(batch_id);
CREATE TABLE deferred_events(
  webhook_id TEXT NOT NULL, seq INTEGER NOT NULL, msisdn INTEGER NOT NULL, ready INTEGER NOT NULL,
  PRIMARY KEY(webhook_id, seq)) WITHOUT ROWID;
CREATE INDEX deferred_events_by_contact ON deferred_events(webhook_id, msisdn);
CREATE INDEX deferred_events_ready ON deferred_events(webhook_id, seq) WHERE ready = 1;
DROP INDEX batches_by_webhook_first_seq;
CREATE INDEX batches_by_webhook_range ON batches(webhook_id, first_seq) WHERE members = 0;
)sql",
    // 12: cost follows the work (issue 12). work_seq: the account's head
    // when it last took an event of the webhook's types (ingestion raises
    // it); the webhook has work while its position is below it (or, under
    // ordering "contact", deferred events are ready: schema 11), and the
    // claim reads webhooks_with_work alone, not every webhook. The next due
    // time walks batches_due_at and webhooks_failing. prune_at: when
    // retention looks at the account next (its oldest event's created_at,
    // or the bound of the step that found its old events still needed;
    // null: no event), so a step reads only accounts with something old.
    // Existing stores: every webhook behind its head has work, every
    // account with events is due its look.
    R"sql(
ALTER TABLE webhooks ADD COLUMN work_seq INTEGER NOT NULL DEFAULT 0;
UPDATE webhooks SET work_seq = (SELECT a.head_seq FROM accounts a WHERE a.id = webhooks.account_id);
CREATE INDEX webhooks_with_work ON webhooks(id) WHERE enabled = 1 AND (cursor < work_seq OR deferred_ready = 1);
CREATE INDEX webhooks_failing ON webhooks(id) WHERE enabled = 1 AND failing_since IS NOT NULL;
CREATE INDEX batches_due_at ON batches(max(next_attempt_at, lease_until)) WHERE state = 'pending';
ALTER TABLE accounts ADD COLUMN prune_at INTEGER;
UPDATE accounts SET prune_at = (SELECT e.created_at FROM events e WHERE e.account_id = accounts.id ORDER BY e.seq
                                LIMIT 1);
CREATE INDEX accounts_to_prune ON accounts(prune_at) WHERE prune_at IS NOT NULL;
)sql",
};

static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion,
              "a migration added: raise kSchemaVersion (store/schema_version.h)");

}  // namespace

Status apply_sqlite_migrations(sqlite::Db& db) {
  if (auto s = db.exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"); !s.ok())
    return s;
  int version = 0;
  {
    auto st = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    if (!st.ok()) return st.error();
    sqlite::StmtUse s(**st);
    if (s->step() == SQLITE_ROW) version = std::stoi(s->str(0));
  }
  const int total = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
  if (version > total) {
    return Error::internal("the data folder was written by a newer growhook (schema " + std::to_string(version) +
                           "); this binary knows schema " + std::to_string(total));
  }
  for (int v = version; v < total; ++v) {
    std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                      "INSERT INTO meta(key, value) VALUES('schema_version', '" + std::to_string(v + 1) +
                      "') ON CONFLICT(key) DO UPDATE SET value = excluded.value; COMMIT;";
    if (auto s = db.exec(sql.c_str()); !s.ok()) {
      (void)db.exec("ROLLBACK");
      return s;
    }
  }
  return ok_status();
}

}  // namespace growhook
