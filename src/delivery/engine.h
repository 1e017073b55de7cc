// The delivery engine: one loop that claims due and new batches from the
// store, hands them to the transport, and records what came back.
//
// Bounds, all enforced here: at most max_in_flight requests in flight, at
// most per_webhook_in_flight for one webhook, less while it answers slowly
// or not at all, and webhooks that have not proven fast hold at most half
// of max_in_flight together (delivery/fair_share.h: however many endpoints
// hang, the healthy ones keep their slots), and batches are read from the
// store only when a slot, or a place among the ready_ahead batches claimed
// ahead, is free (memory stays flat however large the backlog).
//
// Threads: the loop runs on its own thread. Transport callbacks queue
// outcomes, send the next ready batch of a freed slot at once, and wake the
// loop (once per pass of the transport). A turn records the outcomes and
// claims the next work in one store call (one transaction on SQLite).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/fair_share.h"
#include "delivery/message.h"
#include "delivery/retry_policy.h"
#include "delivery/transport.h"
#include "store/work_queue.h"

namespace growhook {

struct DeliveryOptions {
  std::string owner = "node";        // lease owner id of this process
  int max_in_flight = 256;
  int per_webhook_in_flight = 4;
  // Batches claimed ahead of free slots, ready to go: when a request ends,
  // the next batch of that webhook is sent at once from the transport's
  // callback instead of after the loop's next turn (a transaction). Only for
  // webhooks whose last answer was a 2xx within fast_answer_ms; at most
  // per_webhook_in_flight of one webhook wait, and none longer than a
  // second (then it waits for its lease to end). 0 turns it off (serve does
  // on PostgreSQL, where per_webhook_in_flight bounds the claims of all the
  // nodes together).
  int ready_ahead = 64;
  int64_t fast_answer_ms = 250;
  // A webhook with requests out and no answer for this long counts as
  // failing (delivery/fair_share.h).
  int64_t slow_after_ms = 1'000;
  size_t max_batch_bytes = 1 << 20;
  Timeouts timeouts;
  RetryConfig retry;
  HealthConfig health;               // when a webhook is failing, how it is probed (domain/health.h)
  // How long a claimed batch stays leased to this node: another node takes
  // it over only after that (when this one died). It must outlive the
  // longest attempt, so it is longer than timeouts.total_ms (serve checks).
  // 0: default_lease_ms(timeouts).
  int64_t lease_ms = 0;
  // An answer that needs no claim (its webhook had room for more, so the
  // last claim left none of its work behind; that claim took fewer batches
  // than it could; nothing is ready) is recorded with the next turn that
  // happens anyway (new events, another answer), or after this long. One
  // event at a time, its outcome then shares the next claim's transaction
  // instead of a turn of its own (issue 12). Until recorded, its lease
  // holds. 0: every answer turns the loop at once.
  int64_t record_delay_ms = 0;
  int64_t idle_poll_ms = 1'000;      // a turn at least this often, even with nothing to do
  int64_t store_retry_ms = 500;      // wait after a store error
  uint64_t seed = 0;                 // 0: from the random device
};

// The lease when none is set: the longest attempt (connect and total
// timeouts) plus 30 s for claiming, building and recording around it.
inline int64_t default_lease_ms(const Timeouts& t) { return t.connect_ms + t.total_ms + 30'000; }
// The lease a node uses: the one set (lease_ms > 0), or the default.
inline int64_t lease_ms_or_default(int64_t lease_ms, const Timeouts& t) {
  return lease_ms > 0 ? lease_ms : default_lease_ms(t);
}

class DeliveryEngine {
 public:
  // The transport's callbacks and pass hook call into the engine: stop the
  // transport (or let every request end) before the engine is destroyed.
  DeliveryEngine(WorkQueue& queue, Transport& transport, const Clock& clock, Metrics& metrics,
                 DeliveryOptions options);
  ~DeliveryEngine();

  void start();
  // Stops claiming, waits up to grace_ms for requests in flight, records
  // their outcomes, and joins. Batches still in flight keep their lease and
  // are taken up again after a restart.
  void stop(int64_t grace_ms = 5'000);
  // New work may be there (ingestion committed): turn now.
  void wake();

  // The monotonic time of the last completed turn; readiness checks that the
  // loop is turning.
  int64_t last_turn_mono_ms() const { return last_turn_mono_ms_; }
  bool last_turn_ok() const { return last_turn_ok_; }
  // Batches claimed ahead and waiting for a slot (for tests and metrics).
  int ready() const {
    std::lock_guard lock(mu_);
    return ready_total_;
  }

 private:
  void run();
  // Records the outcomes that came back and claims what the free slots and
  // the room ahead allow, in one store call; sends what has a slot.
  void turn();
  // A claimed batch with its request built, waiting for a slot.
  struct Ready {
    std::shared_ptr<ClaimedBatch> claim;
    OutgoingRequest request;
    int64_t claimed_mono_ms = 0;
  };
  void queue_claims(std::vector<ClaimedBatch> claims);
  // Moves ready batches whose webhook has a free slot into `out`, counting
  // them in flight; `first` is tried first. Under mu_.
  void take_sendable_locked(const std::string& first, std::vector<Ready>& out);
  void send(Ready r);
  void on_result(ClaimedBatch& claim, int64_t started_ms, TransportResult r);
  void count_attempt(const ClaimedBatch& claim, const TransportResult& r, const Decision& d, int64_t now);
  void sleep_until_work();

  WorkQueue& queue_;
  Transport& transport_;
  const Clock& clock_;
  Metrics& metrics_;
  DeliveryOptions options_;
  const int64_t lease_ms_;  // options_.lease_ms, or the default

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = true;
  bool stopping_ = false;
  std::deque<AttemptOutcome> done_;
  // Since when (mono) done_ holds outcomes left for a later turn
  // (record_delay_ms); -1: none.
  int64_t deferred_since_mono_ms_ = -1;
  bool deferral_begun_ = false;  // the pass hook wakes the sleeping loop to shorten its sleep
  bool last_claim_full_ = true;  // the last turn claimed all it asked for
  bool wake_per_pass_ = false;  // the transport wakes us after each pass of callbacks
  std::unordered_map<std::string, int> in_flight_;  // by webhook id
  int in_flight_total_ = 0;
  std::unordered_map<std::string, std::deque<Ready>> ready_;  // by webhook id, oldest first
  int ready_total_ = 0;
  // Each webhook's limit and standing. Only fast webhooks (their last
  // attempt a 2xx within fast_answer_ms) are claimed ahead: a slow one's
  // batches would wait, built with its configuration of then, while they
  // could go to another node.
  FairShare fair_;
  std::mt19937_64 rng_;

  // The store's next due time, and when it was asked (loop thread only).
  std::optional<int64_t> due_;
  int64_t due_asked_mono_ms_ = INT64_MIN / 2;

  std::atomic<int64_t> last_turn_mono_ms_{0};
  std::atomic<bool> last_turn_ok_{true};
  std::thread thread_;
};

}  // namespace growhook
