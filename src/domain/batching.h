// The batching rule (docs/receiving-webhooks.md, "The request"), the one
// place it is written; both stores call it when they cut batches from a
// webhook's pending events.
//
// What is pending for a webhook goes out in batches of at most its
// batch_max_events events and batch_max_bytes bytes of events JSON
// ("[a,b,…]"), never more than the node's cap, taken in log order (seq); a
// batch takes its first event whatever its size. Inside a batch, events are
// ordered by occurred_at (events that occurred at the same time keep their
// log order). Nothing waits for a batch to fill: a quiet stream gets one
// event a batch, a burst full batches.
//
// Pure: no clock, no store, no ids (the stores name the batches).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "domain/model.h"

namespace growhook {

// One event of a webhook's pending part of its account's log, as a store
// reads it.
struct PendingEvent {
  int64_t seq = 0;
  int64_t occurred_at_ms = 0;
  int64_t created_at_ms = 0;  // when it was ingested
  std::string body;           // the event as a message carries it (event_json)
};

struct BatchLimits {
  int max_events = 100;
  size_t max_bytes = 1 << 20;  // of the batch's "[a,b,…]"
  int max_batches = 1;         // how many batches may be cut now (free slots)
};

// The limits of webhook w's batches: its own sizes, its bytes never over
// node_max_bytes; `room` batches at most.
BatchLimits batch_limits(const Webhook& w, size_t node_max_bytes, int room);

// How many pending events a store reads to cut `limits.max_batches` full
// batches: more would be left for later anyway.
int64_t events_to_read(const BatchLimits& limits);

// A batch cut from the log: it covers first_seq..last_seq (the events of
// other types in between included), and holds event_count events.
struct CutBatch {
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int event_count = 0;
  std::string events_json;            // "[…]", ordered by occurred_at
  int64_t oldest_created_at_ms = 0;   // the earliest ingestion among them
};

struct Packing {
  std::vector<CutBatch> batches;
  // The webhook's new position in its log (the last seq already in one of
  // its batches): head when every pending event went into the batches, the
  // last seq of the last batch when some are left for later.
  int64_t position = 0;
};

// A batch's events as the JSON array a receiver gets, "[a,b,…]": `events`
// (log order) ordered by occurred_at, those that occurred at the same time
// in log order. The stores rebuild a batch they cut earlier with it too.
std::string batch_events_json(std::span<const PendingEvent> events);
// The earliest ingestion time among events (0 when there are none).
int64_t oldest_created_at_ms(std::span<const PendingEvent> events);

// Packs `events` (seq order, all after `position` and up to `head`, only the
// webhook's types) into batches. `complete` says that events are every
// pending event of the webhook's types up to head (the store's read gave
// fewer than events_to_read); otherwise what follows the last event read is
// unknown, and the position stops there.
Packing pack_batches(std::span<const PendingEvent> events, int64_t position, int64_t head, bool complete,
                     const BatchLimits& limits);

}  // namespace growhook
