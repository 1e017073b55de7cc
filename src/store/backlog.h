// A webhook's place in its account's log, as a person moves it (the
// enable and recover routes). The rules of store.h hold for it; a webhook
// of another account is kNotFound, like one that does not exist.
//
// A disabled webhook keeps its place: nothing moves its position while it
// is disabled, so enabling it sends what arrived meanwhile, as far as
// retention kept it (retention does not wait for a disabled webhook:
// maintenance.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace growhook {

struct Enabled {
  int64_t events_skipped = 0;  // with from_head: events of its types it will not get
};

struct RecoverRequest {
  int64_t since_ms = 0;                // events ingested at or after it
  int64_t max_events = 100'000;        // at most that many, oldest first
  size_t max_batch_bytes = 1 << 20;    // the node's cap (work_queue.h's ClaimRequest)
  int64_t now_ms = 0;
};

struct Recovered {
  int64_t events = 0;   // events sent again
  int64_t batches = 0;  // new batches they went into
};

class Backlog {
 public:
  virtual ~Backlog() = default;

  // Enables the webhook: clears disabled_reason, starts its health afresh
  // (domain/health.h); with from_head its position moves to the account's
  // head first (the events that arrived while it was disabled are skipped,
  // counted in the answer), otherwise it resumes where it stopped. Enabling
  // an enabled webhook changes nothing but updated_at (and from_head).
  virtual Result<Enabled> enable_webhook(const std::string& account_id, const std::string& id, bool from_head,
                                         int64_t now_ms) = 0;

  // Cuts new pending batches, due now, of the webhook's events (of its
  // types) ingested at or after req.since_ms that it already had its turn
  // at: those after its position go out anyway. Same event ids, new
  // batches (batching as domain/batching.h); at most req.max_events, oldest
  // first (the answer says how many). The events retention already removed
  // are gone.
  virtual Result<Recovered> recover(const std::string& account_id, const std::string& id,
                                    const RecoverRequest& req) = 0;
};

}  // namespace growhook
