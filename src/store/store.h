// The store: everything growhook keeps, behind one interface with one
// implementation per database (sqlite_store.*, postgres_store.*).
//
// Contract, for every implementation:
// - Every method is thread-safe and synchronous; a method that writes has
//   committed durably (fsync) when it returns success.
// - Expected failures are values: kNotFound when a thing does not exist or
//   belongs to another account (callers cannot tell the two apart),
//   kUnavailable for temporary conditions (disk full, database unreachable),
//   kInternal otherwise. Nothing is written half-way: a failed call changes
//   nothing.
// - Events are kept once, in a log per account ordered by a sequence number.
//   Fan-out costs no write per webhook at ingestion: each webhook keeps a
//   cursor, the last sequence number already handed to one of its batches.
//   An event is delivered to the webhooks that were enabled when it was
//   committed and are subscribed to its type when its batch is cut.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

// One ingestion request: its events were validated and have their ids.
struct AppendRequest {
  std::string account_id;
  std::vector<IncomingEvent> events;  // each with its id and message (set_event_id)
  int64_t now_ms = 0;
};

struct AppendOutcome {
  std::vector<std::string> ids;  // in request order; includes ids already stored
  int stored = 0;                // how many were new
};

// A batch handed to a sender, leased until lease_until_ms.
struct ClaimedBatch {
  Batch batch;
  Webhook webhook;           // as it was when claimed
  std::string events_json;   // "[{event},{event}]" ordered by occurred_at
  int64_t oldest_event_created_ms = 0;  // for the ingest-to-delivery latency
  // The number the next attempt of this batch will have (1 for a new batch),
  // when the store knows it; 0 otherwise. Passed back in AttemptOutcome so
  // recording need not look it up.
  int next_attempt_number = 0;
};

struct ClaimRequest {
  int64_t now_ms = 0;
  std::string owner;           // this node's id
  int64_t lease_ms = 60'000;   // must outlive the longest attempt
  int max_batches = 64;        // room left under the global in-flight bound
  int per_webhook_limit = 4;   // bound on one webhook's batches in flight
  // Webhooks whose bound differs from per_webhook_limit (the delivery loop
  // claims ahead for webhooks that answer fast).
  std::unordered_map<std::string, int> webhook_limits;
  int limit_for(const std::string& webhook_id) const {
    auto it = webhook_limits.find(webhook_id);
    return it == webhook_limits.end() ? per_webhook_limit : it->second;
  }
  size_t max_batch_bytes = 1 << 20;  // caps every webhook's batch_max_bytes (domain/batching.h)
  // Batches already in flight on this node, by webhook id.
  std::unordered_map<std::string, int> in_flight;
};

// What became of one attempt, and what the retry policy decided.
struct AttemptOutcome {
  std::string batch_id;
  std::string webhook_id;
  std::string owner;                      // must still hold the lease
  Attempt attempt;
  int attempt_number = 0;                 // ClaimedBatch::next_attempt_number; 0: the store counts
  BatchState new_state = BatchState::kPending;
  std::optional<int64_t> next_attempt_at_ms;  // when new_state is pending
  std::string disable_reason;             // non-empty: disable the webhook (410)
};

struct BatchDetail {
  Batch batch;
  std::string events_json;  // "[…]" as delivered
};

struct StoreCounts {
  int64_t pending_batches = 0;     // not yet delivered nor failed
  int64_t retry_scheduled = 0;     // pending with a future next attempt
  int64_t failed_batches = 0;
  int64_t pending_events = 0;      // events not yet in a batch, over all webhooks
};

class Store {
 public:
  virtual ~Store() = default;

  // Key/value settings of the installation (the platform token's hash).
  virtual Result<std::optional<std::string>> get_meta(const std::string& key) = 0;
  virtual Status set_meta(const std::string& key, const std::string& value) = 0;
  // Sets key to value only if it has no value yet, and returns the value it
  // has now: value, or the one written first (by another node starting at
  // the same time).
  virtual Result<std::string> add_meta(const std::string& key, const std::string& value) = 0;

  // Accounts and API keys. Only the SHA-256 hex of a key is stored.
  virtual Status create_account(const Account& account, const std::string& api_key_hash) = 0;
  virtual Result<Account> account_by_key_hash(const std::string& api_key_hash) = 0;
  virtual Result<Account> get_account(const std::string& account_id) = 0;

  // Ingestion: every request in one transaction, one commit for them all
  // (group commit). Each request is stored whole or not at all: a request
  // for an unknown account gets kNotFound and the others still commit.
  // An event whose (account, id) exists already is acknowledged, not stored.
  virtual std::vector<Result<AppendOutcome>> append_events(std::span<const AppendRequest> requests) = 0;

  // Webhooks. create sets the cursor to the account's newest event: a new
  // webhook receives events ingested after it exists.
  virtual Status create_webhook(const Webhook& webhook) = 0;
  virtual Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) = 0;
  // Oldest first; ids greater than after_id; at most limit.
  virtual Result<std::vector<Webhook>> list_webhooks(const std::string& account_id,
                                                     const std::string& after_id, int limit) = 0;
  // Replaces the mutable fields. When the webhook goes from disabled to
  // enabled its cursor moves to the account's newest event: events that
  // arrived while it was disabled are not delivered to it.
  virtual Status update_webhook(const Webhook& webhook) = 0;
  // Deletes the webhook with its batches and attempts.
  virtual Status delete_webhook(const std::string& account_id, const std::string& id) = 0;
  virtual Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(
      const std::string& account_id, const std::vector<std::string>& webhook_ids) = 0;

  // Delivery. claim_work leases batches that are due (pending, next attempt
  // reached, lease free or expired) and cuts new batches from webhooks'
  // pending events, in one transaction.
  virtual Result<std::vector<ClaimedBatch>> claim_work(const ClaimRequest& request) = 0;
  // Records attempts and their consequences in one transaction. An outcome
  // whose lease was lost (another node took the batch) is dropped.
  virtual Status record_outcomes(std::span<const AttemptOutcome> outcomes) = 0;
  // record_outcomes, then claim_work: the delivery loop's turn. A store may
  // do both in one transaction (SQLite does: one commit a turn instead of
  // two). On an error the caller records the same outcomes again later,
  // which is harmless: an outcome already recorded has released its lease,
  // so recording it again changes nothing.
  virtual Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                             const ClaimRequest& request) {
    if (!outcomes.empty()) {
      if (auto s = record_outcomes(outcomes); !s.ok()) return s.error();
    }
    return claim_work(request);
  }
  // Frees every lease held by owner, or by anyone when owner is empty (a
  // single-node store at start-up: work in flight at a crash is taken up).
  virtual Status release_leases(const std::string& owner) = 0;
  // The earliest next_attempt_at among pending batches without a live lease.
  virtual Result<std::optional<int64_t>> next_due_ms(int64_t now_ms) = 0;

  // Batches for the API. Newest first, ids less than before_id (empty: from
  // the newest), at most limit; state filters when set. Attempts included.
  virtual Result<std::vector<Batch>> list_batches(const std::string& account_id,
                                                  const std::string& webhook_id,
                                                  std::optional<BatchState> state,
                                                  const std::string& before_id, int limit) = 0;
  virtual Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) = 0;
  // A manual retry starts a new cycle of attempts of the same batch and
  // events, due now. Only failed or delivered batches: kConflict otherwise.
  virtual Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id,
                                    int64_t now_ms) = 0;
  virtual Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id,
                                   int64_t now_ms) = 0;

  // Retention: deletes at most limit delivered batches last changed before
  // delivered_before_ms and failed ones before failed_before_ms, with their
  // attempts, and events no batch or cursor needs any more. Small steps, so
  // that delivery never waits long behind it. Returns what was deleted.
  virtual Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) = 0;

  virtual Result<StoreCounts> counts() = 0;
  // Cheap liveness probe of the database (for /readyz).
  virtual Status ping() = 0;
};

}  // namespace growhook

namespace growhook {

// Optional: a store shared by several nodes tells each node when another
// node committed work (PostgreSQL LISTEN/NOTIFY), so that delivery wakes at
// once instead of waiting for its poll.
class WorkNotifier {
 public:
  virtual ~WorkNotifier() = default;
  // f runs on a store thread; it must be quick (wake a loop, nothing more).
  // A later call replaces f; an empty f unhooks it: once that call returns,
  // the previous f never runs again (do it before what f touches goes away).
  virtual void on_new_work(std::function<void()> f) = 0;
};

}  // namespace growhook
