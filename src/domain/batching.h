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
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
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

// Ordering "contact" (domain/model.h, Ordering): a batch holds a contact's
// events only while no unfinished batch of the webhook holds an earlier one.
// Such batches list their events (the stores keep the list) instead of
// covering a range, because a contact's later event may have to wait while
// the events around it go. An event that must wait is deferred: kept aside
// with its contact, behind the position, and taken again, before anything
// newer, once the batch that holds its contact ends (delivered or failed).
struct ContactEvent {
  PendingEvent event;
  std::optional<int64_t> msisdn;  // none: the event has no contact and never waits
  bool deferred = false;          // kept aside by an earlier cut (older than the position)
};

struct ContactBatch {
  CutBatch cut;                   // first_seq/last_seq: its lowest and highest event
  std::vector<int64_t> seqs;      // its events, in log order
  std::vector<int64_t> contacts;  // the contacts it now holds (distinct)
};

struct ContactPacking {
  std::vector<ContactBatch> batches;
  std::vector<ContactEvent> defer;        // new events that wait for their contact
  std::vector<int64_t> taken;             // deferred events now in a batch
  std::vector<int64_t> held_again;        // contacts whose ready deferred events read here wait again
  bool ready_left = false;                // deferred events ready to go remain for the next cut
  int64_t position = 0;                   // as Packing::position, over the new events
};

// Packs `ready` (deferred events whose contact no batch holds, seq order;
// `ready_complete`: all of them) and then `fresh` (the events after
// `position`, as pack_batches takes them; `fresh_complete` as its
// `complete`). `held`: the contacts an unfinished batch of the webhook
// holds; `queued`: those with deferred events that are not ready (a fresh
// event of theirs goes behind those). A contact goes into one batch of a
// cut, and its events after one that had to wait wait too. Fresh events are
// taken only when every ready one was read, so a contact's new event never
// passes its older ones. With `hold` false (the webhook's ordering is
// "none" and events deferred before remain) nothing waits.
ContactPacking pack_by_contact(std::span<const ContactEvent> ready, bool ready_complete,
                               std::span<const ContactEvent> fresh, bool fresh_complete, int64_t position,
                               int64_t head, const std::unordered_set<int64_t>& held,
                               const std::unordered_set<int64_t>& queued, const BatchLimits& limits,
                               bool hold = true);

}  // namespace growhook
