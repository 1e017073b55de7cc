// Pieces shared by the PostgreSQL store's files: a transaction guard, the
// decoding of rows into model values, and the queries that more than one
// operation runs (a webhook, a batch's events).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "domain/model.h"
#include "store/pg_conn.h"

// Evaluates a Result expression into var, or returns its error.
#define GH_PG_ASSIGN(var, expr) \
  auto var = (expr);            \
  if (!var.ok()) return var.error()

#define GH_PG_RETURN_IF_ERROR(expr)  \
  do {                               \
    auto _s = (expr);                \
    if (!_s.ok()) return _s.error(); \
  } while (0)

// The webhook columns, in the order webhook_from_row reads them.
#define GH_PG_WEBHOOK_COLUMNS                                                                           \
  "w.id, w.account_id, w.name, w.url, w.enabled, w.event_types, w.batch_max_events, w.auth, w.secret, " \
  "w.previous_secret, w.previous_secret_expires_at, w.disabled_reason, w.created_at, w.updated_at, "    \
  "w.batch_max_bytes, w.failing_since, w.failure_streak, w.probe_count, w.next_probe_at, w.last_error, " \
  "w.ordering"

// The batch columns, in the order batch_from_row reads them.
#define GH_PG_BATCH_COLUMNS \
  "b.id, b.webhook_id, b.account_id, b.state, b.event_count, b.created_at, b.next_attempt_at, b.cycle_attempts"

// A webhook's health (columns 15 to 19 of GH_PG_WEBHOOK_COLUMNS), then whether it is enabled.
#define GH_PG_WEBHOOK_HEALTH_COLUMNS \
  "w.failing_since, w.failure_streak, w.probe_count, w.next_probe_at, w.last_error, w.enabled"

namespace growhook::pg {

// The channel on which nodes tell each other about new work.
inline constexpr const char* kWorkChannel = "growhook_work";

// How hard a commit is pushed to the disk (the counterpart of SQLite's
// Durability in sqlite_rows.h).
enum class Durability {
  // The commit returns once its WAL record is flushed (the server's
  // synchronous_commit, on by default): ingestion and everything a person
  // changes.
  kFull,
  // SET LOCAL synchronous_commit TO off: delivery's own bookkeeping (claims,
  // attempts, released leases). The commit is in the server's WAL buffers at
  // once, visible to every node, and survives any growhook process dying; the
  // server flushes it within wal_writer_delay (3x at most). Only a crash of
  // the database server itself may lose the last of these, and then their
  // events are sent again (at least once), with the same event ids: a batch
  // whose attempt was lost keeps its id too; one whose cutting was lost is
  // cut again under a new batch id. No data is ever corrupted, unlike
  // fsync=off; ingestion never runs relaxed.
  kRelaxed,
};

// One transaction; rolls back unless committed.
class Tx {
 public:
  explicit Tx(Conn& c, Durability d = Durability::kFull) : c_(c), relaxed_(d == Durability::kRelaxed) {}
  ~Tx() {
    if (open_) (void)c_.exec_simple("ROLLBACK");
  }
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  Status begin();
  Status commit();

 private:
  Conn& c_;
  bool relaxed_;
  bool open_ = false;
};

// How many columns GH_PG_WEBHOOK_COLUMNS names (what a query selects after them starts there).
inline constexpr int kWebhookColumnCount = 21;
// Opens the secret columns with box; kInternal when they do not open.
Result<Webhook> webhook_from_row(const SecretBox& box, const PgResult& r, int row, int col = 0);
// The first five columns of GH_PG_WEBHOOK_HEALTH_COLUMNS, from column c.
WebhookHealth health_from_row(const PgResult& r, int row, int c = 0);
Batch batch_from_row(const PgResult& r, int row, int col = 0);

// The webhook id of account_id (any account when account_id is empty).
Result<Webhook> load_webhook(Conn& c, const std::string& account_id, const std::string& id);

// A batch's events as the JSON array a receiver gets (batch_events_json of
// domain/batching.h); *oldest_created is the earliest ingestion among them.
// Where: its range first_seq..last_seq of the types in type_mask, or, for
// a batch cut under ordering "contact" (members), its own list.
Result<std::string> batch_events(Conn& c, const std::string& account_id, const std::string& batch_id, bool members,
                                 int64_t first_seq, int64_t last_seq, int64_t type_mask, int64_t* oldest_created);

// Queues a wake-up for every node; sent when the transaction commits.
Status notify_work(Conn& c);

}  // namespace growhook::pg
