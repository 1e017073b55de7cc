// A webhook's deliveries and failures over time (GET /v1/webhooks/{id}/stats,
// the chart of the webhook's page): per UTC hour over the last 24 hours and
// per UTC day over the last 7 days, every bucket present (zeros when nothing
// happened), from counts per hour that a store reads (store/delivery_activity.h).
// Pure: the time is the caller's (its injected clock).
#pragma once

#include <cstdint>
#include <vector>

namespace growhook {

inline constexpr int64_t kHourMs = 3'600'000;
inline constexpr int64_t kDayMs = 24 * kHourMs;
inline constexpr int kStatsHours = 24;  // the hourly series: this hour and the 23 before
inline constexpr int kStatsDays = 7;    // the daily series: today (UTC) and the 6 days before

struct ActivityCounts {
  int64_t batches_delivered = 0;  // batches that ended delivered (by when they did)
  int64_t events_delivered = 0;   // the events in those batches
  int64_t attempts_failed = 0;    // attempts that failed (by when they were made), retried or not
  int64_t batches_failed = 0;     // batches that ended failed (by when they did)

  ActivityCounts& operator+=(const ActivityCounts& o);
  bool operator==(const ActivityCounts&) const = default;
};

struct ActivityBucket {
  int64_t start_ms = 0;  // a UTC hour's or day's start
  ActivityCounts counts;
};

struct WebhookActivity {
  std::vector<ActivityBucket> hours;  // kStatsHours, oldest first; the last is the current hour
  std::vector<ActivityBucket> days;   // kStatsDays, oldest first; the last is the current day
};

// The start of the oldest bucket of either series at now_ms: the UTC day six
// days before today. A store reads its hours from there on.
int64_t activity_since(int64_t now_ms);

// Both series at now_ms from counts per hour (start_ms an hour's start, any
// order, hours without anything may be left out). Hours before
// activity_since(now_ms) or after the current hour are not counted.
WebhookActivity activity_series(int64_t now_ms, const std::vector<ActivityBucket>& hourly);

}  // namespace growhook
