#include "domain/health.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

HealthConfig config() {
  HealthConfig c;
  c.attempts_to_fail = 4;
  c.disable_after_ms = 60'000;
  c.probe_first_interval_ms = 1'000;
  c.probe_max_interval_ms = 8'000;
  c.jitter = 0.2;
  c.retry_after_cap_ms = 30'000;
  return c;
}

AttemptReport failure(int64_t at, std::string error = "HTTP 500") {
  AttemptReport r;
  r.at_ms = at;
  r.error = std::move(error);
  return r;
}

AttemptReport success(int64_t at) {
  AttemptReport r;
  r.at_ms = at;
  r.success = true;
  return r;
}

TEST(HealthTest, ProbeIntervalsDoubleUpToTheCapWithJitter) {
  const HealthConfig c = config();
  EXPECT_EQ(probe_interval_ms(0, 0.5, c), 1'000);
  EXPECT_EQ(probe_interval_ms(1, 0.5, c), 2'000);
  EXPECT_EQ(probe_interval_ms(2, 0.5, c), 4'000);
  EXPECT_EQ(probe_interval_ms(3, 0.5, c), 8'000);
  EXPECT_EQ(probe_interval_ms(40, 0.5, c), 8'000);  // no overflow
  EXPECT_EQ(probe_interval_ms(1, 0.0, c), 1'600);   // 2 s × 0.8
  EXPECT_EQ(probe_interval_ms(1, 1.0, c), 2'400);   // 2 s × 1.2
  EXPECT_EQ(probe_interval_ms(3, 1.0, c), 8'000);   // the jitter never passes the cap
}

TEST(HealthTest, SeveralFailedAttemptsInARowMakeItFailing) {
  const HealthConfig c = config();
  WebhookHealth h;
  for (int i = 1; i < 4; ++i) {
    HealthStep s = observe(h, failure(i * 100), c);
    EXPECT_EQ(s.change, HealthChange::kNone);
    EXPECT_FALSE(s.health.failing());
    EXPECT_EQ(s.health.failure_streak, i);
    h = s.health;
  }
  HealthStep s = observe(h, failure(400, "connection refused"), c);
  EXPECT_EQ(s.change, HealthChange::kFailing);
  EXPECT_EQ(s.health.failing_since_ms, 400);
  EXPECT_EQ(s.health.next_probe_at_ms, 400 + 1'000);
  EXPECT_EQ(s.health.last_error, "connection refused");
}

TEST(HealthTest, ASuccessBetweenFailuresResetsTheStreak) {
  const HealthConfig c = config();
  WebhookHealth h;
  h = observe(h, failure(1), c).health;
  h = observe(h, failure(2), c).health;
  h = observe(h, failure(3), c).health;
  HealthStep ok = observe(h, success(4), c);
  EXPECT_EQ(ok.change, HealthChange::kNone);
  EXPECT_EQ(ok.health, WebhookHealth{});
  EXPECT_FALSE(observe(ok.health, failure(5), c).health.failing());
}

TEST(HealthTest, ABatchThatFailedAllItsAttemptsMakesItFailingAtOnce) {
  AttemptReport r = failure(1'000);
  r.batch_failed = true;
  HealthStep s = observe(WebhookHealth{}, r, config());
  EXPECT_EQ(s.change, HealthChange::kFailing);
  EXPECT_EQ(s.health.failing_since_ms, 1'000);
}

TEST(HealthTest, FailedProbesWaitLongerEachTimeAndRetryAfterWins) {
  const HealthConfig c = config();
  AttemptReport first = failure(0);
  first.batch_failed = true;
  WebhookHealth h = observe(WebhookHealth{}, first, c).health;
  EXPECT_EQ(h.next_probe_at_ms, 1'000);
  int64_t t = h.next_probe_at_ms;
  const int64_t expected[] = {2'000, 4'000, 8'000, 8'000};
  for (int64_t wait : expected) {
    HealthStep s = observe(h, failure(t), c);
    EXPECT_EQ(s.change, HealthChange::kNone);
    EXPECT_EQ(s.health.failing_since_ms, 0);
    EXPECT_EQ(s.health.next_probe_at_ms, t + wait);
    h = s.health;
    t = h.next_probe_at_ms;
  }
  AttemptReport busy = failure(t, "HTTP 503");
  busy.retry_after_ms = 20'000;  // longer than the probe cap, within its own
  EXPECT_EQ(observe(h, busy, c).health.next_probe_at_ms, t + 20'000);
  busy.retry_after_ms = 3'600'000;
  EXPECT_EQ(observe(h, busy, c).health.next_probe_at_ms, t + 30'000);
}

TEST(HealthTest, ASuccessfulProbeRecovers) {
  AttemptReport r = failure(0);
  r.batch_failed = true;
  WebhookHealth h = observe(WebhookHealth{}, r, config()).health;
  HealthStep s = observe(h, success(5'000), config());
  EXPECT_EQ(s.change, HealthChange::kRecovered);
  EXPECT_EQ(s.health, WebhookHealth{});
}

TEST(HealthTest, FailingForDisableAfterDisablesWithWhenAndTheLastError) {
  const HealthConfig c = config();
  AttemptReport r = failure(0);
  r.batch_failed = true;
  WebhookHealth h = observe(WebhookHealth{}, r, c).health;
  HealthStep before = observe(h, failure(59'999), c);
  EXPECT_EQ(before.change, HealthChange::kNone);
  HealthStep s = observe(before.health, failure(60'000, "HTTP 502"), c);
  EXPECT_EQ(s.change, HealthChange::kDisabled);
  EXPECT_EQ(s.health.failing_since_ms, 0);
  EXPECT_EQ(s.disabled_reason, "failing since 1970-01-01T00:00:00.000Z; last error: HTTP 502");
}

TEST(HealthTest, GoneDisablesAtOnceEvenWhenHealthy) {
  AttemptReport r = failure(7, "disabled at …: the endpoint answered 410 Gone");
  r.gone = true;
  HealthStep s = observe(WebhookHealth{}, r, config());
  EXPECT_EQ(s.change, HealthChange::kDisabled);
  EXPECT_EQ(s.disabled_reason, r.error);
}

// Only the stored state carries over: a node that restarts in the middle of
// an outage (a fresh process reads the columns back) decides exactly as the
// one that kept going.
TEST(HealthTest, ARestartInTheMiddleDecidesAsIfNothingHappened) {
  const HealthConfig c = config();
  auto walk = [&](bool restart_at_half) {
    WebhookHealth h;
    std::vector<HealthStep> steps;
    for (int i = 0; i < 12; ++i) {
      if (restart_at_half && i == 6) {
        WebhookHealth stored;  // what a store reads back: every field, nothing else
        stored.failing_since_ms = h.failing_since_ms;
        stored.failure_streak = h.failure_streak;
        stored.probe_count = h.probe_count;
        stored.next_probe_at_ms = h.next_probe_at_ms;
        stored.last_error = h.last_error;
        h = stored;
      }
      AttemptReport r = failure(i * 10'000);
      r.rand01 = 0.1 * (i % 10);
      HealthStep s = observe(h, r, c);
      steps.push_back(s);
      h = s.health;
    }
    return steps;
  };
  auto straight = walk(false), restarted = walk(true);
  ASSERT_EQ(straight.size(), restarted.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(straight[i].health, restarted[i].health) << i;
    EXPECT_EQ(straight[i].change, restarted[i].change) << i;
  }
  EXPECT_EQ(straight[3].change, HealthChange::kFailing);
  EXPECT_EQ(straight[9].change, HealthChange::kDisabled);  // 60 s after 30 s: at 90 s
}

}  // namespace
}  // namespace growhook
