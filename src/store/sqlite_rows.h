// Pieces shared by the SQLite store's files (the counterpart of pg_rows.h):
// statement macros, how hard a commit is pushed to the disk, the decoding of
// rows into model values, and the queries that more than one operation runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "domain/model.h"
#include "store/sqlite_db.h"

// Evaluates a Result<Stmt*> expression into a StmtUse named var, or returns
// its error from the enclosing function.
#define GH_STMT(var, db, sql)                 \
  auto var##_r = (db).prepare(sql);           \
  if (!var##_r.ok()) return var##_r.error();  \
  ::growhook::sqlite::StmtUse var(**var##_r)

#define GH_RETURN_IF_ERROR(expr)          \
  do {                                    \
    auto _s = (expr);                     \
    if (!_s.ok()) return _s.error();      \
  } while (0)

// The webhook columns (of "webhooks w"), in the order webhook_from_row reads
// them. A macro: statements are cached by their literal's address.
#define GH_WEBHOOK_COLUMNS                                                                              \
  "w.id, w.account_id, w.name, w.url, w.enabled, w.event_types, w.batch_max_events, w.auth, w.secret, " \
  "w.previous_secret, w.previous_secret_expires_at, w.disabled_reason, w.created_at, w.updated_at, "      \
  "w.batch_max_bytes, w.failing_since, w.failure_streak, w.probe_count, w.next_probe_at, w.last_error, " \
  "w.ordering"

// A webhook's health (columns 15 to 19 of GH_WEBHOOK_COLUMNS), then whether it is enabled.
#define GH_WEBHOOK_HEALTH_COLUMNS \
  "w.failing_since, w.failure_streak, w.probe_count, w.next_probe_at, w.last_error, w.enabled"

namespace growhook::sqlite {

// How hard a commit is pushed to the disk.
enum class Durability {
  // fsync before the commit returns (synchronous=FULL): ingestion and
  // everything a person changes.
  kFull,
  // Delivery's own bookkeeping (claims, attempts): written to the WAL, so a
  // process crash loses nothing, but synced by the next full commit or
  // checkpoint rather than each time. After a power loss the last of these
  // may be missing; the batches concerned are then sent again, with the same
  // ids (at least once). This is what lets delivery record thousands of
  // attempts a second without an fsync each.
  kRelaxed,
};

// A step's result code as a Status: SQLITE_DONE and SQLITE_ROW are fine, a
// constraint is kConflict, anything else the database's error.
Status done(Db& db, int rc, std::string_view what);

// How many columns GH_WEBHOOK_COLUMNS names (what a query selects after them starts there).
inline constexpr int kWebhookColumnCount = 21;
// Opens the secret columns with box; kInternal when they do not open.
Result<Webhook> webhook_from_row(const SecretBox& box, const Stmt& s, int c = 0);
// The first five columns of GH_WEBHOOK_HEALTH_COLUMNS, from column c.
WebhookHealth health_from_row(const Stmt& s, int c = 0);
// The columns id, webhook_id, account_id, state, event_count, created_at,
// next_attempt_at, cycle_attempts, from column 0.
Batch batch_from_row(const Stmt& s);

// The webhook id of account_id (any account when account_id is empty).
Result<Webhook> load_webhook(Db& db, const std::string& account_id, const std::string& id);
Result<Batch> load_batch(Db& db, const std::string& id);
// Appends the batch's attempts, in order, to b.attempts.
Status load_attempts(Db& db, Batch& b);
// Where a batch's events are: its range first..last of the types in mask,
// or, for a batch cut under ordering "contact" (members), its own list.
struct BatchSpanRef {
  std::string id;
  bool members = false;
  int64_t first = 0, last = 0, mask = 0;
};
// A batch's events as the JSON array a receiver gets (batch_events_json of
// domain/batching.h); *oldest_created is the earliest ingestion among them.
Result<std::string> batch_events(Db& db, const std::string& account_id, const BatchSpanRef& batch,
                                 int64_t* oldest_created);

}  // namespace growhook::sqlite
