#include "domain/delivery_stats.h"

#include <cstddef>

namespace growhook {
namespace {

int64_t floor_to(int64_t ms, int64_t unit) { return ms - ((ms % unit) + unit) % unit; }

std::vector<ActivityBucket> empty_series(int64_t last_start, int64_t unit, int n) {
  std::vector<ActivityBucket> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)].start_ms = last_start - (n - 1 - i) * unit;
  return out;
}

// Adds c to the bucket of series (of `unit`) that holds the time at.
void add_to(std::vector<ActivityBucket>& series, int64_t unit, int64_t at, const ActivityCounts& c) {
  if (series.empty() || at < series.front().start_ms) return;
  const int64_t i = (at - series.front().start_ms) / unit;
  if (i < static_cast<int64_t>(series.size())) series[static_cast<std::size_t>(i)].counts += c;
}

}  // namespace

ActivityCounts& ActivityCounts::operator+=(const ActivityCounts& o) {
  batches_delivered += o.batches_delivered;
  events_delivered += o.events_delivered;
  attempts_failed += o.attempts_failed;
  batches_failed += o.batches_failed;
  return *this;
}

int64_t activity_since(int64_t now_ms) { return floor_to(now_ms, kDayMs) - (kStatsDays - 1) * kDayMs; }

WebhookActivity activity_series(int64_t now_ms, const std::vector<ActivityBucket>& hourly) {
  WebhookActivity a;
  a.hours = empty_series(floor_to(now_ms, kHourMs), kHourMs, kStatsHours);
  a.days = empty_series(floor_to(now_ms, kDayMs), kDayMs, kStatsDays);
  const int64_t current_hour = a.hours.back().start_ms;
  for (const auto& h : hourly) {
    const int64_t start = floor_to(h.start_ms, kHourMs);
    if (start > current_hour) continue;  // another node's clock ahead of ours
    add_to(a.hours, kHourMs, start, h.counts);
    add_to(a.days, kDayMs, start, h.counts);
  }
  return a;
}

}  // namespace growhook
