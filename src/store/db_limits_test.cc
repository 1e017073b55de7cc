#include "store/db_limits.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

TEST(DbLimits, TheDefaultBoundIsFiveSecondsOnEveryConnectionSetting) {
  auto t = pg_connect_timeouts(DbLimits{});
  EXPECT_EQ(t.connect_timeout_s, "5");
  EXPECT_EQ(t.tcp_user_timeout_ms, "5000");
  // Quiet for half the bound, then three probes: a dead idle peer is
  // noticed after about the bound.
  EXPECT_EQ(t.keepalives_idle_s, "2");
  EXPECT_EQ(t.keepalives_interval_s, "1");
  EXPECT_EQ(t.keepalives_count, "3");
}

TEST(DbLimits, ASubSecondBoundStillConnectsForTheTwoSecondsLibpqAllowsAtLeast) {
  auto t = pg_connect_timeouts(DbLimits{300});
  EXPECT_EQ(t.connect_timeout_s, "2");
  EXPECT_EQ(t.tcp_user_timeout_ms, "300");
  EXPECT_EQ(t.keepalives_idle_s, "1");
}

TEST(DbLimits, UnboundedTurnsTheServerTimeoutsOff) {
  EXPECT_EQ(pg_session_timeouts_sql(DbLimits{0}),
            "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0");
  EXPECT_EQ(pg_session_timeouts_sql(DbLimits{5000}),
            "SET statement_timeout = 5000; SET idle_in_transaction_session_timeout = 5000");
  EXPECT_EQ(call_deadline(1'000, DbLimits{0}), 0);
}

TEST(DbLimits, TheClientDeadlineLeavesTheServerATenthToAnswerFirstAtMostOneSecond) {
  EXPECT_EQ(call_deadline(1'000, DbLimits{5'000}), 1'000 + 5'000 + 500);
  EXPECT_EQ(call_deadline(1'000, DbLimits{60'000}), 1'000 + 60'000 + 1'000);
}

TEST(DbLimits, TheWaitOnTheSocketIsTheTimeLeftUntilTheDeadlinePasses) {
  auto w = next_wait(1'000, 6'500);
  ASSERT_TRUE(std::holds_alternative<WaitMs>(w));
  EXPECT_EQ(std::get<WaitMs>(w).ms, 5'500);
  w = next_wait(6'499, 6'500);
  ASSERT_TRUE(std::holds_alternative<WaitMs>(w));
  EXPECT_EQ(std::get<WaitMs>(w).ms, 1);
  EXPECT_TRUE(std::holds_alternative<DeadlinePassed>(next_wait(6'500, 6'500)));
  EXPECT_TRUE(std::holds_alternative<DeadlinePassed>(next_wait(9'000, 6'500)));
  // No deadline: wait without a bound.
  EXPECT_EQ(std::get<WaitMs>(next_wait(9'000, 0)).ms, -1);
}

TEST(DbLimits, DurationsReadAsTheFlagIsWritten) {
  EXPECT_EQ(describe_ms(5'000), "5s");
  EXPECT_EQ(describe_ms(1'500), "1.5s");
  EXPECT_EQ(describe_ms(250), "250ms");
}

}  // namespace
}  // namespace growhook
