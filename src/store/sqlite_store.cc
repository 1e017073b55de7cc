// The SQLite store: the roles of store.h over one database file. This file
// holds the class (one writer connection behind a mutex, a pool of reader
// connections, the data folder's lock), ingestion, accounts and settings;
// the rest is in files of their own, as for PostgreSQL: sqlite_claim.cc
// (the work queue), sqlite_catalog.cc (webhooks and batches for the API),
// sqlite_retention.cc (prune), sqlite_rows.* (what they share),
// sqlite_schema.cc (migrations), sqlite_checkpointer.* (WAL checkpoints).
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
#include "store/secret_keys.h"
#include "store/sqlite_catalog.h"
#include "store/sqlite_contacts.h"
#include "store/sqlite_activity.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite_claim.h"
#include "store/sqlite_db.h"
#include "store/sqlite_backlog.h"
#include "store/sqlite_outbox.h"
#include "store/sqlite_portal.h"
#include "store/sqlite_retention.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_secrets.h"

namespace growhook {
namespace {

using sqlite::Db;
using sqlite::done;
using sqlite::Durability;
using sqlite::Stmt;
using sqlite::StmtUse;

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

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, int lock_fd, std::unique_ptr<Db> writer, std::shared_ptr<const SecretBox> secrets,
              int64_t busy_timeout_ms)
      : path_(std::move(path)),
        busy_timeout_ms_(busy_timeout_ms),
        lock_fd_(lock_fd),
        secrets_(std::move(secrets)),
        writer_(std::move(writer)) {
    writer_->set_secrets(secrets_.get());
  }
  ~SqliteStore() override {
    checkpointer_.reset();  // before the writer it hooks
    readers_.clear();
    writer_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  // The schema, then the secrets: values still in clear (a store written
  // before schema 7) are sealed, and every sealed one must open with the
  // keys given, or the start stops naming the webhook and the key.
  Status migrate() {
    std::lock_guard lock(write_mu_);
    GH_RETURN_IF_ERROR(apply_sqlite_migrations(*writer_));
    for (ResealPage page; ;) {
      auto next = sqlite::reseal_page(*writer_, page.last_id, 500, /*reseal=*/false);
      if (!next.ok()) return next.error();
      if (next->examined < 500) return ok_status();
      page = std::move(*next);
    }
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
            "SELECT a.id, a.name, a.created_at, a.notification_email FROM api_keys k JOIN accounts a ON a.id = "
            "k.account_id "
            "WHERE k.key_hash = $1");
    s->bind(1, key_hash);
    return account_row(**r, *s);
  }

  Result<Account> get_account(const std::string& id) override {
    auto r = reader();
    if (!r.ok()) return r.error();
    GH_STMT(s, **r, "SELECT id, name, created_at, notification_email FROM accounts WHERE id = $1");
    s->bind(1, id);
    return account_row(**r, *s);
  }

  Status set_notification_email(const std::string& id, const std::optional<std::string>& email) override {
    return write([&](Db& db) { return sqlite::set_notification_email(db, id, email); });
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
    for (const auto& req : requests) {
      out.push_back(append_one(db, req));
      if (sqlite3_get_autocommit(db.raw()) != 0) {
        // SQLite rolled the whole transaction back (a full disk or an I/O
        // error in the middle of a statement): nothing of the group is
        // stored, and the requests after it must not run outside it.
        const Error e = out.back().ok() ? Error::unavailable("SQLite rolled the transaction back")
                                        : out.back().error();
        known_accounts_.clear();
        out.clear();
        for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(e);
        return out;
      }
    }
    if (auto s = tx.commit(); !s.ok()) {
      known_accounts_.clear();  // heads may have been rolled back
      out.clear();
      for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(s.error());
    }
    return out;
  }

  // ---- webhooks (sqlite_catalog.cc) ----
  Status create_webhook(const Webhook& w) override {
    return write([&](Db& db) { return sqlite::create_webhook(db, w); });
  }

  Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) override {
    return read([&](Db& db) { return sqlite::load_webhook(db, account_id, id); });
  }

  Result<std::vector<Webhook>> list_webhooks(const std::string& account_id, const std::string& after_id,
                                             int limit) override {
    return read([&](Db& db) { return sqlite::list_webhooks(db, account_id, after_id, limit); });
  }

  Status update_webhook(const Webhook& w) override {
    return write([&](Db& db) { return sqlite::update_webhook(db, w); });
  }

  Status delete_webhook(const std::string& account_id, const std::string& id) override {
    return write([&](Db& db) { return sqlite::delete_webhook(db, account_id, id); });
  }

  Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(
      const std::string& account_id, const std::vector<std::string>& ids) override {
    return read([&](Db& db) { return sqlite::webhook_stats(db, account_id, ids); });
  }

  // ---- delivery (sqlite_claim.cc) ----
  // One transaction a turn: the outcomes and the claims commit together.
  Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                     const ClaimRequest& req) override {
    std::lock_guard lock(write_mu_);
    Db& db = *writer_;
    Tx tx(db, Durability::kRelaxed);
    GH_RETURN_IF_ERROR(tx.begin());
    for (const auto& o : outcomes) GH_RETURN_IF_ERROR(sqlite::record_outcome(db, o));
    auto out = sqlite::claim(db, req);
    if (!out.ok()) return out.error();
    GH_RETURN_IF_ERROR(tx.commit());
    return out;
  }

  Status record_outcomes(std::span<const AttemptOutcome> outcomes) override {
    return write(
        [&](Db& db) -> Status {
          for (const auto& o : outcomes) GH_RETURN_IF_ERROR(sqlite::record_outcome(db, o));
          return ok_status();
        },
        Durability::kRelaxed);
  }

  Status release_leases(const std::string& owner) override {
    return write([&](Db& db) { return sqlite::release_leases(db, owner); });
  }

  Result<std::optional<int64_t>> next_due_ms() override {
    return read([&](Db& db) { return sqlite::next_due_ms(db); });
  }

  // ---- batches for the API (sqlite_catalog.cc) ----
  Result<std::vector<Batch>> list_batches(const std::string& account_id, const std::string& webhook_id,
                                          std::optional<BatchState> state, const std::string& before_id,
                                          int limit) override {
    return read([&](Db& db) { return sqlite::list_batches(db, account_id, webhook_id, state, before_id, limit); });
  }

  Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) override {
    return read([&](Db& db) { return sqlite::get_batch(db, account_id, batch_id); });
  }

  Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id, int64_t now_ms) override {
    auto s = write([&](Db& db) { return sqlite::mark_for_retry(db, account_id, batch_id, now_ms); });
    if (!s.ok()) return s.error();
    auto d = get_batch(account_id, batch_id);
    if (!d.ok()) return d.error();
    return std::move(d->batch);
  }

  Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id, int64_t now_ms) override {
    return write_result([&](Db& db) { return sqlite::retry_failed(db, account_id, webhook_id, now_ms); });
  }

  // ---- contacts (sqlite_contacts.cc) ----
  Result<std::vector<StoredEvent>> find_contact_events(const std::string& account_id,
                                                       const ContactQuery& query) override {
    return read([&](Db& db) { return sqlite::find_contact_events(db, account_id, query); });
  }

  Result<StoredEvent> get_event(const std::string& account_id, const std::string& event_id) override {
    return read([&](Db& db) { return sqlite::get_event(db, account_id, event_id); });
  }

  // ---- backlog (sqlite_backlog.cc) ----
  Result<Enabled> enable_webhook(const std::string& account_id, const std::string& id, bool from_head,
                                 int64_t now_ms) override {
    return write_result([&](Db& db) { return sqlite::enable_webhook(db, account_id, id, from_head, now_ms); });
  }

  Result<Recovered> recover(const std::string& account_id, const std::string& id, const RecoverRequest& req) override {
    return write_result([&](Db& db) { return sqlite::recover(db, account_id, id, req); });
  }

  // ---- webhook stats (sqlite_activity.cc) ----
  Result<std::vector<ActivityBucket>> webhook_activity(const std::string& account_id, const std::string& webhook_id,
                                                       int64_t since_ms) override {
    return read([&](Db& db) { return sqlite::webhook_activity(db, account_id, webhook_id, since_ms); });
  }

  // ---- portal sessions (sqlite_portal.cc) ----
  Status create_portal_session(const PortalSession& p) override {
    return write([&](Db& db) { return sqlite::create_portal_session(db, p); });
  }

  Result<PortalGrant> redeem_portal_link(const std::string& link_hash, const std::string& token_hash,
                                         int64_t now_ms) override {
    return write_result([&](Db& db) { return sqlite::redeem_portal_link(db, link_hash, token_hash, now_ms); });
  }

  Result<PortalGrant> portal_session_by_token(const std::string& token_hash, int64_t now_ms) override {
    return read([&](Db& db) { return sqlite::portal_session_by_token(db, token_hash, now_ms); });
  }

  Status end_portal_session(const std::string& token_hash, int64_t now_ms) override {
    return write([&](Db& db) { return sqlite::end_portal_session(db, token_hash, now_ms); });
  }

  Result<int> end_portal_sessions(const std::string& account_id, int64_t now_ms) override {
    return write_result([&](Db& db) { return sqlite::end_portal_sessions(db, account_id, now_ms); });
  }

  Result<int> prune_portal_sessions(int64_t now_ms, int limit) override {
    return write_result([&](Db& db) { return sqlite::prune_portal_sessions(db, now_ms, limit); });
  }

  // ---- the notification outbox (sqlite_outbox.cc) ----
  Result<std::vector<Notification>> claim_notifications(const std::string& owner, int64_t now_ms, int64_t lease_ms,
                                                        int limit) override {
    return write_result([&](Db& db) { return sqlite::claim_notifications(db, owner, now_ms, lease_ms, limit); });
  }
  Result<bool> finish_notification(const std::string& owner, const NotificationDone& d, int64_t now_ms) override {
    return write_result([&](Db& db) { return sqlite::finish_notification(db, owner, d, now_ms); });
  }
  Status release_notification_leases(const std::string& owner) override {
    return write([&](Db& db) { return sqlite::release_notification_leases(db, owner); });
  }
  Result<std::optional<int64_t>> next_notification_due_ms() override {
    return read([&](Db& db) { return sqlite::next_notification_due_ms(db); });
  }
  Result<int64_t> events_waiting(const std::string& id) override {
    return read([&](Db& db) { return sqlite::events_waiting(db, id); });
  }
  Result<int> prune_notifications(int64_t before_ms, int limit) override {
    return write_result([&](Db& db) { return sqlite::prune_notifications(db, before_ms, limit); });
  }

  // ---- maintenance ----
  Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) override {
    return write_result([&](Db& db) { return sqlite::prune(db, delivered_before_ms, failed_before_ms, limit); });
  }

  Result<StoreCounts> counts() override {
    auto c = read([&](Db& db) { return sqlite::counts(db); });
    if (c.ok() && checkpointer_) {
      c->wal_checkpoints_background = checkpointer_->background_checkpoints();
      c->wal_checkpoints_forced = checkpointer_->forced_checkpoints();
    }
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
    auto db = Db::open(path_, /*read_only=*/false, busy_timeout_ms_);
    if (!db.ok()) return db.error();
    (*db)->set_secrets(secrets_.get());
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

  // write() for a body that returns a value: committed, or the error.
  template <class F>
  auto write_result(F&& body) -> decltype(body(std::declval<Db&>())) {
    std::optional<decltype(body(std::declval<Db&>()))> r;
    auto s = write([&](Db& db) -> Status {
      r.emplace(body(db));
      if (!r->ok()) return r->error();
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return std::move(*r);
  }

  // body(db) on a pooled reader connection.
  template <class F>
  auto read(F&& body) -> decltype(body(std::declval<Db&>())) {
    auto r = reader();
    if (!r.ok()) return r.error();
    return body(**r);
  }

  static Result<Account> account_row(Db& db, Stmt& s) {
    int rc = s.step();
    if (rc == SQLITE_DONE) return Error::not_found("account not found");
    if (rc != SQLITE_ROW) return db.error(rc, "account");
    Account a{s.str(0), s.str(1), s.i64(2)};
    if (!s.is_null(3)) a.notification_email = s.str(3);
    return a;
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

  // The next event's seq. SQLite would give max(seq) + 1, which goes back
  // down when retention deletes the newest events (an idle installation): a
  // new event could then get a seq at or below a webhook's position, and
  // never be delivered. So seqs come from here, above every seq ever handed
  // out (the accounts' heads keep it when the events are gone). Gaps (a
  // request rolled back, a duplicate id) are harmless: batches are ranges.
  Result<int64_t> take_seq(Db& db) {
    if (next_seq_ == 0) {
      GH_STMT(q, db,
              "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), "
              "COALESCE((SELECT MAX(head_seq) FROM accounts), 0))");
      int rc = q->step();
      if (rc != SQLITE_ROW) return db.error(rc, "read the newest seq");
      next_seq_ = q->i64(0) + 1;
    }
    return next_seq_++;
  }

  Result<AppendOutcome> insert_events(Db& db, const AppendRequest& req) {
    AppendOutcome out;
    out.ids.reserve(req.events.size());
    int types = 0;  // of the events stored
    GH_STMT(ins, db,
            "INSERT INTO events(seq, account_id, id, type, occurred_at, created_at, body, msisdn, email) "
            "VALUES($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')) ON CONFLICT(account_id, id) DO NOTHING");
    for (const auto& e : req.events) {
      auto seq = take_seq(db);
      if (!seq.ok()) return seq.error();
      ins->bind(1, *seq).bind(2, req.account_id).bind(3, e.id).bind(4, static_cast<int>(e.type));
      ins->bind(5, e.occurred_at_ms).bind(6, req.now_ms).bind(7, e.message_json).bind(8, e.msisdn).bind(9, e.email);
      int rc = ins->step();
      if (rc != SQLITE_DONE) return db.error(rc, "insert event");
      if (db.changes() > 0) types |= type_bit(e.type);
      out.stored += static_cast<int>(db.changes());
      ins->reset();
      out.ids.push_back(e.id);
    }
    if (out.stored > 0) {
      // The head moves, and the webhooks of these types have work up to it
      // (store/work_queue.h); prune_at set when the account had no event.
      {
        GH_STMT(h, db,
                "UPDATE accounts SET head_seq = last_insert_rowid(), prune_at = coalesce(prune_at, $2) "
                "WHERE id = $1");
        h->bind(1, req.account_id).bind(2, req.now_ms);
        GH_RETURN_IF_ERROR(done(db, h->step(), "advance head"));
      }
      GH_STMT(w, db,
              "UPDATE webhooks SET work_seq = (SELECT head_seq FROM accounts WHERE id = $1) "
              "WHERE account_id = $1 AND (event_types & $2) != 0");
      w->bind(1, req.account_id).bind(2, types);
      GH_RETURN_IF_ERROR(done(db, w->step(), "webhooks with work"));
    }
    return out;
  }

  std::string path_;
  int64_t busy_timeout_ms_;
  int lock_fd_;
  std::shared_ptr<const SecretBox> secrets_;  // before the connections that use it
  std::mutex write_mu_;
  std::unique_ptr<Db> writer_;
  std::unordered_set<std::string> known_accounts_;  // guarded by write_mu_
  int64_t next_seq_ = 0;                            // guarded by write_mu_; 0: not read yet
  std::mutex read_mu_;
  std::vector<std::unique_ptr<Db>> readers_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir, const std::string& secrets_keys,
                                                 const DbLimits& limits) {
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
  sqlite::restrict_to_owner(data_dir, folder_created);
  auto secrets = sqlite_secret_keys(secrets_keys, data_dir, /*create=*/true);
  if (!secrets.ok()) {
    ::close(fd);
    return secrets.error();
  }
  std::string path = data_dir + "/growhook.db";
  auto db = sqlite::Db::open(path, false, limits.timeout_ms);
  if (!db.ok()) {
    ::close(fd);
    return db.error();
  }
  auto store = std::make_unique<SqliteStore>(path, fd, std::move(*db), std::move(*secrets), limits.timeout_ms);
  if (auto s = store->migrate(); !s.ok()) return s.error();
  if (auto s = store->start_checkpointer(); !s.ok()) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace growhook
