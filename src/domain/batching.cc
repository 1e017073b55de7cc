#include "domain/batching.h"

#include <algorithm>
#include <numeric>

namespace growhook {
namespace {

}  // namespace

std::string batch_events_json(std::span<const PendingEvent> events) {
  size_t size = 2;
  for (const auto& e : events) size += e.body.size() + 1;
  std::string out;
  out.reserve(size);
  auto add = [&](const PendingEvent& e) {
    out += out.empty() ? '[' : ',';
    out += e.body;
  };
  auto by_time = [](const PendingEvent& a, const PendingEvent& b) { return a.occurred_at_ms < b.occurred_at_ms; };
  if (std::is_sorted(events.begin(), events.end(), by_time)) {
    for (const auto& e : events) add(e);
  } else {
    std::vector<size_t> order(events.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return by_time(events[a], events[b]); });
    for (size_t i : order) add(events[i]);
  }
  if (out.empty()) return "[]";
  out += ']';
  return out;
}

int64_t oldest_created_at_ms(std::span<const PendingEvent> events) {
  if (events.empty()) return 0;
  int64_t oldest = events.front().created_at_ms;
  for (const auto& e : events) oldest = std::min(oldest, e.created_at_ms);
  return oldest;
}

namespace {

// How many events from the start of `events` go into one batch: up to
// max_events, and no more bytes than max_bytes unless it is the first.
size_t batch_length(std::span<const PendingEvent> events, const BatchLimits& limits) {
  size_t n = 0, bytes = 2;  // "[" and "]"; each event counts its comma
  while (n < events.size() && static_cast<int>(n) < limits.max_events &&
         (n == 0 || bytes + events[n].body.size() + 1 <= limits.max_bytes)) {
    bytes += events[n].body.size() + 1;
    ++n;
  }
  return n;
}

}  // namespace

BatchLimits batch_limits(const Webhook& w, size_t node_max_bytes, int room) {
  return {w.batch_max_events, std::min(static_cast<size_t>(w.batch_max_bytes), node_max_bytes), room};
}

int64_t events_to_read(const BatchLimits& limits) {
  return static_cast<int64_t>(limits.max_batches) * limits.max_events;
}

Packing pack_batches(std::span<const PendingEvent> events, int64_t position, int64_t head, bool complete,
                     const BatchLimits& limits) {
  Packing out;
  out.position = position;
  size_t i = 0;
  while (static_cast<int>(out.batches.size()) < limits.max_batches && i < events.size()) {
    auto part = events.subspan(i, batch_length(events.subspan(i), limits));
    CutBatch b;
    b.first_seq = out.position + 1;
    b.last_seq = part.back().seq;
    b.event_count = static_cast<int>(part.size());
    b.events_json = batch_events_json(part);
    b.oldest_created_at_ms = oldest_created_at_ms(part);
    out.position = b.last_seq;
    out.batches.push_back(std::move(b));
    i += part.size();
  }
  // Every pending event is in a batch: nothing of the webhook's types is
  // left up to head, so the position moves there.
  if (complete && i == events.size()) out.position = head;
  return out;
}

namespace {

// One cut by contact: the batch being filled, and what the cut decided of
// each contact: in the open batch, or waiting (held by an unfinished batch,
// in a batch this cut closed, or behind an event of its own that waits).
class ContactCut {
 public:
  enum class Placed { kBatch, kWaits, kStop };

  ContactCut(const std::unordered_set<int64_t>& held, const BatchLimits& limits, bool hold, ContactPacking& out)
      : held_(held), limits_(limits), hold_(hold), out_(out) {}

  bool room() const { return static_cast<int>(out_.batches.size()) < limits_.max_batches; }
  void wait(int64_t contact) { waiting_.insert(contact); }

  // Places an event: in the open batch, waiting, or nowhere (no room left:
  // the cut stops).
  Placed place(const ContactEvent& ce) {
    const bool contact = hold_ && ce.msisdn.has_value();
    if (contact && (held_.count(*ce.msisdn) || waiting_.count(*ce.msisdn))) return Placed::kWaits;
    if (!fits(ce.event)) {
      // Its contact is in the batch that is full: it waits for that batch.
      if (contact && in_open_.count(*ce.msisdn)) return Placed::kWaits;
      close();
      if (!room()) return Placed::kStop;
    }
    open_.seqs.push_back(ce.event.seq);
    open_bytes_ += ce.event.body.size() + 1;
    open_events_.push_back(ce.event);
    if (contact && in_open_.insert(*ce.msisdn).second) open_.contacts.push_back(*ce.msisdn);
    return Placed::kBatch;
  }

  // Ends the open batch (the open batch always has room: room() was
  // checked when it was opened).
  void close() {
    if (open_.seqs.empty()) return;
    open_.cut.first_seq = open_.seqs.front();
    open_.cut.last_seq = open_.seqs.back();
    open_.cut.event_count = static_cast<int>(open_.seqs.size());
    open_.cut.events_json = batch_events_json(open_events_);
    open_.cut.oldest_created_at_ms = oldest_created_at_ms(open_events_);
    for (int64_t c : open_.contacts) waiting_.insert(c);
    in_open_.clear();
    out_.batches.push_back(std::move(open_));
    open_ = ContactBatch{};
    open_events_.clear();
    open_bytes_ = 2;
  }

 private:
  bool fits(const PendingEvent& e) const {
    return open_.seqs.empty() || (static_cast<int>(open_.seqs.size()) < limits_.max_events &&
                                  open_bytes_ + e.body.size() + 1 <= limits_.max_bytes);
  }

  const std::unordered_set<int64_t>& held_;
  const BatchLimits& limits_;
  const bool hold_;
  ContactPacking& out_;
  ContactBatch open_;
  std::vector<PendingEvent> open_events_;
  size_t open_bytes_ = 2;
  std::unordered_set<int64_t> in_open_, waiting_;
};

}  // namespace

ContactPacking pack_by_contact(std::span<const ContactEvent> ready, bool ready_complete,
                               std::span<const ContactEvent> fresh, bool fresh_complete, int64_t position,
                               int64_t head, const std::unordered_set<int64_t>& held,
                               const std::unordered_set<int64_t>& queued, const BatchLimits& limits, bool hold) {
  using Placed = ContactCut::Placed;
  ContactPacking out;
  out.position = position;
  ContactCut cut(held, limits, hold, out);
  // A contact whose ready event had to wait waits with it.
  std::unordered_set<int64_t> held_again;
  size_t i = 0;
  for (; i < ready.size() && cut.room(); ++i) {
    const ContactEvent& ce = ready[i];
    Placed p = cut.place(ce);
    if (p == Placed::kStop) break;
    if (p == Placed::kBatch) {
      out.taken.push_back(ce.event.seq);
    } else if (ce.msisdn) {
      cut.wait(*ce.msisdn);
      held_again.insert(*ce.msisdn);
    }
  }
  out.ready_left = i < ready.size() || !ready_complete;
  if (!out.ready_left) {
    if (hold) {
      for (int64_t c : queued) cut.wait(c);
    }
    size_t j = 0;
    for (; j < fresh.size() && cut.room(); ++j) {
      const ContactEvent& ce = fresh[j];
      Placed p = cut.place(ce);
      if (p == Placed::kStop) break;
      if (p == Placed::kWaits) {
        out.defer.push_back(ce);
        if (ce.msisdn) cut.wait(*ce.msisdn);
      }
      out.position = ce.event.seq;
    }
    // Every pending event is in a batch or waits: the position moves to head.
    if (fresh_complete && j == fresh.size()) out.position = head;
  }
  cut.close();
  // (A contact placed in a batch whose later ready events were not read
  // this cut is not listed: the next cut finds it held and lists it then.
  // Listing every contact of every batch updated all their deferred rows.)
  out.held_again.assign(held_again.begin(), held_again.end());
  return out;
}

}  // namespace growhook
