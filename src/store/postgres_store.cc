// The PostgreSQL store: the contract of store.h, for any number of nodes
// sharing one database. libpq behind a small pool (pg_pool.h); each
// connection prepares its statements once (pg_conn.h); migrations in
// pg_schema.cc; the work queue (claims, outcomes, leases) in pg_claim.cc;
// webhooks and batches for the API in pg_catalog.cc; prune in
// pg_retention.cc; LISTEN in pg_listener.cc. This file: the class,
// ingestion, accounts and settings.
//
// (Why sequence numbers become visible in order: postgres_store.h.)
#include "store/postgres_store.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_set>

#include "store/codec.h"
#include "store/pg_catalog.h"
#include "store/pg_contacts.h"
#include "store/pg_activity.h"
#include "store/pg_claim.h"
#include "store/pg_listener.h"
#include "store/pg_pool.h"
#include "store/pg_backlog.h"
#include "store/pg_outbox.h"
#include "store/pg_portal.h"
#include "store/pg_retention.h"
#include "store/pg_rows.h"
#include "store/pg_schema.h"
#include "store/pg_secrets.h"
#include "store/secret_keys.h"

namespace growhook {
namespace {

using pg::Conn;
using pg::Params;
using pg::PgResult;

// Borrows a pooled connection as pg::Conn& var, or returns the error.
#define GH_PG_CONN(var)                              \
  auto var##_lease = pool_.acquire();                \
  if (!var##_lease.ok()) return var##_lease.error(); \
  pg::Conn& var = **var##_lease

class PostgresStore final : public Store, public WorkNotifier {
 public:
  PostgresStore(const std::string& url, int pool_size, std::shared_ptr<const SecretBox> secrets,
                const DbLimits& limits, std::shared_ptr<DbCallStats> stats)
      : secrets_(std::move(secrets)), stats_(std::move(stats)), limits_(limits),
        pool_(url, pool_size, limits, stats_.get()) {
    pool_.set_secrets(secrets_.get());
  }
  ~PostgresStore() override { listener_.reset(); }

  // The schema, then the secrets (as SqliteStore::migrate): values in
  // clear sealed, and every sealed one must open with the keys given.
  Status migrate() {
    GH_PG_CONN(c);
    GH_PG_RETURN_IF_ERROR(apply_postgres_migrations(c));
    for (ResealPage page;;) {
      GH_PG_ASSIGN(next, pg::reseal_page(c, page.last_id, 500, /*reseal=*/false));
      if (next->examined < 500) return ok_status();
      page = std::move(*next);
    }
  }

  // ---- meta ----
  Result<std::optional<std::string>> get_meta(const std::string& key) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT value FROM meta WHERE key = $1::text", Params().add(key)));
    if (r->rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r->str(0, 0));
  }

  Status set_meta(const std::string& key, const std::string& value) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = "
                           "excluded.value",
                           Params().add(key).add(value)));
    return ok_status();
  }

  Result<std::string> add_meta(const std::string& key, const std::string& value) override {
    GH_PG_CONN(c);
    // The INSERT waits for a concurrent one of the same key, then does
    // nothing; the SELECT (a new snapshot) then sees the winner's row.
    GH_PG_ASSIGN(i, c.exec("INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO NOTHING",
                           Params().add(key).add(value)));
    GH_PG_ASSIGN(r, c.exec("SELECT value FROM meta WHERE key = $1::text", Params().add(key)));
    if (r->rows() == 0) return Error::internal("add_meta: " + key + " vanished");
    return r->str(0, 0);
  }

  // ---- accounts ----
  Status create_account(const Account& a, const std::string& key_hash) override {
    return write([&](Conn& c) -> Status {
      GH_PG_ASSIGN(r, c.exec("INSERT INTO accounts(id, name, created_at, head_seq) VALUES($1, $2, $3, 0)",
                             Params().add(a.id).add(a.name).add(a.created_at_ms)));
      GH_PG_ASSIGN(k, c.exec("INSERT INTO api_keys(key_hash, account_id, created_at) VALUES($1, $2, $3)",
                             Params().add(key_hash).add(a.id).add(a.created_at_ms)));
      return ok_status();
    });
  }

  Result<Account> account_by_key_hash(const std::string& key_hash) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT a.id, a.name, a.created_at, a.notification_email FROM api_keys k JOIN "
                           "accounts a ON a.id = k.account_id WHERE k.key_hash = $1::text",
                           Params().add(key_hash)));
    return account_row(*r);
  }

  Result<Account> get_account(const std::string& id) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT id, name, created_at, notification_email FROM accounts WHERE id = $1::text",
                           Params().add(id)));
    return account_row(*r);
  }

  Status set_notification_email(const std::string& id, const std::optional<std::string>& email) override {
    GH_PG_CONN(c);
    return pg::set_notification_email(c, id, email);
  }

  // ---- ingestion ----
  std::vector<Result<AppendOutcome>> append_events(std::span<const AppendRequest> requests) override {
    // Round trips are most of the time of a group of small requests. So a
    // group is first written in one statement for all its requests; only
    // when that fails (rare: some request's rows were refused) is it done
    // again with one statement and one savepoint per request, so that the
    // failure stays that request's.
    if (requests.empty()) return {};
    auto out = append_group(requests, /*one_statement=*/true);
    if (out.empty()) out = append_group(requests, /*one_statement=*/false);
    return out;
  }

  // ---- webhooks (pg_catalog.cc) ----
  Status create_webhook(const Webhook& w) override {
    GH_PG_CONN(c);
    return pg::create_webhook(c, w);
  }

  Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) override {
    GH_PG_CONN(c);
    return pg::load_webhook(c, account_id, id);
  }

  Result<std::vector<Webhook>> list_webhooks(const std::string& account_id, const std::string& after_id,
                                             int limit) override {
    GH_PG_CONN(c);
    return pg::list_webhooks(c, account_id, after_id, limit);
  }

  Status update_webhook(const Webhook& w) override {
    GH_PG_CONN(c);
    return pg::update_webhook(c, w);
  }

  Status delete_webhook(const std::string& account_id, const std::string& id) override {
    return write([&](Conn& c) { return pg::delete_webhook(c, account_id, id); });
  }

  Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(const std::string& account_id,
                                                                      const std::vector<std::string>& ids) override {
    GH_PG_CONN(c);
    return pg::webhook_stats(c, account_id, ids);
  }

  // ---- delivery (pg_claim.cc) ----
  // Two transactions: the outcomes, then the claim.
  Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                     const ClaimRequest& req) override {
    if (!outcomes.empty()) GH_PG_RETURN_IF_ERROR(record_outcomes(outcomes));
    return claim(req);
  }

  Result<std::vector<ClaimedBatch>> claim(const ClaimRequest& req) {
    GH_PG_CONN(c);
    pg::Tx tx(c, pg::Durability::kRelaxed);
    GH_PG_RETURN_IF_ERROR(tx.begin());
    GH_PG_ASSIGN(out, pg::claim_in_transaction(c, req));
    GH_PG_RETURN_IF_ERROR(tx.commit());
    return std::move(*out);
  }

  // Relaxed durability: see pg::Durability (pg_rows.h).
  Status record_outcomes(std::span<const AttemptOutcome> outcomes) override {
    return write([&](Conn& c) { return pg::record_outcomes(c, outcomes); }, pg::Durability::kRelaxed);
  }

  Status release_leases(const std::string& owner) override {
    return write([&](Conn& c) { return pg::release_leases(c, owner); }, pg::Durability::kRelaxed);
  }

  Result<std::optional<int64_t>> next_due_ms() override {
    GH_PG_CONN(c);
    return pg::next_due_ms(c);
  }

  // ---- batches for the API (pg_catalog.cc) ----
  Result<std::vector<Batch>> list_batches(const std::string& account_id, const std::string& webhook_id,
                                          std::optional<BatchState> state, const std::string& before_id,
                                          int limit) override {
    GH_PG_CONN(c);
    return pg::list_batches(c, account_id, webhook_id, state, before_id, limit);
  }

  Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) override {
    GH_PG_CONN(c);
    return pg::get_batch(c, account_id, batch_id);
  }

  Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id, int64_t now_ms) override {
    GH_PG_RETURN_IF_ERROR(write([&](Conn& c) { return pg::mark_for_retry(c, account_id, batch_id, now_ms); }));
    GH_PG_ASSIGN(d, get_batch(account_id, batch_id));
    return std::move(d->batch);
  }

  Result<std::vector<StoredEvent>> find_contact_events(const std::string& account_id,
                                                       const ContactQuery& query) override {
    GH_PG_CONN(c);
    return pg::find_contact_events(c, account_id, query);
  }

  Result<StoredEvent> get_event(const std::string& account_id, const std::string& event_id) override {
    GH_PG_CONN(c);
    return pg::get_event(c, account_id, event_id);
  }

  Result<std::vector<ActivityBucket>> webhook_activity(const std::string& account_id, const std::string& webhook_id,
                                                       int64_t since_ms) override {
    GH_PG_CONN(c);
    return pg::webhook_activity(c, account_id, webhook_id, since_ms);
  }

  Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id, int64_t now_ms) override {
    return write_result<int>([&](Conn& c) { return pg::retry_failed(c, account_id, webhook_id, now_ms); });
  }

  // ---- backlog (pg_backlog.cc) ----
  Result<Enabled> enable_webhook(const std::string& account_id, const std::string& id, bool from_head,
                                 int64_t now_ms) override {
    return write_result<Enabled>([&](Conn& c) { return pg::enable_webhook(c, account_id, id, from_head, now_ms); });
  }

  Result<Recovered> recover(const std::string& account_id, const std::string& id, const RecoverRequest& req) override {
    return write_result<Recovered>([&](Conn& c) { return pg::recover(c, account_id, id, req); });
  }

  // ---- portal sessions (pg_portal.cc: one statement each) ----
  Status create_portal_session(const PortalSession& p) override {
    GH_PG_CONN(c);
    return pg::create_portal_session(c, p);
  }

  Result<PortalGrant> redeem_portal_link(const std::string& link_hash, const std::string& token_hash,
                                         int64_t now_ms) override {
    GH_PG_CONN(c);
    return pg::redeem_portal_link(c, link_hash, token_hash, now_ms);
  }

  Result<PortalGrant> portal_session_by_token(const std::string& token_hash, int64_t now_ms) override {
    GH_PG_CONN(c);
    return pg::portal_session_by_token(c, token_hash, now_ms);
  }

  Status end_portal_session(const std::string& token_hash, int64_t now_ms) override {
    GH_PG_CONN(c);
    return pg::end_portal_session(c, token_hash, now_ms);
  }

  Result<int> end_portal_sessions(const std::string& account_id, int64_t now_ms) override {
    GH_PG_CONN(c);
    return pg::end_portal_sessions(c, account_id, now_ms);
  }

  Result<int> prune_portal_sessions(int64_t now_ms, int limit) override {
    GH_PG_CONN(c);
    return pg::prune_portal_sessions(c, now_ms, limit);
  }

  // ---- the notification outbox (pg_outbox.cc: one statement each) ----
  Result<std::vector<Notification>> claim_notifications(const std::string& owner, int64_t now_ms, int64_t lease_ms,
                                                        int limit) override {
    GH_PG_CONN(c);
    return pg::claim_notifications(c, owner, now_ms, lease_ms, limit);
  }
  Result<bool> finish_notification(const std::string& owner, const NotificationDone& d, int64_t now_ms) override {
    GH_PG_CONN(c);
    return pg::finish_notification(c, owner, d, now_ms);
  }
  Status release_notification_leases(const std::string& owner) override {
    GH_PG_CONN(c);
    return pg::release_notification_leases(c, owner);
  }
  Result<std::optional<int64_t>> next_notification_due_ms() override {
    GH_PG_CONN(c);
    return pg::next_notification_due_ms(c);
  }
  Result<int64_t> events_waiting(const std::string& id) override {
    GH_PG_CONN(c);
    return pg::events_waiting(c, id);
  }
  Result<int> prune_notifications(int64_t before_ms, int limit) override {
    GH_PG_CONN(c);
    return pg::prune_notifications(c, before_ms, limit);
  }

  // ---- maintenance (prune in pg_retention.cc) ----
  Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) override {
    int deleted = 0;
    auto s = write([&](Conn& c) -> Status {
      GH_PG_ASSIGN(n, pg::prune(c, delivered_before_ms, failed_before_ms, limit));
      deleted = *n;
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return deleted;
  }

  Result<StoreCounts> counts() override {
    GH_PG_CONN(c);
    return pg::counts(c);
  }

  Status ping() override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT 1"));
    return ok_status();
  }

  // ---- WorkNotifier ----
  void on_new_work(std::function<void()> f) override {
    std::lock_guard lock(notify_mu_);
    on_work_ = std::move(f);
    if (!listener_) {
      listener_ = std::make_unique<pg::Listener>(pool_.url(), pg::kWorkChannel, limits_, [this] {
        std::lock_guard l(notify_mu_);
        if (on_work_) on_work_();
      });
    }
  }

 private:
  template <class F>
  Status write(F&& body, pg::Durability durability = pg::Durability::kFull) {
    GH_PG_CONN(c);
    pg::Tx tx(c, durability);
    GH_PG_RETURN_IF_ERROR(tx.begin());
    GH_PG_RETURN_IF_ERROR(body(c));
    return tx.commit();
  }

  // write() for a body that answers a value.
  template <typename T, typename F>
  Result<T> write_result(F&& body) {
    std::optional<T> got;
    auto s = write([&](Conn& c) -> Status {
      auto r = body(c);
      if (!r.ok()) return r.error();
      got = std::move(*r);
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return std::move(*got);
  }

  static Result<Account> account_row(const PgResult& r) {
    if (r.rows() == 0) return Error::not_found("account not found");
    Account a{r.str(0, 0), r.str(0, 1), r.i64(0, 2)};
    if (!r.is_null(0, 3)) a.notification_email = r.str(0, 3);
    return a;
  }

  // One transaction for the whole group: one statement for every request,
  // or one statement and a savepoint per request. When the one statement
  // fails, the result is empty (the caller goes again request by request),
  // unless the connection is the problem.
  std::vector<Result<AppendOutcome>> append_group(std::span<const AppendRequest> requests, bool one_statement) {
    std::vector<Result<AppendOutcome>> out;
    auto fail_all = [&](const Error& e) {
      out.clear();
      for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(e);
      return out;
    };
    auto c = pool_.acquire();
    if (!c.ok()) return fail_all(c.error());
    pg::Tx tx(**c);
    if (auto s = tx.begin(); !s.ok()) return fail_all(s.error());
    auto known = lock_accounts(**c, requests);
    if (!known.ok()) return fail_all(known.error());
    if (one_statement) {
      auto r = insert_group(**c, requests, *known);
      if (!r.ok()) {
        if (r.error().code == ErrorCode::kUnavailable || (*c)->broken()) return fail_all(r.error());
        return {};  // rolled back by tx
      }
      out = std::move(*r);
    } else {
      for (const auto& req : requests) {
        if (!known->count(req.account_id)) {
          out.emplace_back(Error::not_found("account " + req.account_id + " not found"));
          continue;
        }
        out.push_back(append_one(**c, req));
      }
    }
    bool stored = false;
    for (const auto& r : out) stored = stored || (r.ok() && r->stored > 0);
    if (stored) {
      if (auto s = pg::notify_work(**c); !s.ok()) return fail_all(s.error());
    }
    if (auto s = tx.commit(); !s.ok()) return fail_all(s.error());
    return out;
  }

  // Every request of the group in one statement (the caller holds the
  // account rows' locks): new events are numbered after each account's head,
  // in request order, and the heads move. What append_one does request by
  // request, with the same outcomes: an id already stored, or seen earlier
  // in the group, is acknowledged and not stored again.
  static Result<std::vector<Result<AppendOutcome>>> insert_group(Conn& c, std::span<const AppendRequest> requests,
                                                                 const std::unordered_set<std::string>& known) {
    std::vector<Result<AppendOutcome>> out;
    std::vector<std::string> accounts, ids, bodies, emails;
    std::vector<int64_t> types, occurred, created, msisdns;
    std::unordered_map<std::string, size_t> first;  // account \0 id -> request index
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& req = requests[i];
      if (!known.count(req.account_id)) {
        out.emplace_back(Error::not_found("account " + req.account_id + " not found"));
        continue;
      }
      AppendOutcome o;
      for (const auto& e : req.events) {
        o.ids.push_back(e.id);
        if (!first.emplace(req.account_id + '\0' + e.id, i).second) continue;
        accounts.push_back(req.account_id);
        ids.push_back(e.id);
        types.push_back(static_cast<int64_t>(e.type));
        occurred.push_back(e.occurred_at_ms);
        created.push_back(req.now_ms);
        bodies.push_back(e.message_json);
        msisdns.push_back(e.msisdn);
        emails.push_back(e.email);
      }
      out.emplace_back(std::move(o));
    }
    if (ids.empty()) return out;
    GH_PG_ASSIGN(r, c.exec("WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[], "
                           "$5::bigint[], $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY AS t(account_id, id, type, "
                           "occurred_at, created_at, body, msisdn, email, ord) WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = "
                           "t.account_id AND e.id = t.id)), "
                           "ins AS (INSERT INTO events(account_id, seq, id, type, occurred_at, created_at, body, msisdn, "
                           "email) SELECT t.account_id, a.head_seq + row_number() OVER (PARTITION BY t.account_id "
                           "ORDER BY t.ord), t.id, t.type, t.occurred_at, t.created_at, t.body, t.msisdn, "
                           "NULLIF(t.email, '') FROM t JOIN accounts a ON "
                           "a.id = t.account_id ON CONFLICT (account_id, id) DO NOTHING RETURNING account_id, seq, id, "
                           "type, created_at), "
                           "m AS (SELECT account_id, max(seq) AS top, bit_or(type) AS types, min(created_at) AS at "
                           "FROM ins GROUP BY account_id), "
                           "upd AS (UPDATE accounts a SET head_seq = m.top, prune_at = coalesce(a.prune_at, m.at) "
                           "FROM m WHERE a.id = m.account_id), "
                           // The webhooks of these types have work up to the new head, their rows locked in id
                           // order (as record_health locks them).
                           "lk AS (SELECT w.id, m.top FROM webhooks w JOIN m ON m.account_id = w.account_id WHERE "
                           "(w.event_types & m.types) <> 0 ORDER BY w.id FOR NO KEY UPDATE OF w), "
                           "wk AS (UPDATE webhooks w SET work_seq = lk.top FROM lk WHERE w.id = lk.id) "
                           "SELECT account_id, id FROM ins",
                           Params()
                               .add(pg::text_array(accounts))
                               .add(pg::text_array(ids))
                               .add(pg::int_array(types))
                               .add(pg::int_array(occurred))
                               .add(pg::int_array(created))
                               .add(pg::text_array(bodies))
                               .add(pg::int_array(msisdns))
                               .add(pg::text_array(emails))));
    for (int i = 0; i < r->rows(); ++i) {
      auto it = first.find(r->str(i, 0) + '\0' + r->str(i, 1));
      if (it != first.end()) out[it->second]->stored++;
    }
    return out;
  }

  // Locks the account rows of every request, in id order, and returns the
  // ids that exist. See the top of this file for why.
  static Result<std::unordered_set<std::string>> lock_accounts(Conn& c, std::span<const AppendRequest> requests) {
    std::set<std::string> ids;
    for (const auto& r : requests) ids.insert(r.account_id);
    std::vector<std::string> sorted(ids.begin(), ids.end());
    GH_PG_ASSIGN(r, c.exec("SELECT id FROM accounts WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE",
                           Params().add(pg::text_array(sorted))));
    std::unordered_set<std::string> known;
    for (int i = 0; i < r->rows(); ++i) known.insert(r->str(i, 0));
    return known;
  }

  // One request under its own savepoint: stored whole or not at all, and a
  // failure leaves the other requests of the transaction intact.
  static Result<AppendOutcome> append_one(Conn& c, const AppendRequest& req) {
    GH_PG_RETURN_IF_ERROR(c.exec_simple("SAVEPOINT request"));
    auto r = insert_events(c, req);
    if (!r.ok()) {
      (void)c.exec_simple("ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request");
      return r.error();
    }
    GH_PG_RETURN_IF_ERROR(c.exec_simple("RELEASE SAVEPOINT request"));
    return r;
  }

  // Inserts the request's new events numbered after the account's head (the
  // caller holds the account's row lock) and moves the head, in one statement.
  static Result<AppendOutcome> insert_events(Conn& c, const AppendRequest& req) {
    AppendOutcome out;
    std::vector<std::string> ids, bodies, emails;
    std::vector<int64_t> types, occurred, msisdns;
    std::unordered_set<std::string_view> seen;
    for (const auto& e : req.events) {
      out.ids.push_back(e.id);
      if (!seen.insert(e.id).second) continue;  // the same id twice in one request: stored once
      ids.push_back(e.id);
      types.push_back(static_cast<int64_t>(e.type));
      occurred.push_back(e.occurred_at_ms);
      bodies.push_back(e.message_json);
      msisdns.push_back(e.msisdn);
      emails.push_back(e.email);
    }
    if (ids.empty()) return out;
    GH_PG_ASSIGN(r, c.exec("WITH h AS (SELECT head_seq FROM accounts WHERE id = $1::text), "
                           "ins AS (INSERT INTO events(account_id, seq, id, type, occurred_at, created_at, body, "
                           "msisdn, email) SELECT $1::text, (SELECT head_seq FROM h) + row_number() OVER (ORDER BY "
                           "t.ord), t.id, t.type, t.occurred_at, $2::bigint, t.body, t.msisdn, NULLIF(t.email, '') "
                           "FROM unnest($3::text[], $4::smallint[], $5::bigint[], $6::text[], $7::bigint[], "
                           "$8::text[]) WITH ORDINALITY AS t(id, type, occurred_at, body, msisdn, email, ord) "
                           "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = $1::text AND e.id = t.id) "
                           "ON CONFLICT (account_id, id) DO NOTHING RETURNING seq, type), "
                           // The webhooks of these types have work up to the new head, their rows locked in id
                           // order (as record_health locks them).
                           "lk AS (SELECT id FROM webhooks WHERE account_id = $1::text AND (event_types & (SELECT "
                           "bit_or(type) FROM ins)) <> 0 ORDER BY id FOR NO KEY UPDATE), "
                           "wk AS (UPDATE webhooks SET work_seq = (SELECT max(seq) FROM ins) WHERE id IN (SELECT id "
                           "FROM lk)) "
                           "UPDATE accounts SET head_seq = coalesce((SELECT max(seq) FROM ins), head_seq), prune_at = "
                           "CASE WHEN EXISTS (SELECT 1 FROM ins) THEN coalesce(prune_at, $2::bigint) ELSE prune_at END "
                           "WHERE id = $1::text RETURNING (SELECT count(*) FROM ins)",
                           Params()
                               .add(req.account_id)
                               .add(req.now_ms)
                               .add(pg::text_array(ids))
                               .add(pg::int_array(types))
                               .add(pg::int_array(occurred))
                               .add(pg::text_array(bodies))
                               .add(pg::int_array(msisdns))
                               .add(pg::text_array(emails))));
    if (r->rows() == 0) return Error::not_found("account " + req.account_id + " not found");
    out.stored = static_cast<int>(r->i64(0, 0));
    return out;
  }

  std::shared_ptr<const SecretBox> secrets_;  // before the connections that use it
  std::shared_ptr<DbCallStats> stats_;  // before the pool, which counts into it
  const DbLimits limits_;
  pg::Pool pool_;
  std::mutex notify_mu_;
  std::function<void()> on_work_;           // guarded by notify_mu_
  std::unique_ptr<pg::Listener> listener_;  // guarded by notify_mu_; stopped first
};

}  // namespace

Result<OpenedStore> open_postgres_store(const std::string& url, int pool_size, const std::string& secrets_keys,
                                        const DbLimits& limits, std::shared_ptr<DbCallStats> stats) {
  auto secrets = postgres_secret_keys(secrets_keys);
  if (!secrets.ok()) return secrets.error();
  auto store = std::make_unique<PostgresStore>(url, pool_size, std::move(*secrets), limits, std::move(stats));
  if (auto s = store->migrate(); !s.ok()) return s.error();
  WorkNotifier* notifier = store.get();
  return OpenedStore{std::move(store), notifier};
}

}  // namespace growhook
