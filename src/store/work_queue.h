// The work queue: what the delivery loop (DeliveryEngine) holds. It leases
// batches to a node, cuts new ones from the webhooks' pending events, and
// records what became of each attempt. The rules of store.h hold for it.
//
// Durability: unlike ingestion and management, this bookkeeping commits
// without waiting for the disk (SQLite synchronous=NORMAL, PostgreSQL
// synchronous_commit=off). A process crash loses none of it; a power loss
// or a database server crash may lose the last claims and attempts, whose
// events are then sent again with the same event ids (at least once).
//
// Leases: a claimed batch belongs to its owner until lease_until; another
// node takes it over only after that. An outcome whose lease was lost is
// dropped, so recording one twice changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

// A batch handed to a sender, leased until the claim's now_ms + lease_ms.
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
  int per_webhook_in_flight = 4;   // bound on one webhook's batches in flight
  // Webhooks whose bound differs from per_webhook_in_flight (the delivery loop
  // claims ahead for webhooks that answer fast).
  std::unordered_map<std::string, int> webhook_limits;
  int limit_for(const std::string& webhook_id) const {
    auto it = webhook_limits.find(webhook_id);
    return it == webhook_limits.end() ? per_webhook_in_flight : it->second;
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
  std::string disabled_reason;             // non-empty: disable the webhook (410)
};

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;

  // The delivery loop's turn: records the outcomes (their attempts, the
  // batches' new state and next attempt, released leases, a webhook
  // disabled), then leases batches that are due (pending, next attempt
  // reached, lease free or expired, webhook enabled) and cuts new batches
  // from webhooks' pending events (domain/batching.h), within the request's
  // bounds. A store may do both in one transaction (SQLite does: one commit
  // a turn). On an error the caller records the same outcomes again later,
  // which is harmless (see Leases above).
  virtual Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                             const ClaimRequest& request) = 0;
  // Records outcomes alone, in one transaction (the loop's last turn, at
  // shutdown, and a turn without room to claim).
  virtual Status record_outcomes(std::span<const AttemptOutcome> outcomes) = 0;
  // Frees every lease held by owner, or by anyone when owner is empty (a
  // single-node store at start-up: work in flight at a crash is taken up).
  virtual Status release_leases(const std::string& owner) = 0;
  // The earliest time a batch of an enabled webhook can be claimed:
  // min(next attempt, lease end) over pending batches, in the past when one
  // is due now. Empty when none is pending.
  virtual Result<std::optional<int64_t>> next_due_ms() = 0;
};

// A store shared by several nodes tells each node when another one
// committed work (PostgreSQL LISTEN/NOTIFY), so that delivery wakes at once
// instead of waiting for its poll. The store's factory hands it back with
// the store (store.h); a single-node store has none.
class WorkNotifier {
 public:
  virtual ~WorkNotifier() = default;
  // f runs on a store thread; it must be quick (wake a loop, nothing more).
  // A later call replaces f; an empty f unhooks it: once that call returns,
  // the previous f never runs again (do it before what f touches goes away).
  virtual void on_new_work(std::function<void()> f) = 0;
};

}  // namespace growhook
