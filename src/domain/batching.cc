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

}  // namespace growhook
