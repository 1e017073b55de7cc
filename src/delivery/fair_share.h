// Fair capacity: how many requests each webhook may have in flight, and how
// much of --max-in-flight the webhooks that have not proven fast may hold
// together. Pure: the engine tells it what it sent and what came back, with
// the monotonic time; it answers with numbers (tested with a fake clock in
// fair_share_test.cc). The engine calls it under its lock.
//
// Why: a webhook that hangs holds each of its slots for the whole request
// timeout. With a fixed per-webhook bound, max_in_flight / per_webhook of
// them take every slot, and the healthy shops wait. So:
// - A webhook's limit adapts to how it answers: it starts at 1, a fast 2xx
//   (within fast_answer_ms) grows it by one up to per_webhook_in_flight, and
//   anything else (a slow answer, a timeout, a refusal, a non-2xx) cuts it
//   back to 1.
// - Standing, from its last answer: kFast (a fast 2xx), kUnproven (no answer
//   yet on this node, or a slow 2xx), kFailing (a failure, or requests out
//   with no answer for slow_after_ms: it is hanging now, whatever it said
//   before).
// - Webhooks that are not kFast hold at most half of max_in_flight
//   together, and kFailing ones at most a quarter: the other half is always
//   there for the webhooks that answer fast, however many hang. A request
//   that went out as kUnproven and hangs keeps counting against that half.
//
// This is the node's own, in-memory view, for capacity only: a webhook's
// health (domain/health.h, stored, shared by every node) is what stops new
// batches and probes a failing receiver; the stores apply both.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "delivery/transport.h"
#include "store/work_queue.h"

namespace growhook {

struct FairShareConfig {
  int max_in_flight = 256;
  int per_webhook_in_flight = 4;
  int64_t fast_answer_ms = 250;    // a 2xx within this is fast
  int64_t slow_after_ms = 1'000;   // requests out this long with no answer: failing
};

enum class Standing { kFast, kUnproven, kFailing };

// What a claim may take, lane by lane (the fields of ClaimRequest it fills).
struct ShareBudget {
  int default_limit = 1;                        // webhooks not in shares->limits
  std::shared_ptr<const WebhookShares> shares;  // limits, fast, failing
  std::unordered_set<std::string> hanging;      // failing now, limit 1
  int max_unproven = 0;  // batches for webhooks that are not fast, in this claim
  int max_failing = 0;   // of which for failing ones
};

class FairShare {
 public:
  explicit FairShare(FairShareConfig config) : config_(config) {}

  void on_send(const std::string& webhook_id, int64_t mono_ms);
  // The answer (or failure) of one request of the webhook.
  void on_answer(const std::string& webhook_id, const TransportResult& r, int64_t mono_ms);

  Standing standing(const std::string& webhook_id, int64_t mono_ms) const;
  // Requests the webhook may have in flight now.
  int limit(const std::string& webhook_id, int64_t mono_ms) const;
  // Whether one more request of the webhook may go out now, given what is
  // in flight (its own limit, the lanes' shares, max_in_flight).
  bool may_send(const std::string& webhook_id, int64_t mono_ms) const;
  // The budget of the next claim. ahead: batches a fast webhook may have
  // claimed and waiting besides those in flight (the engine's ready_ahead).
  // Costs the webhooks with requests in flight, plus those whose standing
  // or limit changed since the last call: the snapshot is changed in place
  // when nobody holds the last one any more (the engine's claim of the
  // previous turn is over), and made again from every webhook known only
  // when someone still does.
  ShareBudget budget(int64_t mono_ms, bool ahead);

  int in_flight(const std::string& webhook_id) const;
  int unproven_cap() const { return std::max(1, config_.max_in_flight / 2); }
  int failing_cap() const { return std::max(1, config_.max_in_flight / 4); }

 private:
  struct State {
    int level = 1;             // the adaptive limit, 1..per_webhook_in_flight
    Standing last = Standing::kUnproven;  // from the last answer
    int in_flight = 0;
    int64_t waiting_since = 0;  // last send into an idle webhook, or last answer
  };
  Standing standing_of(const State& s, int64_t mono_ms) const;
  // In flight of webhooks not kFast, and of those kFailing.
  void lanes(int64_t mono_ms, int& unproven, int& failing) const;
  void forget_idle();
  // The snapshot's entries of one webhook, from its state (or none).
  void put(WebhookShares& shares, const std::string& id, const State* s, bool ahead) const;

  FairShareConfig config_;
  std::unordered_map<std::string, State> webhooks_;  // at most kMaxWebhooks; idle ones go first
  std::unordered_set<std::string> busy_;             // those with requests in flight
  int total_ = 0;
  // The last budget's snapshot, kept while nothing in it changed, and the
  // webhooks whose entries changed since.
  std::shared_ptr<WebhookShares> shares_;
  bool shares_ahead_ = false;
  std::unordered_set<std::string> changed_;
};

}  // namespace growhook
