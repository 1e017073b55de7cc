#include "domain/delivery_stats.h"

#include <gtest/gtest.h>

#include "domain/timestamp.h"

namespace growhook {
namespace {

int64_t at(const char* iso) { return *parse_timestamp(iso); }

ActivityBucket hour(const char* iso, int64_t delivered, int64_t events, int64_t failed_attempts,
                    int64_t failed_batches) {
  return {at(iso), {delivered, events, failed_attempts, failed_batches}};
}

TEST(DeliveryStats, EveryBucketIsPresentAlignedToUtcHoursAndDaysTheLastHoldingNow) {
  const int64_t now = at("2026-12-01T18:25:13.000Z");
  EXPECT_EQ(activity_since(now), at("2026-11-25T00:00:00Z"));
  WebhookActivity a = activity_series(now, {});
  ASSERT_EQ(a.hours.size(), 24u);
  ASSERT_EQ(a.days.size(), 7u);
  EXPECT_EQ(a.hours.front().start_ms, at("2026-11-30T19:00:00Z"));
  EXPECT_EQ(a.hours.back().start_ms, at("2026-12-01T18:00:00Z"));
  EXPECT_EQ(a.days.front().start_ms, at("2026-11-25T00:00:00Z"));
  EXPECT_EQ(a.days.back().start_ms, at("2026-12-01T00:00:00Z"));
  for (const auto& b : a.hours) EXPECT_EQ(b.counts, ActivityCounts{});
  for (const auto& b : a.days) EXPECT_EQ(b.counts, ActivityCounts{});
}

TEST(DeliveryStats, HoursAddUpIntoTheirDayAndOnlyTheLast24HoursAreHourly) {
  const int64_t now = at("2026-12-01T18:25:13.000Z");
  WebhookActivity a = activity_series(now, {hour("2026-12-01T18:00:00Z", 2, 20, 1, 0),
                                            hour("2026-12-01T02:00:00Z", 1, 5, 3, 1),
                                            hour("2026-11-30T19:00:00Z", 4, 8, 0, 0),
                                            hour("2026-11-30T18:00:00Z", 7, 7, 7, 7),  // 25 h ago: daily only
                                            hour("2026-11-25T00:00:00Z", 1, 1, 0, 0),
                                            hour("2026-11-24T23:00:00Z", 9, 9, 9, 9),    // before the 7 days
                                            hour("2026-12-01T19:00:00Z", 9, 9, 9, 9)});  // after now
  EXPECT_EQ(a.hours[23].counts, (ActivityCounts{2, 20, 1, 0}));
  EXPECT_EQ(a.hours[7].counts, (ActivityCounts{1, 5, 3, 1}));  // 02:00 is 16 hours before 18:00
  EXPECT_EQ(a.hours[0].counts, (ActivityCounts{4, 8, 0, 0}));
  ActivityCounts hourly_total;
  for (const auto& b : a.hours) hourly_total += b.counts;
  EXPECT_EQ(hourly_total, (ActivityCounts{7, 33, 4, 1}));
  EXPECT_EQ(a.days[6].counts, (ActivityCounts{3, 25, 4, 1}));
  EXPECT_EQ(a.days[5].counts, (ActivityCounts{11, 15, 7, 7}));
  EXPECT_EQ(a.days[0].counts, (ActivityCounts{1, 1, 0, 0}));
  ActivityCounts daily_total;
  for (const auto& b : a.days) daily_total += b.counts;
  EXPECT_EQ(daily_total, (ActivityCounts{15, 41, 11, 8}));
}

TEST(DeliveryStats, AtTheFirstMillisecondOfADayTheCurrentBucketsStartNow) {
  const int64_t now = at("2026-12-01T00:00:00.000Z");
  WebhookActivity a = activity_series(now, {hour("2026-12-01T00:00:00Z", 1, 1, 0, 0)});
  EXPECT_EQ(a.hours.back().start_ms, now);
  EXPECT_EQ(a.days.back().start_ms, now);
  EXPECT_EQ(a.hours.back().counts.batches_delivered, 1);
  EXPECT_EQ(a.days.back().counts.batches_delivered, 1);
  EXPECT_EQ(activity_since(now), at("2026-11-25T00:00:00Z"));
}

}  // namespace
}  // namespace growhook
