#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "common/ids.h"
#include "domain/batching.h"
#include "store/codec.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"

namespace growhook {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtUse;

// Evaluates a Result<Stmt*> expression into a StmtUse named var, or returns
// its error from the enclosing function.
#define GH_STMT(var, db, sql)                 \
  auto var##_r = (db).prepare(sql);           \
  if (!var##_r.ok()) return var##_r.error();  \
  StmtUse var(**var##_r)

#define GH_RETURN_IF_ERROR(expr)          \
  do {                                    \
    auto _s = (expr);                     \
    if (!_s.ok()) return _s.error();      \
  } while (0)

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

// One transaction on the writer; rolls back unless committed.
class Tx {
 public:
  explicit Tx(Db& db, Durability d = Durability::kFull) : db_(db), relaxed_(d == Durability::kRelaxed) {}
  ~Tx() {
    if (open_) (void)db_.run("ROLLBACK");
    if (relaxed_) (void)db_.run("PRAGMA synchronous=FULL");
  }
  Status begin() {
    if (relaxed_) {
      if (auto s = db_.run("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
    }
    auto s = db_.run("BEGIN IMMEDIATE");
    if (s.ok()) open_ = true;
    return s;
  }
  Status commit() {
    auto s = db_.run("COMMIT");
    if (s.ok()) open_ = false;
    return s;
  }

 private:
  Db& db_;
  bool relaxed_;
  bool open_ = false;
};

// The webhook columns (of "webhooks w"), in the order webhook_from_row reads
// them. A macro: statements are cached by their literal's address.
#define GH_WEBHOOK_COLUMNS                                                                              \
  "w.id, w.account_id, w.name, w.url, w.enabled, w.event_types, w.batch_max_events, w.auth, w.secret, " \
  "w.previous_secret, w.previous_secret_expires_at, w.disabled_reason, w.created_at, w.updated_at, "      \
  "w.batch_max_bytes"

Webhook webhook_from_row(const Stmt& s, int c = 0) {
  Webhook w;
  w.id = s.str(c + 0);
  w.account_id = s.str(c + 1);
  w.name = s.str(c + 2);
  w.url = s.str(c + 3);
  w.enabled = s.i64(c + 4) != 0;
  w.event_types = static_cast<uint8_t>(s.i64(c + 5));
  w.batch_max_events = static_cast<int>(s.i64(c + 6));
  w.auth = auth_from_storage(s.text(c + 7));
  w.secret = s.str(c + 8);
  w.previous_secret = s.str(c + 9);
  w.previous_secret_expires_ms = s.i64(c + 10);
  w.disabled_reason = s.str(c + 11);
  w.created_at_ms = s.i64(c + 12);
  w.updated_at_ms = s.i64(c + 13);
  w.batch_max_bytes = static_cast<int>(s.i64(c + 14));
  return w;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, int lock_fd, std::unique_ptr<Db> writer)
      : path_(std::move(path)), lock_fd_(lock_fd), writer_(std::move(writer)) {}
  ~SqliteStore() override {
    checkpointer_.reset();  // before the writer it hooks
    readers_.clear();
    writer_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  Status migrate() {
    std::lock_guard lock(write_mu_);
    return apply_sqlite_migrations(*writer_);
  }

  // Checkpoints from now on run on a thread of their own (see
  // sqlite_checkpointer.h), not inside the delivery loop's or ingestion's
  // commits.
  Status start_checkpointer() {
    std::lock_guard lock(write_mu_);
    auto c = sqlite::Checkpointer::start(path_, writer_->raw());
    if (!c.ok()) return c.error();
    checkpointer_ = std::move(*c);
    return ok_status();
  }

  // ---- meta ----
  Result<std::optional<std::string>> get_meta(const std::string& key) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r, "SELECT value FROM meta WHERE key = $1");
    s->bind(1, key);
    int rc = s->step();
    if (rc == SQLITE_ROW) return std::optional<std::string>(s->str(0));
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    return (*r)->error(rc, "get_meta");
  }

  Status set_meta(const std::string& key, const std::string& value) override {
    return write([&](Db& db) -> Status {
      GH_STMT(s, db, "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = $2");
      s->bind(1, key).bind(2, value);
      return done(db, s->step(), "set_meta");
    });
  }

  Result<std::string> add_meta(const std::string& key, const std::string& value) override {
    auto s = write([&](Db& db) -> Status {
      GH_STMT(s, db, "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO NOTHING");
      s->bind(1, key).bind(2, value);
      return done(db, s->step(), "add_meta");
    });
    if (!s.ok()) return s.error();
    auto now = get_meta(key);
    if (!now.ok()) return now.error();
    if (!*now) return Error::internal("add_meta: " + key + " vanished");
    return **now;
  }

  // ---- accounts ----
  Status create_account(const Account& a, const std::string& key_hash) override {
    return write([&](Db& db) -> Status {
      {
        GH_STMT(s, db, "INSERT INTO accounts(id, name, created_at, head_seq) VALUES($1, $2, $3, 0)");
        s->bind(1, a.id).bind(2, a.name).bind(3, a.created_at_ms);
        GH_RETURN_IF_ERROR(done(db, s->step(), "create_account"));
      }
      GH_STMT(k, db, "INSERT INTO api_keys(key_hash, account_id, created_at) VALUES($1, $2, $3)");
      k->bind(1, key_hash).bind(2, a.id).bind(3, a.created_at_ms);
      return done(db, k->step(), "create_account key");
    });
  }

  Result<Account> account_by_key_hash(const std::string& key_hash) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r,
            "SELECT a.id, a.name, a.created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id "
            "WHERE k.key_hash = $1");
    s->bind(1, key_hash);
    return account_row(**r, *s);
  }

  Result<Account> get_account(const std::string& id) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r, "SELECT id, name, created_at FROM accounts WHERE id = $1");
    s->bind(1, id);
    return account_row(**r, *s);
  }

  // ---- ingestion ----
  std::vector<Result<AppendOutcome>> append_events(std::span<const AppendRequest> requests) override {
    std::vector<Result<AppendOutcome>> out;
    out.reserve(requests.size());
    std::lock_guard lock(write_mu_);
    Db& db = *writer_;
    Tx tx(db);
    if (auto s = tx.begin(); !s.ok()) {
      for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(s.error());
      return out;
    }
    for (const auto& req : requests) out.push_back(append_one(db, req));
    if (auto s = tx.commit(); !s.ok()) {
      known_accounts_.clear();  // heads may have been rolled back
      out.clear();
      for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(s.error());
    }
    return out;
  }

  // ---- webhooks ----
  Status create_webhook(const Webhook& w) override {
    return write([&](Db& db) -> Status {
      GH_STMT(s, db,
              "INSERT INTO webhooks(id, account_id, name, url, enabled, event_types, batch_max_events, auth, "
              "secret, previous_secret, previous_secret_expires_at, disabled_reason, created_at, updated_at, "
              "batch_max_bytes, cursor) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
              "$15, (SELECT head_seq FROM accounts WHERE id = $2))");
      bind_webhook(*s, w);
      return done(db, s->step(), "create_webhook");
    });
  }

  Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    return load_webhook(**r, account_id, id);
  }

  Result<std::vector<Webhook>> list_webhooks(const std::string& account_id, const std::string& after_id,
                                             int limit) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r,
            "SELECT " GH_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.account_id = $1 AND w.id > $2 "
            "ORDER BY w.id LIMIT $3");
    s->bind(1, account_id).bind(2, after_id).bind(3, limit);
    std::vector<Webhook> out;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) out.push_back(webhook_from_row(*s));
    if (rc != SQLITE_DONE) return (*r)->error(rc, "list_webhooks");
    return out;
  }

  Status update_webhook(const Webhook& w) override {
    return write([&](Db& db) -> Status {
      GH_STMT(s, db,
              "UPDATE webhooks SET name = $3, url = $4, "
              "cursor = CASE WHEN enabled = 0 AND $5 = 1 THEN (SELECT head_seq FROM accounts WHERE id = $2) "
              "ELSE cursor END, "
              "enabled = $5, event_types = $6, batch_max_events = $7, auth = $8, secret = $9, "
              "previous_secret = $10, previous_secret_expires_at = $11, disabled_reason = $12, updated_at = $14, "
              "batch_max_bytes = $15 WHERE id = $1 AND account_id = $2");
      bind_webhook(*s, w);
      GH_RETURN_IF_ERROR(done(db, s->step(), "update_webhook"));
      if (db.changes() == 0) return Error::not_found("webhook " + w.id + " not found");
      return ok_status();
    });
  }

  Status delete_webhook(const std::string& account_id, const std::string& id) override {
    return write([&](Db& db) -> Status {
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
      return ok_status();
    });
  }

  Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(
      const std::string& account_id, const std::vector<std::string>& ids) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    Db& db = **r;
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
      GH_STMT(c, db,
              "SELECT state, count(*) FROM batches WHERE webhook_id = $1 AND account_id = $2 AND state IN "
              "('pending', 'failed') GROUP BY state");
      c->bind(1, id).bind(2, account_id);
      while (c->step() == SQLITE_ROW) {
        if (c->text(0) == "failed") st.failed_batches = c->i64(1);
        else st.pending_batches = c->i64(1);
      }
      out.emplace(id, st);
    }
    return out;
  }

  // ---- delivery ----
  Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                     const ClaimRequest& req) override {
    std::lock_guard lock(write_mu_);
    Db& db = *writer_;
    Tx tx(db, Durability::kRelaxed);
    GH_RETURN_IF_ERROR(tx.begin());
    for (const auto& o : outcomes) GH_RETURN_IF_ERROR(record_one(db, o));
    std::vector<ClaimedBatch> out;
    std::unordered_map<std::string, int> busy = req.in_flight;
    GH_RETURN_IF_ERROR(claim_due(db, req, busy, out));
    GH_RETURN_IF_ERROR(cut_new_batches(db, req, busy, out));
    GH_RETURN_IF_ERROR(tx.commit());
    return out;
  }

  Status record_outcomes(std::span<const AttemptOutcome> outcomes) override {
    return write(
        [&](Db& db) -> Status {
          for (const auto& o : outcomes) GH_RETURN_IF_ERROR(record_one(db, o));
          return ok_status();
        },
        Durability::kRelaxed);
  }

  Status release_leases(const std::string& owner) override {
    return write([&](Db& db) -> Status {
      GH_STMT(s, db,
              "UPDATE batches SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL AND "
              "($1 = '' OR lease_owner = $1)");
      s->bind(1, owner);
      return done(db, s->step(), "release_leases");
    });
  }

  Result<std::optional<int64_t>> next_due_ms(int64_t now_ms) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r,
            "SELECT min(max(b.next_attempt_at, b.lease_until)) FROM batches b JOIN webhooks w ON w.id = "
            "b.webhook_id WHERE b.state = 'pending' AND w.enabled = 1");
    (void)now_ms;
    int rc = s->step();
    if (rc != SQLITE_ROW) return (*r)->error(rc, "next_due_ms");
    return s->opt_i64(0);
  }

  // ---- batches for the API ----
  Result<std::vector<Batch>> list_batches(const std::string& account_id, const std::string& webhook_id,
                                          std::optional<BatchState> state, const std::string& before_id,
                                          int limit) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    Db& db = **r;
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

  Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    Db& db = **r;
    GH_STMT(s, db,
            "SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, cycle_attempts, "
            "first_seq, last_seq, type_mask FROM batches WHERE id = $1 AND account_id = $2");
    s->bind(1, batch_id).bind(2, account_id);
    int rc = s->step();
    if (rc == SQLITE_DONE) return Error::not_found("batch " + batch_id + " not found");
    if (rc != SQLITE_ROW) return db.error(rc, "get_batch");
    BatchDetail d;
    d.batch = batch_from_row(*s);
    int64_t first = s->i64(8), last = s->i64(9), mask = s->i64(10);
    GH_RETURN_IF_ERROR(load_attempts(db, d.batch));
    int64_t oldest = 0;
    auto ev = batch_events(db, account_id, first, last, mask, &oldest);
    if (!ev.ok()) return ev.error();
    d.events_json = std::move(*ev);
    return d;
  }

  Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id, int64_t now_ms) override {
    auto s = write([&](Db& db) -> Status {
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
    });
    if (!s.ok()) return s.error();
    auto d = get_batch(account_id, batch_id);
    if (!d.ok()) return d.error();
    return std::move(d->batch);
  }

  Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id, int64_t now_ms) override {
    int n = 0;
    auto s = write([&](Db& db) -> Status {
      GH_STMT(u, db,
              "UPDATE batches SET state = 'pending', next_attempt_at = $3, cycle_attempts = 0, lease_owner = NULL, "
              "lease_until = 0, updated_at = $3 WHERE webhook_id = $1 AND account_id = $2 AND state = 'failed'");
      u->bind(1, webhook_id).bind(2, account_id).bind(3, now_ms);
      GH_RETURN_IF_ERROR(done(db, u->step(), "retry_failed"));
      n = static_cast<int>(db.changes());
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return n;
  }

  Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) override {
    int deleted = 0;
    auto s = write([&](Db& db) -> Status {
      std::vector<std::string> ids;
      {
        GH_STMT(q, db,
                "SELECT id FROM batches WHERE (state = 'delivered' AND state <> 'pending' AND updated_at < $1) OR "
                "(state = 'failed' AND state <> 'pending' AND updated_at < $2) LIMIT $3");
        q->bind(1, delivered_before_ms).bind(2, failed_before_ms).bind(3, limit);
        while (q->step() == SQLITE_ROW) ids.push_back(q->str(0));
      }
      for (const auto& id : ids) {
        {
          GH_STMT(a, db, "DELETE FROM attempts WHERE batch_id = $1");
          a->bind(1, id);
          GH_RETURN_IF_ERROR(done(db, a->step(), "prune attempts"));
        }
        GH_STMT(b, db, "DELETE FROM batches WHERE id = $1");
        b->bind(1, id);
        GH_RETURN_IF_ERROR(done(db, b->step(), "prune batches"));
        ++deleted;
      }
      // Events below every cursor and every remaining batch of their account,
      // older than the shorter retention, are needed by nobody. Each account
      // is read from its oldest event on, at most `limit` rows a step, and
      // not at all when its oldest event is too recent (created_at follows
      // seq): a step never reads the events that stay. (A filter on
      // created_at over the whole table read every event under the write
      // lock, and once events were old enough checked every batch for each.)
      std::vector<std::pair<std::string, int64_t>> accounts;
      {
        GH_STMT(q, db, "SELECT id, head_seq FROM accounts");
        int rc;
        while ((rc = q->step()) == SQLITE_ROW) accounts.emplace_back(q->str(0), q->i64(1));
        GH_RETURN_IF_ERROR(done(db, rc, "prune: accounts"));
      }
      // The shorter period (the later time) applies to events: a failed batch
      // kept longer holds its own events through the bound above.
      const int64_t created_before = std::max(delivered_before_ms, failed_before_ms);
      int events_deleted = 0;
      for (const auto& [account, head] : accounts) {
        if (events_deleted >= limit) break;
        int64_t upto;
        {
          GH_STMT(q, db,
                  "SELECT min(coalesce((SELECT min(cursor) FROM webhooks WHERE account_id = $1), $2), "
                  "coalesce((SELECT min(first_seq) - 1 FROM batches WHERE account_id = $1), $2))");
          q->bind(1, account).bind(2, head);
          int rc = q->step();
          if (rc != SQLITE_ROW) return db.error(rc, "prune: bound");
          upto = q->i64(0);
        }
        {
          GH_STMT(q, db, "SELECT created_at FROM events WHERE account_id = $1 AND seq <= $2 ORDER BY seq LIMIT 1");
          q->bind(1, account).bind(2, upto);
          int rc = q->step();
          if (rc == SQLITE_DONE) continue;
          if (rc != SQLITE_ROW) return db.error(rc, "prune: oldest event");
          if (q->i64(0) >= created_before) continue;
        }
        GH_STMT(e, db,
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE account_id = $1 AND seq <= $2 "
                "ORDER BY seq LIMIT $3) AND created_at < $4");
        e->bind(1, account).bind(2, upto).bind(3, limit - events_deleted).bind(4, created_before);
        GH_RETURN_IF_ERROR(done(db, e->step(), "prune events"));
        events_deleted += static_cast<int>(db.changes());
      }
      deleted += events_deleted;
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return deleted;
  }

  Result<StoreCounts> counts() override {
    auto r = reader();
    if (!r.ok()) return r.error();
    Db& db = **r;
    StoreCounts c;
    {
      // Each count from its partial index: pending ones from batches_due,
      // failed ones from batches_finished (the query must name its
      // condition for SQLite to use it).
      GH_STMT(s, db,
              "SELECT (SELECT count(*) FROM batches WHERE state = 'pending'), "
              "(SELECT count(*) FROM batches WHERE state = 'failed' AND state <> 'pending')");
      if (s->step() == SQLITE_ROW) {
        c.pending_batches = s->i64(0);
        c.failed_batches = s->i64(1);
      }
    }
    {
      GH_STMT(s, db, "SELECT count(*) FROM batches WHERE state = 'pending' AND cycle_attempts > 0");
      if (s->step() == SQLITE_ROW) c.retry_scheduled = s->i64(0);
    }
    GH_STMT(s, db,
            "SELECT coalesce(sum((SELECT count(*) FROM events e WHERE e.account_id = w.account_id AND e.seq > "
            "w.cursor AND (e.type & w.event_types) != 0)), 0) FROM webhooks w JOIN accounts a ON a.id = "
            "w.account_id WHERE w.enabled = 1 AND w.cursor < a.head_seq");
    if (s->step() == SQLITE_ROW) c.pending_events = s->i64(0);
    return c;
  }

  Status ping() override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r, "SELECT 1");
    int rc = s->step();
    if (rc != SQLITE_ROW) return (*r)->error(rc, "ping");
    return ok_status();
  }

 private:
  // A pooled reader connection, returned to the pool on destruction.
  class Reader {
   public:
    Reader(SqliteStore* st, std::unique_ptr<Db> db) : st_(st), db_(std::move(db)) {}
    Reader(Reader&& o) noexcept : st_(o.st_), db_(std::move(o.db_)) {}
    ~Reader() {
      if (db_) st_->give_back(std::move(db_));
    }
    Db& operator*() { return *db_; }
    Db* operator->() { return db_.get(); }

   private:
    SqliteStore* st_;
    std::unique_ptr<Db> db_;
  };

  Result<Reader> reader() {
    {
      std::lock_guard lock(read_mu_);
      if (!readers_.empty()) {
        auto db = std::move(readers_.back());
        readers_.pop_back();
        return Reader(this, std::move(db));
      }
    }
    auto db = Db::open(path_, /*read_only=*/false);
    if (!db.ok()) return db.error();
    return Reader(this, std::move(*db));
  }

  void give_back(std::unique_ptr<Db> db) {
    std::lock_guard lock(read_mu_);
    if (readers_.size() < 8) readers_.push_back(std::move(db));
  }

  template <class F>
  Status write(F&& body, Durability durability = Durability::kFull) {
    std::lock_guard lock(write_mu_);
    Tx tx(*writer_, durability);
    GH_RETURN_IF_ERROR(tx.begin());
    GH_RETURN_IF_ERROR(body(*writer_));
    return tx.commit();
  }

  static Status done(Db& db, int rc, std::string_view what) {
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return ok_status();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return Error::conflict(std::string(what) + ": " + db.errmsg());
    return db.error(rc, what);
  }

  static Result<Account> account_row(Db& db, Stmt& s) {
    int rc = s.step();
    if (rc == SQLITE_DONE) return Error::not_found("account not found");
    if (rc != SQLITE_ROW) return db.error(rc, "account");
    return Account{s.str(0), s.str(1), s.i64(2)};
  }

  static void bind_webhook(Stmt& s, const Webhook& w) {
    s.bind(1, w.id).bind(2, w.account_id).bind(3, w.name).bind(4, w.url).bind(5, w.enabled ? 1 : 0);
    s.bind(6, static_cast<int>(w.event_types)).bind(7, w.batch_max_events).bind(8, auth_to_storage(w.auth));
    s.bind(9, w.secret).bind(10, w.previous_secret).bind(11, w.previous_secret_expires_ms);
    s.bind(12, w.disabled_reason).bind(13, w.created_at_ms).bind(14, w.updated_at_ms).bind(15, w.batch_max_bytes);
  }

  static Result<Webhook> load_webhook(Db& db, const std::string& account_id, const std::string& id) {
    GH_STMT(s, db,
            "SELECT " GH_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = $1 AND ($2 = '' OR w.account_id = $2)");
    s->bind(1, id).bind(2, account_id);
    int rc = s->step();
    if (rc == SQLITE_DONE) return Error::not_found("webhook " + id + " not found");
    if (rc != SQLITE_ROW) return db.error(rc, "get_webhook");
    return webhook_from_row(*s);
  }

  Result<AppendOutcome> append_one(Db& db, const AppendRequest& req) {
    if (!known_accounts_.count(req.account_id)) {
      GH_STMT(q, db, "SELECT 1 FROM accounts WHERE id = $1");
      q->bind(1, req.account_id);
      int rc = q->step();
      if (rc == SQLITE_DONE) return Error::not_found("account " + req.account_id + " not found");
      if (rc != SQLITE_ROW) return db.error(rc, "append_events");
      known_accounts_.insert(req.account_id);
    }
    GH_RETURN_IF_ERROR(db.run("SAVEPOINT request"));
    auto r = insert_events(db, req);
    if (!r.ok()) {
      (void)db.run("ROLLBACK TO request");
      (void)db.run("RELEASE request");
      return r.error();
    }
    GH_RETURN_IF_ERROR(db.run("RELEASE request"));
    return r;
  }

  Result<AppendOutcome> insert_events(Db& db, const AppendRequest& req) {
    AppendOutcome out;
    out.ids.reserve(req.events.size());
    GH_STMT(ins, db,
            "INSERT INTO events(account_id, id, type, occurred_at, created_at, body) VALUES($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT(account_id, id) DO NOTHING");
    for (const auto& e : req.events) {
      ins->bind(1, req.account_id).bind(2, e.id).bind(3, static_cast<int>(e.type));
      ins->bind(4, e.occurred_at_ms).bind(5, req.now_ms).bind(6, e.message_json);
      int rc = ins->step();
      if (rc != SQLITE_DONE) return db.error(rc, "insert event");
      out.stored += static_cast<int>(db.changes());
      ins->reset();
      out.ids.push_back(e.id);
    }
    if (out.stored > 0) {
      GH_STMT(h, db, "UPDATE accounts SET head_seq = last_insert_rowid() WHERE id = $1");
      h->bind(1, req.account_id);
      GH_RETURN_IF_ERROR(done(db, h->step(), "advance head"));
    }
    return out;
  }

  Status claim_due(Db& db, const ClaimRequest& req, std::unordered_map<std::string, int>& busy,
                   std::vector<ClaimedBatch>& out) {
    struct Due {
      std::string id, webhook_id, account_id;
      int64_t first, last, mask;
    };
    std::vector<Due> due;
    {
      // Webhooks at their limit are left out in the query, not after it: the
      // due batches of a few saturated (slow or dead) webhooks must not fill
      // the window and hide everyone else's retries.
      std::string full = "[";
      for (const auto& [id, n] : busy) {
        if (n < req.limit_for(id)) continue;
        if (full.size() > 1) full += ',';
        full += '"' + id + '"';  // ids are [a-z0-9_]
      }
      full += ']';
      GH_STMT(s, db,
              "SELECT b.id, b.webhook_id, b.account_id, b.first_seq, b.last_seq, b.type_mask FROM batches b "
              "JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND b.next_attempt_at <= $1 "
              "AND b.lease_until <= $1 AND w.enabled = 1 AND b.webhook_id NOT IN (SELECT value FROM json_each($3)) "
              "ORDER BY b.next_attempt_at LIMIT $2");
      s->bind(1, req.now_ms).bind(2, req.max_batches * 4).bind(3, full);
      while (s->step() == SQLITE_ROW) {
        due.push_back({s->str(0), s->str(1), s->str(2), s->i64(3), s->i64(4), s->i64(5)});
      }
    }
    for (auto& d : due) {
      if (static_cast<int>(out.size()) >= req.max_batches) break;
      int& n = busy[d.webhook_id];
      if (n >= req.limit_for(d.webhook_id)) continue;
      {
        GH_STMT(u, db,
                "UPDATE batches SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND lease_until <= $4");
        u->bind(1, d.id).bind(2, req.owner).bind(3, req.now_ms + req.lease_ms).bind(4, req.now_ms);
        GH_RETURN_IF_ERROR(done(db, u->step(), "lease batch"));
        if (db.changes() == 0) continue;
      }
      ClaimedBatch c;
      auto w = load_webhook(db, d.account_id, d.webhook_id);
      if (!w.ok()) return w.error();
      c.webhook = std::move(*w);
      auto b = load_batch(db, d.id);
      if (!b.ok()) return b.error();
      c.batch = std::move(*b);
      {
        GH_STMT(n, db, "SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1");
        n->bind(1, d.id);
        int rc = n->step();
        if (rc != SQLITE_ROW) return db.error(rc, "attempt number");
        c.next_attempt_number = static_cast<int>(n->i64(0));
      }
      auto ev = batch_events(db, d.account_id, d.first, d.last, d.mask, &c.oldest_event_created_ms);
      if (!ev.ok()) return ev.error();
      c.events_json = std::move(*ev);
      out.push_back(std::move(c));
      ++n;
    }
    return ok_status();
  }

  Status cut_new_batches(Db& db, const ClaimRequest& req, std::unordered_map<std::string, int>& busy,
                         std::vector<ClaimedBatch>& out) {
    struct Candidate {
      Webhook w;
      int64_t cursor, head;
    };
    std::vector<Candidate> candidates;
    {
      GH_STMT(s, db,
              "SELECT " GH_WEBHOOK_COLUMNS ", w.cursor, a.head_seq FROM webhooks w JOIN accounts a "
              "ON a.id = w.account_id WHERE w.enabled = 1 AND w.cursor < a.head_seq");
      while (s->step() == SQLITE_ROW) candidates.push_back({webhook_from_row(*s), s->i64(15), s->i64(16)});
    }
    for (auto& c : candidates) {
      int& n = busy[c.w.id];
      int room = std::min(req.limit_for(c.w.id) - n, req.max_batches - static_cast<int>(out.size()));
      if (room <= 0) continue;
      size_t before = out.size();
      GH_RETURN_IF_ERROR(cut_batches(db, req, c.w, c.cursor, c.head, room, out));
      n += static_cast<int>(out.size() - before);
    }
    return ok_status();
  }

  // Cuts up to `room` batches from the webhook's pending events after
  // cursor (domain/batching.h), with one read of the events and one move of
  // the cursor.
  Status cut_batches(Db& db, const ClaimRequest& req, const Webhook& w, int64_t cursor, int64_t head, int room,
                     std::vector<ClaimedBatch>& out) {
    const BatchLimits limits = batch_limits(w, req.max_batch_bytes, room);
    const int64_t limit = events_to_read(limits);
    std::vector<PendingEvent> rows;
    {
      GH_STMT(s, db,
              "SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1 AND seq > $2 AND "
              "seq <= $3 AND (type & $4) != 0 ORDER BY seq LIMIT $5");
      s->bind(1, w.account_id).bind(2, cursor).bind(3, head).bind(4, static_cast<int>(w.event_types));
      s->bind(5, limit);
      while (s->step() == SQLITE_ROW) rows.push_back({s->i64(0), s->i64(1), s->i64(2), s->str(3)});
    }
    // Fewer rows than asked: nothing more of its types up to head.
    Packing packed = pack_batches(rows, cursor, head, static_cast<int64_t>(rows.size()) < limit, limits);
    for (auto& b : packed.batches) {
      auto c = insert_batch(db, req, w, b);
      if (!c.ok()) return c.error();
      out.push_back(std::move(*c));
    }
    GH_STMT(u, db, "UPDATE webhooks SET cursor = $2 WHERE id = $1");
    u->bind(1, w.id).bind(2, packed.position);
    return done(db, u->step(), "advance cursor");
  }

  // Inserts one leased batch, as cut.
  Result<ClaimedBatch> insert_batch(Db& db, const ClaimRequest& req, const Webhook& w, CutBatch& cut) {
    ClaimedBatch c;
    c.webhook = w;
    c.batch.id = new_id("bat", req.now_ms);
    c.batch.webhook_id = w.id;
    c.batch.account_id = w.account_id;
    c.batch.state = BatchState::kPending;
    c.batch.event_count = cut.event_count;
    c.batch.created_at_ms = req.now_ms;
    c.batch.next_attempt_at_ms = req.now_ms;
    c.next_attempt_number = 1;
    GH_STMT(ins, db,
            "INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, event_count, "
            "created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, lease_until) "
            "VALUES($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $8, $8, 0, $9, $10)");
    ins->bind(1, c.batch.id).bind(2, w.id).bind(3, w.account_id).bind(4, cut.first_seq).bind(5, cut.last_seq);
    ins->bind(6, static_cast<int>(w.event_types)).bind(7, c.batch.event_count).bind(8, req.now_ms);
    ins->bind(9, req.owner).bind(10, req.now_ms + req.lease_ms);
    GH_RETURN_IF_ERROR(done(db, ins->step(), "insert batch"));
    c.oldest_event_created_ms = cut.oldest_created_at_ms;
    c.events_json = std::move(cut.events_json);
    return c;
  }

  // A batch's events, in the order and shape of domain/batching.h.
  static Result<std::string> batch_events(Db& db, const std::string& account_id, int64_t first, int64_t last,
                                          int64_t mask, int64_t* oldest_created) {
    GH_STMT(s, db,
            "SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1 AND seq >= $2 AND "
            "seq <= $3 AND (type & $4) != 0 ORDER BY seq");
    s->bind(1, account_id).bind(2, first).bind(3, last).bind(4, mask);
    std::vector<PendingEvent> rows;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) rows.push_back({s->i64(0), s->i64(1), s->i64(2), s->str(3)});
    if (rc != SQLITE_DONE) return db.error(rc, "batch events");
    *oldest_created = oldest_created_at_ms(rows);
    return batch_events_json(rows);
  }

  static Batch batch_from_row(const Stmt& s) {
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

  static Result<Batch> load_batch(Db& db, const std::string& id) {
    GH_STMT(s, db,
            "SELECT id, webhook_id, account_id, state, event_count, created_at, next_attempt_at, cycle_attempts "
            "FROM batches WHERE id = $1");
    s->bind(1, id);
    int rc = s->step();
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? Error::not_found("batch " + id) : db.error(rc, "batch");
    return batch_from_row(*s);
  }

  static Status collect_batches(Db& db, Stmt& s, std::vector<Batch>& out) {
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(batch_from_row(s));
    if (rc != SQLITE_DONE) return db.error(rc, "list_batches");
    return ok_status();
  }

  static Status load_attempts(Db& db, Batch& b) {
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

  static Status record_one(Db& db, const AttemptOutcome& o) {
    {
      GH_STMT(u, db,
              "UPDATE batches SET state = $3, next_attempt_at = $4, cycle_attempts = cycle_attempts + 1, "
              "lease_owner = NULL, lease_until = 0, updated_at = $5 WHERE id = $1 AND lease_owner = $2");
      u->bind(1, o.batch_id).bind(2, o.owner).bind(3, to_string(o.new_state));
      u->bind(4, o.next_attempt_at_ms).bind(5, o.attempt.at_ms + o.attempt.duration_ms);
      GH_RETURN_IF_ERROR(done(db, u->step(), "record outcome"));
      if (db.changes() == 0) return ok_status();  // lease lost: another node owns it now
    }
    {
      // The number, when the claim brought it, saves a lookup a batch.
      auto insert = [&](Stmt& a) {
        a.bind(1, o.batch_id).bind(2, o.attempt.at_ms).bind(3, o.attempt.status_code);
        a.bind(4, o.attempt.duration_ms).bind(5, o.attempt.error).bind(6, o.attempt.response_body);
        if (o.attempt_number > 0) a.bind(7, o.attempt_number);
        return done(db, a.step(), "insert attempt");
      };
      if (o.attempt_number > 0) {
        GH_STMT(a, db,
                "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
                "VALUES($1, $7, $2, $3, $4, $5, $6)");
        GH_RETURN_IF_ERROR(insert(*a));
      } else {
        GH_STMT(a, db,
                "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) VALUES($1, "
                "(SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1), $2, $3, $4, $5, $6)");
        GH_RETURN_IF_ERROR(insert(*a));
      }
    }
    if (!o.disable_reason.empty()) {
      GH_STMT(w, db, "UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1");
      w->bind(1, o.webhook_id).bind(2, o.disable_reason).bind(3, o.attempt.at_ms);
      GH_RETURN_IF_ERROR(done(db, w->step(), "disable webhook"));
    }
    return ok_status();
  }

  std::string path_;
  int lock_fd_;
  std::mutex write_mu_;
  std::unique_ptr<Db> writer_;
  std::unordered_set<std::string> known_accounts_;  // guarded by write_mu_
  std::mutex read_mu_;
  std::vector<std::unique_ptr<Db>> readers_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;
};

// The database holds the webhooks' signing secrets and their receivers'
// credentials in clear: only the service's user may read it. A data folder
// created here is 0700; the database is created 0600 (and an older one
// tightened), and SQLite gives its -wal and -shm files the database's mode.
void restrict_to_owner(const std::string& data_dir, bool folder_created) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  if (folder_created) fs::permissions(data_dir, fs::perms::owner_all, ignored);
  const std::string db = data_dir + "/growhook.db";
  int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)::fchmod(fd, 0600);
    ::close(fd);
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    if (fs::exists(db + suffix, ignored)) {
      fs::permissions(db + suffix, fs::perms::owner_read | fs::perms::owner_write, ignored);
    }
  }
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir) {
  std::error_code ec;
  const bool folder_created = std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error::unavailable("cannot create data folder " + data_dir + ": " + ec.message());
  std::string lock_path = data_dir + "/LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::unavailable("cannot open " + lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Error::conflict("data folder " + data_dir +
                           " is in use by another growhook process; stop it or choose another --data-dir");
  }
  restrict_to_owner(data_dir, folder_created);
  std::string path = data_dir + "/growhook.db";
  auto db = sqlite::Db::open(path, false);
  if (!db.ok()) {
    ::close(fd);
    return db.error();
  }
  auto store = std::make_unique<SqliteStore>(path, fd, std::move(*db));
  if (auto s = store->migrate(); !s.ok()) return s.error();
  if (auto s = store->start_checkpointer(); !s.ok()) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace growhook
