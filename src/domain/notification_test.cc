#include "domain/notification.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

TEST(HealthNews, EachChangeIsNewsWithSinceWhenAndWhy) {
  WebhookHealth healthy;
  HealthStep none;
  none.health.failure_streak = 1;
  EXPECT_FALSE(health_news(healthy, none, 100).has_value()) << "no change, no news";

  HealthStep failing;
  failing.change = HealthChange::kFailing;
  failing.health.failing_since_ms = 100;
  failing.health.last_error = "HTTP 500";
  auto f = health_news(healthy, failing, 100);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, "failing");
  EXPECT_EQ(f->failing_since_ms, 100);
  EXPECT_EQ(f->reason, "HTTP 500");

  HealthStep disabled;
  disabled.change = HealthChange::kDisabled;
  disabled.health = failing.health;
  disabled.disabled_reason = "failing since …; last error: HTTP 502";
  auto d = health_news(failing.health, disabled, 900);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, "disabled");
  EXPECT_EQ(d->at_ms, 900);
  EXPECT_EQ(d->failing_since_ms, 100);
  EXPECT_EQ(d->reason, disabled.disabled_reason);

  HealthStep recovered;
  recovered.change = HealthChange::kRecovered;
  auto r = health_news(failing.health, recovered, 500);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "recovered");
  EXPECT_EQ(r->failing_since_ms, 100) << "since when it had failed, from the state before";
}

TEST(NotificationEmail, PlainAddressesPassAndEverythingThatWouldBreakAHeaderFails) {
  for (const char* ok : {"shop@example.com", "a.b+c@mail.example.co.uk", "ops@localhost"}) {
    EXPECT_TRUE(validate_notification_email(ok).ok()) << ok;
  }
  for (const char* bad : {"", "shop", "@example.com", "shop@", "a@b@c.com", "shop@example", "shop@.com",
                          "shop@example..com", "Shop <shop@example.com>", "a@b.com, c@d.com", "a b@c.com",
                          "a@b.com\r\nBcc: x@y.com", "\"a\"@b.com"}) {
    auto s = validate_notification_email(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, ErrorCode::kInvalid);
    }
  }
  EXPECT_FALSE(validate_notification_email(std::string(250, 'a') + "@b.com").ok()) << "over 254";
}

}  // namespace
}  // namespace growhook
