// The PostgreSQL store: the contract of store.h, for any number of nodes
// sharing one database. libpq behind a small pool (pg_pool.h); each
// connection prepares its statements once (pg_conn.h); migrations in
// pg_schema.cc; claim_work in pg_claim.cc; LISTEN in pg_listener.cc.
//
// Why sequence numbers become visible in order
// --------------------------------------------
// A webhook's cursor says "every event up to here is in a batch". That is
// only safe if, once a node sees event n of an account, no event below n can
// still appear. With a global sequence, two transactions could take 10 and
// 11 and commit 11 first; a node cutting a batch in between would move the
// cursor past 10 and lose it. So:
//  1. Sequence numbers are per account and come from accounts.head_seq, not
//     from a sequence: append_events first locks the account rows of all its
//     requests (SELECT ... FOR NO KEY UPDATE, in id order so that two group
//     commits cannot deadlock), then numbers new events head_seq+1, ... and
//     stores the new head_seq in the same statement. The row lock is held
//     until commit, so ingestion for one account is serialised: the next
//     transaction waits, then reads the committed head (READ COMMITTED
//     re-reads a locked row's newest version) and numbers after it. Numbers
//     are therefore taken in commit order, and visibility order equals seq
//     order per account. (The row lock plays the part of an advisory lock
//     on the account, without hash collisions, and also tells an unknown
//     account in the same round trip.)
//  2. A batch is cut only from events <= the head_seq read in the same
//     snapshot as the cursor (pg_claim.cc). Events and their head_seq
//     commit atomically, so every event up to that head is visible, and
//     none at or below it can commit later.
// Two nodes never cut the same events: the webhook rows whose cursor moves
// are locked FOR NO KEY UPDATE SKIP LOCKED; due batches likewise.
#include "store/postgres_store.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_set>

#include "store/codec.h"
#include "store/pg_claim.h"
#include "store/pg_listener.h"
#include "store/pg_pool.h"
#include "store/pg_rows.h"
#include "store/pg_schema.h"

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

void add_webhook_params(Params& p, const Webhook& w) {
  p.add(w.id).add(w.account_id).add(w.name).add(w.url).add(w.enabled).add(static_cast<int>(w.event_types));
  p.add(w.batch_max_events).add(auth_to_storage(w.auth)).add(w.secret).add(w.previous_secret);
  p.add(w.previous_secret_expires_ms).add(w.disabled_reason).add(w.created_at_ms).add(w.updated_at_ms);
  p.add(w.batch_max_bytes);
}

class PostgresStore final : public Store, public WorkNotifier {
 public:
  PostgresStore(const std::string& url, int pool_size) : pool_(url, pool_size) {}
  ~PostgresStore() override { listener_.reset(); }

  Status migrate() {
    GH_PG_CONN(c);
    return apply_postgres_migrations(c);
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
    GH_PG_ASSIGN(r, c.exec("SELECT a.id, a.name, a.created_at FROM api_keys k JOIN accounts a ON a.id = "
                           "k.account_id WHERE k.key_hash = $1::text",
                           Params().add(key_hash)));
    return account_row(*r);
  }

  Result<Account> get_account(const std::string& id) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT id, name, created_at FROM accounts WHERE id = $1::text", Params().add(id)));
    return account_row(*r);
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

  // ---- webhooks ----
  Status create_webhook(const Webhook& w) override {
    GH_PG_CONN(c);
    Params p;
    add_webhook_params(p, w);
    GH_PG_ASSIGN(r, c.exec("INSERT INTO webhooks(id, account_id, name, url, enabled, event_types, batch_max_events, "
                           "auth, secret, previous_secret, previous_secret_expires_at, disabled_reason, created_at, "
                           "updated_at, batch_max_bytes, cursor) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                           "$11, $12, $13, $14, $15, (SELECT head_seq FROM accounts WHERE id = $2))",
                           p));
    return ok_status();
  }

  Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) override {
    GH_PG_CONN(c);
    return pg::load_webhook(c, account_id, id);
  }

  Result<std::vector<Webhook>> list_webhooks(const std::string& account_id, const std::string& after_id,
                                             int limit) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.account_id = $1::text AND "
                           "w.id > $2::text ORDER BY w.id LIMIT $3::integer",
                           Params().add(account_id).add(after_id).add(limit)));
    std::vector<Webhook> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(pg::webhook_from_row(*r, i));
    return out;
  }

  Status update_webhook(const Webhook& w) override {
    GH_PG_CONN(c);
    Params p;
    p.add(w.id).add(w.account_id).add(w.name).add(w.url).add(w.enabled).add(static_cast<int>(w.event_types));
    p.add(w.batch_max_events).add(auth_to_storage(w.auth)).add(w.secret).add(w.previous_secret);
    p.add(w.previous_secret_expires_ms).add(w.disabled_reason).add(w.updated_at_ms).add(w.batch_max_bytes);
    GH_PG_ASSIGN(r, c.exec("UPDATE webhooks SET name = $3, url = $4, "
                           "cursor = CASE WHEN NOT enabled AND $5::boolean THEN (SELECT head_seq FROM accounts "
                           "WHERE id = $2::text) ELSE cursor END, "
                           "enabled = $5, event_types = $6, batch_max_events = $7, auth = $8, secret = $9, "
                           "previous_secret = $10, previous_secret_expires_at = $11, disabled_reason = $12, "
                           "updated_at = $13, batch_max_bytes = $14 WHERE id = $1::text AND account_id = $2::text",
                           p));
    if (r->affected() == 0) return Error::not_found("webhook " + w.id + " not found");
    return ok_status();
  }

  Status delete_webhook(const std::string& account_id, const std::string& id) override {
    // The webhook row goes first: that waits for a claim_work cutting a batch
    // of it (which holds the row), so the later statements, each with a new
    // snapshot, see that batch and its attempts instead of leaving them behind.
    return write([&](Conn& c) -> Status {
      Params p = Params().add(id).add(account_id);
      GH_PG_ASSIGN(w, c.exec("DELETE FROM webhooks WHERE id = $1::text AND account_id = $2::text", p));
      if (w->affected() == 0) return Error::not_found("webhook " + id + " not found");
      GH_PG_ASSIGN(b,
                   c.exec("DELETE FROM batches WHERE webhook_id = $1::text AND account_id = $2::text RETURNING id", p));
      if (b->rows() == 0) return ok_status();
      std::vector<std::string> ids;
      for (int i = 0; i < b->rows(); ++i) ids.push_back(b->str(i, 0));
      GH_PG_ASSIGN(a,
                   c.exec("DELETE FROM attempts WHERE batch_id = ANY($1::text[])", Params().add(pg::text_array(ids))));
      return ok_status();
    });
  }

  Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(const std::string& account_id,
                                                                      const std::vector<std::string>& ids) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT i.id, "
                           "(SELECT b.updated_at FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 "
                           "AND b.state = 'delivered' ORDER BY b.id DESC LIMIT 1), "
                           "(SELECT count(*) FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 AND "
                           "b.state = 'failed'), "
                           "(SELECT count(*) FROM batches b WHERE b.webhook_id = i.id AND b.account_id = $1 AND "
                           "b.state = 'pending') "
                           "FROM unnest($2::text[]) AS i(id)",
                           Params().add(account_id).add(pg::text_array(ids))));
    std::unordered_map<std::string, WebhookStats> out;
    for (int i = 0; i < r->rows(); ++i) {
      WebhookStats st;
      st.last_delivery_at_ms = r->opt_i64(i, 1);
      st.failed_batches = r->i64(i, 2);
      st.pending_batches = r->i64(i, 3);
      out.emplace(r->str(i, 0), st);
    }
    return out;
  }

  // ---- delivery ----
  // Two transactions: the outcomes, then the claim (see pg_claim.h).
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

  Status record_outcomes(std::span<const AttemptOutcome> outcomes) override {
    // Rows are locked in one order (batches by id, then webhooks by id), so
    // that two nodes recording at once cannot deadlock.
    std::vector<const AttemptOutcome*> sorted;
    for (const auto& o : outcomes) sorted.push_back(&o);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const AttemptOutcome* a, const AttemptOutcome* b) { return a->batch_id < b->batch_id; });
    // Relaxed durability: see pg::Durability (pg_rows.h).
    bool distinct = std::adjacent_find(sorted.begin(), sorted.end(), [](const AttemptOutcome* a,
                                                                         const AttemptOutcome* b) {
                      return a->batch_id == b->batch_id;
                    }) == sorted.end();
    auto body = [&](Conn& c) -> Status {
      std::vector<const AttemptOutcome*> disables;
      if (sorted.size() > 1 && distinct) {
        // Many outcomes (a busy node records a turn's worth at once): their
        // rows locked in order in one statement, all recorded in another.
        GH_PG_ASSIGN(applied, record_all(c, sorted));
        for (const AttemptOutcome* o : sorted) {
          if (applied->count(o->batch_id) && !o->disable_reason.empty()) disables.push_back(o);
        }
      } else {
        for (const AttemptOutcome* o : sorted) {
          GH_PG_ASSIGN(applied, record_one(c, *o));
          if (*applied && !o->disable_reason.empty()) disables.push_back(o);
        }
      }
      std::stable_sort(disables.begin(), disables.end(),
                       [](const AttemptOutcome* a, const AttemptOutcome* b) { return a->webhook_id < b->webhook_id; });
      for (const AttemptOutcome* o : disables) {
        GH_PG_ASSIGN(r, c.exec("UPDATE webhooks SET enabled = false, disabled_reason = $2::text, updated_at = "
                               "$3::bigint WHERE id = $1::text",
                               Params().add(o->webhook_id).add(o->disable_reason).add(o->attempt.at_ms)));
      }
      return ok_status();
    };
    return write(body, pg::Durability::kRelaxed);
  }

  Status release_leases(const std::string& owner) override {
    auto body = [&](Conn& c) -> Status {
      GH_PG_ASSIGN(r, c.exec("UPDATE batches SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL "
                             "AND ($1::text = '' OR lease_owner = $1::text)",
                             Params().add(owner)));
      if (r->affected() > 0) return pg::notify_work(c);
      return ok_status();
    };
    return write(body, pg::Durability::kRelaxed);
  }

  Result<std::optional<int64_t>> next_due_ms(int64_t) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT min(greatest(b.next_attempt_at, b.lease_until)) FROM batches b JOIN webhooks w "
                           "ON w.id = b.webhook_id WHERE b.state = 'pending' AND w.enabled"));
    return r->opt_i64(0, 0);
  }

  // ---- batches for the API ----
  Result<std::vector<Batch>> list_batches(const std::string& account_id, const std::string& webhook_id,
                                          std::optional<BatchState> state, const std::string& before_id,
                                          int limit) override {
    GH_PG_CONN(c);
    std::string before = before_id.empty() ? std::string("\x7f") : before_id;
    Params p = Params().add(webhook_id).add(account_id).add(before).add(limit);
    Result<PgResult> r = Error::internal("unreachable");
    if (state) {
      p.add(to_string(*state));
      r = c.exec("SELECT " GH_PG_BATCH_COLUMNS " FROM batches b WHERE b.webhook_id = $1::text AND "
                 "b.account_id = $2::text AND b.state = $5::text AND b.id < $3::text "
                 "ORDER BY b.id DESC LIMIT $4::integer",
                 p);
    } else {
      r = c.exec("SELECT " GH_PG_BATCH_COLUMNS " FROM batches b WHERE b.webhook_id = $1::text AND "
                 "b.account_id = $2::text AND b.id < $3::text ORDER BY b.id DESC LIMIT $4::integer",
                 p);
    }
    if (!r.ok()) return r.error();
    std::vector<Batch> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(pg::batch_from_row(*r, i));
    GH_PG_RETURN_IF_ERROR(load_attempts(c, out));
    return out;
  }

  Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_BATCH_COLUMNS ", b.first_seq, b.last_seq, b.type_mask FROM batches b "
                           "WHERE b.id = $1::text AND b.account_id = $2::text",
                           Params().add(batch_id).add(account_id)));
    if (r->rows() == 0) return Error::not_found("batch " + batch_id + " not found");
    std::vector<Batch> one{pg::batch_from_row(*r, 0)};
    GH_PG_RETURN_IF_ERROR(load_attempts(c, one));
    int64_t oldest = 0;
    GH_PG_ASSIGN(ev, pg::batch_events(c, account_id, r->i64(0, 8), r->i64(0, 9), r->i64(0, 10), &oldest));
    return BatchDetail{std::move(one.front()), std::move(*ev)};
  }

  Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id, int64_t now_ms) override {
    auto s = write([&](Conn& c) -> Status {
      GH_PG_ASSIGN(u, c.exec("UPDATE batches SET state = 'pending', next_attempt_at = $3::bigint, cycle_attempts = 0, "
                             "lease_owner = NULL, lease_until = 0, updated_at = $3::bigint WHERE id = $1::text AND "
                             "account_id = $2::text AND state IN ('failed', 'delivered')",
                             Params().add(batch_id).add(account_id).add(now_ms)));
      if (u->affected() == 1) return pg::notify_work(c);
      GH_PG_ASSIGN(q, c.exec("SELECT state FROM batches WHERE id = $1::text AND account_id = $2::text",
                             Params().add(batch_id).add(account_id)));
      if (q->rows() > 0) {
        return Error::conflict("batch " + batch_id +
                               " is pending already; only failed or delivered batches can be retried");
      }
      return Error::not_found("batch " + batch_id + " not found");
    });
    if (!s.ok()) return s.error();
    GH_PG_ASSIGN(d, get_batch(account_id, batch_id));
    return std::move(d->batch);
  }

  Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id, int64_t now_ms) override {
    int n = 0;
    auto s = write([&](Conn& c) -> Status {
      GH_PG_ASSIGN(u, c.exec("UPDATE batches SET state = 'pending', next_attempt_at = $3::bigint, cycle_attempts = 0, "
                             "lease_owner = NULL, lease_until = 0, updated_at = $3::bigint WHERE webhook_id = $1::text "
                             "AND account_id = $2::text AND state = 'failed'",
                             Params().add(webhook_id).add(account_id).add(now_ms)));
      n = static_cast<int>(u->affected());
      if (n > 0) return pg::notify_work(c);
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return n;
  }

  Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) override {
    int deleted = 0;
    auto s = write([&](Conn& c) -> Status {
      GH_PG_ASSIGN(b, c.exec("WITH gone AS (DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE "
                             "(state = 'delivered' AND updated_at < $1::bigint) OR (state = 'failed' AND updated_at "
                             "< $2::bigint) LIMIT $3::integer FOR UPDATE SKIP LOCKED) RETURNING id), "
                             "a AS (DELETE FROM attempts WHERE batch_id IN (SELECT id FROM gone)) "
                             "SELECT count(*) FROM gone",
                             Params().add(delivered_before_ms).add(failed_before_ms).add(limit)));
      deleted = static_cast<int>(b->i64(0, 0));
      // Events below every cursor and every remaining batch of their account,
      // older than the shorter retention, are needed by nobody. Each account
      // is read from its oldest event on, at most $2 rows, and not at all
      // when its oldest event is too recent (created_at follows seq): a step
      // never reads the events that stay (filtering on created_at inside the
      // ordered scan read all of them, every step).
      GH_PG_ASSIGN(e, c.exec("DELETE FROM events e USING (SELECT x.account_id, x.seq FROM accounts a "
                             "CROSS JOIN LATERAL (SELECT LEAST("
                             "  coalesce((SELECT min(w.cursor) FROM webhooks w WHERE w.account_id = a.id), a.head_seq),"
                             "  coalesce((SELECT min(b.first_seq) - 1 FROM batches b WHERE b.account_id = a.id), "
                             "a.head_seq)) AS upto) k "
                             "CROSS JOIN LATERAL (SELECT ev.account_id, ev.seq, ev.created_at FROM events ev "
                             "WHERE ev.account_id = a.id AND ev.seq <= k.upto AND (SELECT o.created_at FROM events o "
                             "WHERE o.account_id = a.id AND o.seq <= k.upto ORDER BY o.seq LIMIT 1) < $1::bigint "
                             "ORDER BY ev.seq LIMIT $2::integer) x WHERE x.created_at < $1::bigint "
                             "LIMIT $2::integer) d "
                             "WHERE e.account_id = d.account_id AND e.seq = d.seq",
                             Params().add(std::max(delivered_before_ms, failed_before_ms)).add(limit)));
      deleted += static_cast<int>(e->affected());
      return ok_status();
    });
    if (!s.ok()) return s.error();
    return deleted;
  }

  Result<StoreCounts> counts() override {
    GH_PG_CONN(c);
    GH_PG_ASSIGN(r, c.exec("SELECT "
                           "(SELECT count(*) FROM batches WHERE state = 'pending'), "
                           "(SELECT count(*) FROM batches WHERE state = 'pending' AND cycle_attempts > 0), "
                           "(SELECT count(*) FROM batches WHERE state = 'failed'), "
                           "(SELECT coalesce(sum((SELECT count(*) FROM events e WHERE e.account_id = w.account_id "
                           "AND e.seq > w.cursor AND (e.type & w.event_types) <> 0)), 0) FROM webhooks w JOIN "
                           "accounts a ON a.id = w.account_id WHERE w.enabled AND w.cursor < a.head_seq)"));
    StoreCounts out;
    out.pending_batches = r->i64(0, 0);
    out.retry_scheduled = r->i64(0, 1);
    out.failed_batches = r->i64(0, 2);
    out.pending_events = r->i64(0, 3);
    return out;
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
      listener_ = std::make_unique<pg::Listener>(pool_.url(), pg::kWorkChannel, [this] {
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

  static Result<Account> account_row(const PgResult& r) {
    if (r.rows() == 0) return Error::not_found("account not found");
    return Account{r.str(0, 0), r.str(0, 1), r.i64(0, 2)};
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
    std::vector<std::string> accounts, ids, bodies;
    std::vector<int64_t> types, occurred, created;
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
      }
      out.emplace_back(std::move(o));
    }
    if (ids.empty()) return out;
    GH_PG_ASSIGN(r, c.exec("WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[], "
                           "$5::bigint[], $6::text[]) WITH ORDINALITY AS t(account_id, id, type, occurred_at, "
                           "created_at, body, ord) WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = "
                           "t.account_id AND e.id = t.id)), "
                           "ins AS (INSERT INTO events(account_id, seq, id, type, occurred_at, created_at, body) "
                           "SELECT t.account_id, a.head_seq + row_number() OVER (PARTITION BY t.account_id ORDER BY "
                           "t.ord), t.id, t.type, t.occurred_at, t.created_at, t.body FROM t JOIN accounts a ON "
                           "a.id = t.account_id ON CONFLICT (account_id, id) DO NOTHING RETURNING account_id, seq, id), "
                           "upd AS (UPDATE accounts a SET head_seq = m.top FROM (SELECT account_id, max(seq) AS top "
                           "FROM ins GROUP BY account_id) m WHERE a.id = m.account_id) "
                           "SELECT account_id, id FROM ins",
                           Params()
                               .add(pg::text_array(accounts))
                               .add(pg::text_array(ids))
                               .add(pg::int_array(types))
                               .add(pg::int_array(occurred))
                               .add(pg::int_array(created))
                               .add(pg::text_array(bodies))));
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
    std::vector<std::string> ids, bodies;
    std::vector<int64_t> types, occurred;
    std::unordered_set<std::string_view> seen;
    for (const auto& e : req.events) {
      out.ids.push_back(e.id);
      if (!seen.insert(e.id).second) continue;  // the same id twice in one request: stored once
      ids.push_back(e.id);
      types.push_back(static_cast<int64_t>(e.type));
      occurred.push_back(e.occurred_at_ms);
      bodies.push_back(e.message_json);
    }
    if (ids.empty()) return out;
    GH_PG_ASSIGN(r, c.exec("WITH h AS (SELECT head_seq FROM accounts WHERE id = $1::text), "
                           "ins AS (INSERT INTO events(account_id, seq, id, type, occurred_at, created_at, body) "
                           "SELECT $1::text, (SELECT head_seq FROM h) + row_number() OVER (ORDER BY t.ord), t.id, "
                           "t.type, t.occurred_at, $2::bigint, t.body "
                           "FROM unnest($3::text[], $4::smallint[], $5::bigint[], $6::text[]) WITH ORDINALITY "
                           "AS t(id, type, occurred_at, body, ord) "
                           "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = $1::text AND e.id = t.id) "
                           "ON CONFLICT (account_id, id) DO NOTHING RETURNING seq) "
                           "UPDATE accounts SET head_seq = coalesce((SELECT max(seq) FROM ins), head_seq) "
                           "WHERE id = $1::text RETURNING (SELECT count(*) FROM ins)",
                           Params()
                               .add(req.account_id)
                               .add(req.now_ms)
                               .add(pg::text_array(ids))
                               .add(pg::int_array(types))
                               .add(pg::int_array(occurred))
                               .add(pg::text_array(bodies))));
    if (r->rows() == 0) return Error::not_found("account " + req.account_id + " not found");
    out.stored = static_cast<int>(r->i64(0, 0));
    return out;
  }

  // Applies one outcome when its lease is still held; false when dropped.
  static Result<bool> record_one(Conn& c, const AttemptOutcome& o) {
    GH_PG_ASSIGN(r, c.exec("WITH b AS (UPDATE batches SET state = $3::text, next_attempt_at = $4::bigint, "
                           "cycle_attempts = cycle_attempts + 1, lease_owner = NULL, lease_until = 0, updated_at = "
                           "$5::bigint WHERE id = $1::text AND lease_owner = $2::text RETURNING id) "
                           "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
                           "SELECT b.id, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1::text), "
                           "$6::bigint, $7::integer, $8::bigint, $9::text, $10::text FROM b",
                           Params()
                               .add(o.batch_id)
                               .add(o.owner)
                               .add(to_string(o.new_state))
                               .add(o.next_attempt_at_ms)
                               .add(o.attempt.at_ms + o.attempt.duration_ms)
                               .add(o.attempt.at_ms)
                               .add(o.attempt.status_code)
                               .add(o.attempt.duration_ms)
                               .add(pg::clean_text(o.attempt.error))
                               .add(pg::clean_text(o.attempt.response_body))));
    return r->affected() == 1;
  }

  // record_one for many outcomes of distinct batches, sorted by batch id, in
  // two statements; returns the batch ids whose outcome was applied (the
  // others' lease was lost).
  static Result<std::unordered_set<std::string>> record_all(Conn& c, const std::vector<const AttemptOutcome*>& sorted) {
    std::vector<std::string> ids, owners, states, errors, bodies;
    std::vector<int64_t> updated, at, status, duration;
    std::string next = "{";
    for (const AttemptOutcome* o : sorted) {
      ids.push_back(o->batch_id);
      owners.push_back(o->owner);
      states.emplace_back(to_string(o->new_state));
      if (next.size() > 1) next += ',';
      next += o->next_attempt_at_ms ? std::to_string(*o->next_attempt_at_ms) : "NULL";
      updated.push_back(o->attempt.at_ms + o->attempt.duration_ms);
      at.push_back(o->attempt.at_ms);
      status.push_back(o->attempt.status_code);
      duration.push_back(o->attempt.duration_ms);
      errors.push_back(pg::clean_text(o->attempt.error));
      bodies.push_back(pg::clean_text(o->attempt.response_body));
    }
    next += '}';
    const std::string id_array = pg::text_array(ids);
    // The locks in batch id order, as record_one one by one would take them.
    // (Below, "id = ANY" as well as the join, so that the batches are found
    // by their key rather than by scanning the table.)
    GH_PG_ASSIGN(l, c.exec("SELECT id FROM batches WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE",
                           Params().add(id_array)));
    GH_PG_ASSIGN(r, c.exec("WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
                           "$5::bigint[], $6::bigint[], $7::integer[], $8::bigint[], $9::text[], $10::text[]) AS "
                           "u(batch_id, owner, state, next_attempt_at, updated_at, at, status_code, duration_ms, "
                           "error, response_body)), "
                           "b AS (UPDATE batches SET state = u.state, next_attempt_at = u.next_attempt_at, "
                           "cycle_attempts = cycle_attempts + 1, lease_owner = NULL, lease_until = 0, updated_at = "
                           "u.updated_at FROM u WHERE batches.id = ANY($1::text[]) AND batches.id = u.batch_id AND "
                           "batches.lease_owner = u.owner "
                           "RETURNING batches.id) "
                           "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
                           "SELECT u.batch_id, (SELECT coalesce(max(a.n), 0) + 1 FROM attempts a WHERE a.batch_id = "
                           "u.batch_id), u.at, u.status_code, u.duration_ms, u.error, u.response_body "
                           "FROM u JOIN b ON b.id = u.batch_id RETURNING batch_id",
                           Params()
                               .add(id_array)
                               .add(pg::text_array(owners))
                               .add(pg::text_array(states))
                               .add(next)
                               .add(pg::int_array(updated))
                               .add(pg::int_array(at))
                               .add(pg::int_array(status))
                               .add(pg::int_array(duration))
                               .add(pg::text_array(errors))
                               .add(pg::text_array(bodies))));
    std::unordered_set<std::string> applied;
    for (int i = 0; i < r->rows(); ++i) applied.insert(r->str(i, 0));
    return applied;
  }

  static Status load_attempts(Conn& c, std::vector<Batch>& batches) {
    if (batches.empty()) return ok_status();
    std::vector<std::string> ids;
    std::unordered_map<std::string, Batch*> by_id;
    for (auto& b : batches) {
      ids.push_back(b.id);
      by_id[b.id] = &b;
    }
    GH_PG_ASSIGN(r, c.exec("SELECT batch_id, at, status_code, duration_ms, error, response_body FROM attempts "
                           "WHERE batch_id = ANY($1::text[]) ORDER BY batch_id, n",
                           Params().add(pg::text_array(ids))));
    for (int i = 0; i < r->rows(); ++i) {
      by_id[r->str(i, 0)]->attempts.push_back(
          {r->i64(i, 1), static_cast<int>(r->i64(i, 2)), r->i64(i, 3), r->str(i, 4), r->str(i, 5)});
    }
    return ok_status();
  }

  pg::Pool pool_;
  std::mutex notify_mu_;
  std::function<void()> on_work_;           // guarded by notify_mu_
  std::unique_ptr<pg::Listener> listener_;  // guarded by notify_mu_; stopped first
};

}  // namespace

Result<OpenedStore> open_postgres_store(const std::string& url, int pool_size) {
  auto store = std::make_unique<PostgresStore>(url, pool_size);
  if (auto s = store->migrate(); !s.ok()) return s.error();
  WorkNotifier* notifier = store.get();
  return OpenedStore{std::move(store), notifier};
}

}  // namespace growhook
