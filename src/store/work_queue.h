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

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
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
  // Cut under ordering "contact": it lists its events and holds their
  // contacts until it ends (domain/batching.h). Passed back in
  // AttemptOutcome.
  bool by_contact = false;
};

// What claims read, added up by the store when asked (ClaimRequest::counts):
// the webhooks read to cut new batches, which are only those with work
// (events of their types after their position), never every webhook.
struct ClaimCounts {
  int64_t webhooks_read = 0;
};

// Which webhooks answer fast, which fail, and their limits: a snapshot the
// delivery loop shares with its claims (delivery/fair_share.h), made again
// only when a standing or a limit changed, so a claim beside thousands of
// quiet webhooks copies nothing.
struct WebhookShares {
  std::unordered_map<std::string, int> limits;  // where it differs from per_webhook_in_flight
  std::unordered_set<std::string> fast, failing;
};

struct ClaimRequest {
  int64_t now_ms = 0;
  std::string owner;           // this node's id
  int64_t lease_ms = 60'000;   // must outlive the longest attempt
  int max_batches = 64;        // room left under the global in-flight bound
  // Bound on one webhook's batches in flight, where `shares` and `hanging`
  // (below) say nothing of it.
  int per_webhook_in_flight = 4;
  int limit_for(const std::string& webhook_id) const {
    if (hanging.contains(webhook_id)) return 1;
    if (shares) {
      auto it = shares->limits.find(webhook_id);
      if (it != shares->limits.end()) return it->second;
    }
    return per_webhook_in_flight;
  }
  size_t max_batch_bytes = 1 << 20;  // caps every webhook's batch_max_bytes (domain/batching.h)
  // Batches already in flight on this node, by webhook id.
  std::unordered_map<std::string, int> in_flight;
  // When set, the store adds what the claim read (tests and benchmarks).
  ClaimCounts* counts = nullptr;
  // Fair capacity (delivery/fair_share.h decides, the stores obey): webhooks
  // that are not fast may get at most max_unproven batches in this call, and
  // of those the failing ones at most max_failing. -1: no bound. `hanging`:
  // webhooks with requests out and no answer for a while, failing now with a
  // limit of 1 whatever `shares` says.
  std::shared_ptr<const WebhookShares> shares;
  std::unordered_set<std::string> hanging;
  int max_unproven = -1;
  int max_failing = -1;
  bool is_fast(const std::string& id) const {
    return shares && shares->fast.contains(id) && !hanging.contains(id);
  }
  bool is_failing(const std::string& id) const {
    return hanging.contains(id) || (shares && shares->failing.contains(id));
  }
  // The ids of each kind, for the claim queries' lists.
  std::vector<std::string> fast_ids() const {
    std::vector<std::string> out;
    if (shares) {
      for (const auto& id : shares->fast)
        if (!hanging.contains(id)) out.push_back(id);
    }
    return out;
  }
  std::vector<std::string> failing_ids() const {
    std::vector<std::string> out(hanging.begin(), hanging.end());
    if (shares) {
      for (const auto& id : shares->failing)
        if (!hanging.contains(id)) out.push_back(id);
    }
    return out;
  }
};

// The lanes' room during one claim (ClaimRequest::max_unproven and
// max_failing): both stores ask it before each batch they take.
class LaneRoom {
 public:
  explicit LaneRoom(const ClaimRequest& r) : req_(r), unproven_(r.max_unproven), failing_(r.max_failing) {}
  // Batches the webhook's lane may still take in this claim.
  int left(const std::string& webhook_id) const {
    if (unproven_ < 0 || req_.is_fast(webhook_id)) return INT_MAX;
    int n = unproven_;
    if (failing_ >= 0 && req_.is_failing(webhook_id)) n = std::min(n, failing_);
    return n;
  }
  void take(const std::string& webhook_id, int n) {
    if (unproven_ < 0 || req_.is_fast(webhook_id)) return;
    unproven_ -= n;
    if (failing_ >= 0 && req_.is_failing(webhook_id)) failing_ -= n;
  }
  // The failing webhooks' lane is full: the due query leaves them out, so
  // their due retries do not fill its window.
  bool failing_full() const { return failing_ == 0 || unproven_ == 0; }
  // Only the fast webhooks may take more: a query with a LIMIT on the
  // webhooks it reads (PostgreSQL's cut) reads only them, or a window full
  // of webhooks without room would hide the fast ones.
  bool only_fast() const { return unproven_ == 0; }

 private:
  const ClaimRequest& req_;
  int unproven_, failing_;
};

// What became of one attempt, and what the retry policy decided.
struct AttemptOutcome {
  std::string batch_id;
  std::string webhook_id;
  std::string owner;                      // must still hold the lease
  Attempt attempt;
  int attempt_number = 0;                 // ClaimedBatch::next_attempt_number; 0: the store counts
  bool by_contact = false;                // ClaimedBatch::by_contact: its end releases contacts (SQLite)
  BatchState new_state = BatchState::kPending;
  std::optional<int64_t> next_attempt_at_ms;  // when new_state is pending
  std::string disabled_reason;             // non-empty: disable the webhook (410)
  // What the webhook's health (domain/health.h) needs beyond the above; the
  // store applies observe() to the stored health in the same transaction.
  std::optional<int64_t> retry_after_ms;   // the receiver's Retry-After, as a wait
  double rand01 = 0.5;                     // the jitter's draw for the next probe
  HealthConfig health;
};

// The attempt of o as health sees it.
inline AttemptReport health_report(const AttemptOutcome& o) {
  AttemptReport r;
  r.at_ms = o.attempt.at_ms + o.attempt.duration_ms;
  r.success = o.new_state == BatchState::kDelivered;
  r.batch_failed = o.new_state == BatchState::kFailed;
  r.gone = !o.disabled_reason.empty();
  r.error = r.gone ? o.disabled_reason : o.attempt.error;
  r.retry_after_ms = o.retry_after_ms;
  r.rand01 = o.rand01;
  return r;
}

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;

  // The delivery loop's turn: records the outcomes (their attempts, the
  // batches' new state and next attempt, released leases, the webhook's
  // health by observe(), a webhook disabled), then leases batches that are
  // due (pending, next attempt reached, lease free or expired, webhook
  // enabled) and cuts new batches from webhooks' pending events
  // (domain/batching.h), within the request's bounds. A failing webhook
  // (domain/health.h) gets no new batches and at most one batch in flight,
  // claimed only once its next probe is due; when none of its batches is
  // pending, that one is cut from its events. A store may do both in one transaction (SQLite does: one commit
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
  // min(next attempt, lease end, and for a failing webhook its next probe)
  // over pending batches, and the next probe of a failing webhook with
  // events not yet cut; in the past when one is due now. Empty when none.
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
