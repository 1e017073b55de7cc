// The event log: ingestion's one call (the GroupCommitter holds it).
// The rules of store.h hold for it: thread-safe, synchronous, failures as
// values, nothing written half-way.
//
// Events are kept once, in a log per account ordered by a sequence number
// (seq). Fan-out costs no write per webhook: each webhook keeps its
// position in the log, the last seq already cut into one of its batches
// (work_queue.h). An event is delivered to the webhooks that were enabled
// when it was committed and are subscribed to its type when its batch is
// cut.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/event.h"

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

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Every request in one transaction, one commit for them all (group
  // commit), durable on disk when it returns (the 202 waits for it). Each
  // request is stored whole or not at all: a request for an unknown account
  // gets kNotFound and the others still commit. An event whose (account,
  // id) is stored already is acknowledged, not stored again. One result a
  // request, in order.
  virtual std::vector<Result<AppendOutcome>> append_events(std::span<const AppendRequest> requests) = 0;
};

}  // namespace growhook
