#include "maintenance/db_health.h"

#include <gtest/gtest.h>

#include <atomic>

namespace growhook {
namespace {

TEST(DbHealth, AStoreThatAnsweredIsReachable) {
  DbHealthRecord r{1, true, "", std::nullopt};
  EXPECT_EQ(judge_db_health(r, 10'000, 5'000), std::nullopt);
}

TEST(DbHealth, APingThatFailedMakesItUnreachableWithTheStoresReason) {
  DbHealthRecord r{3, false, "PostgreSQL connect: connection refused", std::nullopt};
  EXPECT_EQ(judge_db_health(r, 10'000, 5'000), "database unreachable: PostgreSQL connect: connection refused");
}

TEST(DbHealth, APingStillOutPastTheBoundIsUnreachableBeforeItReturns) {
  DbHealthRecord r{3, true, "", 4'000};
  EXPECT_EQ(judge_db_health(r, 8'999, 5'000), std::nullopt) << "within the bound: the last answer holds";
  auto p = judge_db_health(r, 9'000, 5'000);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "database unreachable: no answer for 5 s (--db-timeout 5 s)");
}

TEST(DbHealth, TheBackgroundCheckFollowsTheStoreOnTheClocksSchedule) {
  FakeClock clock;
  std::atomic<bool> up{true};
  std::atomic<int> pings{0};
  DbHealth health(
      [&]() -> Status {
        pings++;
        if (up) return ok_status();
        return Error::unavailable("PostgreSQL did not answer within 5s (--db-timeout)");
      },
      clock, {1'000, 5'000});
  health.start();  // the first check on this thread
  EXPECT_EQ(pings.load(), 1);
  EXPECT_EQ(health.problem(), std::nullopt);

  up = false;
  ASSERT_TRUE(clock.await_sleepers(1));
  clock.advance_ms(1'000);  // the next check is due
  ASSERT_TRUE(clock.await_waits(2));  // it ran and sleeps again
  ASSERT_TRUE(clock.await_sleepers(1));
  EXPECT_EQ(pings.load(), 2);
  EXPECT_EQ(health.problem(), "database unreachable: PostgreSQL did not answer within 5s (--db-timeout)");

  up = true;
  clock.advance_ms(1'000);
  ASSERT_TRUE(clock.await_waits(3));
  ASSERT_TRUE(clock.await_sleepers(1));
  EXPECT_EQ(health.problem(), std::nullopt);
  health.stop();
}

}  // namespace
}  // namespace growhook
