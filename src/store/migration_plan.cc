#include "store/migration_plan.h"

namespace growhook {

// Filters: an event is still needed when it lies after its account's
// lowest webhook cursor (not yet cut into a batch for some webhook, enabled
// or not) or inside a pending or failed batch; keep_events_after holds, per
// account, the seq after which that is so.
const char* const kMigrationSetupSql = R"sql(
CREATE TEMP TABLE keep_events_after(account_id TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);
INSERT INTO keep_events_after
SELECT a.id, min(coalesce((SELECT min(w.cursor) FROM webhooks w WHERE w.account_id = a.id), a.head_seq),
                 coalesce((SELECT min(b.first_seq) - 1 FROM batches b WHERE b.account_id = a.id
                           AND b.state <> 'delivered'), a.head_seq),
                 coalesce((SELECT min(d.seq) - 1 FROM deferred_events d JOIN webhooks w ON w.id = d.webhook_id
                           WHERE w.account_id = a.id), a.head_seq))
FROM accounts a;
)sql";

const std::vector<TablePlan>& migration_plan() {
  static const std::vector<TablePlan> plan = {
      {"accounts", {{"id"}, {"name"}, {"created_at"}, {"head_seq"}, {"notification_email"}, {"prune_at"}}, {}, "", ""},
      {"api_keys", {{"key_hash"}, {"account_id"}, {"created_at"}}, {}, "", ""},
      {"webhooks",
       {{"id"}, {"account_id"}, {"name"}, {"url"}, {"enabled"}, {"event_types"}, {"batch_max_events"}, {"auth"},
        {"secret"}, {"previous_secret"}, {"previous_secret_expires_at"}, {"disabled_reason"}, {"created_at"},
        {"updated_at"}, {"cursor"}, {"batch_max_bytes"}, {"failing_since"}, {"failure_streak"}, {"probe_count"},
        {"next_probe_at"}, {"last_error"}, {"ordering"}, {"deferred_ready"}, {"work_seq"}},
       {},
       "",
       ""},
      {"events",
       {{"account_id"}, {"seq"}, {"id"}, {"type"}, {"occurred_at"}, {"created_at"}, {"body"}, {"msisdn"},
        {"email"}},
       {},
       "t.seq > (SELECT k.after_seq FROM temp.keep_events_after k WHERE k.account_id = t.account_id)",
       ""},
      {"batches",
       {{"id"}, {"webhook_id"}, {"account_id"}, {"state"}, {"first_seq"}, {"last_seq"}, {"type_mask"},
        {"event_count"}, {"created_at"}, {"updated_at"}, {"next_attempt_at"}, {"cycle_attempts"},
        // The SQLite node that held these leases is stopped: PostgreSQL's
        // nodes may take the batches at once.
        {"lease_owner", "NULL"},
        {"lease_until", "0"}, {"members"}},
       {},
       "t.state <> 'delivered'",
       ""},
      // Ordering "contact" (domain/batching.h): the events of the batches
      // carried, what they hold, what waits.
      {"batch_members",
       {{"batch_id"}, {"seq"}, {"webhook_id"}},
       {},
       "t.batch_id IN (SELECT b.id FROM batches b WHERE b.state <> 'delivered')",
       ""},
      {"held_contacts", {{"webhook_id"}, {"msisdn"}, {"batch_id"}}, {}, "", ""},
      {"deferred_events", {{"webhook_id"}, {"seq"}, {"msisdn"}, {"ready"}}, {}, "", ""},
      {"attempts",
       {{"batch_id"}, {"n"}, {"at"}, {"status_code"}, {"duration_ms"}, {"error"}, {"response_body"}},
       {},
       "t.batch_id IN (SELECT b.id FROM batches b WHERE b.state <> 'delivered')",
       ""},
      // Notifications not sent yet go along (the SQLite node that leased
      // them is stopped); those sent or skipped are history.
      {"notifications",
       {{"id"}, {"channel"}, {"account_id"}, {"webhook_id"}, {"kind"}, {"at"}, {"failing_since"}, {"reason"},
        {"state"}, {"attempts"}, {"next_attempt_at"}, {"lease_owner", "NULL"}, {"lease_until", "0"}, {"last_error"},
        {"updated_at"}},
       {},
       "t.state = 'pending'",
       ""},
      // The platform token's hash and any other setting; PostgreSQL has its
      // own schema_version, and the mark of a moved store stays in SQLite.
      {"meta", {{"key"}, {"value"}}, {}, "t.key NOT IN ('schema_version', 'moved_to_postgres')",
       "t.key NOT IN ('schema_version', 'moved_to_postgres')"},
  };
  return plan;
}

const std::vector<LeftTable>& tables_left_behind() {
  static const std::vector<LeftTable> left = {
      // A session lives a day at most and its token is held by one browser
      // tab; after the move the platform mints new portal links as it
      // always does, and the page signs in again with one.
      {"portal_sessions",
       "portal sessions are short-lived (a day at most): the platform mints new links once the page points at "
       "PostgreSQL"},
  };
  return left;
}

std::string migration_select(const TablePlan& t, bool with_history) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) sql += ", ";
    sql += t.columns[i].source ? t.columns[i].source : std::string("t.") + t.columns[i].name;
  }
  sql += std::string(" FROM main.") + t.table + " t";
  const char* where = with_history ? t.history_where : t.pending_where;
  if (*where) sql += std::string(" WHERE ") + where;
  return sql;
}

}  // namespace growhook
