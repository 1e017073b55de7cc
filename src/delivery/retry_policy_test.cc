#include "delivery/retry_policy.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

TransportResult http_status(int code, std::string retry_after = "") {
  TransportResult r;
  r.status_code = code;
  r.retry_after = std::move(retry_after);
  return r;
}

TransportResult transport_error(TransportErrorKind k) {
  TransportResult r;
  r.error_kind = k;
  r.error = "boom";
  return r;
}

// The decision's parts, or a value no decision has.
int64_t retry_at(const Decision& d) { return std::holds_alternative<Retry>(d) ? std::get<Retry>(d).at_ms : -1; }
std::string reason(const Decision& d) {
  if (const auto* r = std::get_if<Retry>(&d)) return r->reason;
  if (const auto* f = std::get_if<Failed>(&d)) return f->reason;
  return "";
}

const auto kMiddle = [] { return 0.5; };  // no jitter: scale 1.0
const auto kLow = [] { return 0.0; };     // scale 1 - jitter
const auto kHigh = [] { return 0.999999; };

TEST(RetryPolicy, AnyTwoHundredIsDelivered) {
  RetryConfig c;
  for (int code : {200, 201, 202, 204, 299}) {
    EXPECT_TRUE(std::holds_alternative<Delivered>(decide(http_status(code), 1, 0, c, kMiddle))) << code;
  }
}

TEST(RetryPolicy, WalksTheDefaultScheduleThenFails) {
  RetryConfig c;
  int64_t now = 1'000'000;
  auto d1 = decide(http_status(500), 1, now, c, kMiddle);
  EXPECT_TRUE(std::holds_alternative<Retry>(d1));
  EXPECT_EQ(retry_at(d1), now + 10'000);
  auto d2 = decide(http_status(500), 2, now, c, kMiddle);
  EXPECT_EQ(retry_at(d2), now + 60'000);
  auto d3 = decide(http_status(500), 3, now, c, kMiddle);
  EXPECT_EQ(retry_at(d3), now + 300'000);
  auto d4 = decide(http_status(500), 4, now, c, kMiddle);
  EXPECT_TRUE(std::holds_alternative<Failed>(d4));
  EXPECT_NE(reason(d4).find("all 4 attempts failed"), std::string::npos);
  EXPECT_NE(reason(d4).find("HTTP 500"), std::string::npos);
}

TEST(RetryPolicy, JitterStaysWithinItsBand) {
  RetryConfig c;
  EXPECT_EQ(retry_at(decide(http_status(500), 1, 0, c, kLow)), 8'000);
  EXPECT_NEAR(static_cast<double>(retry_at(decide(http_status(500), 1, 0, c, kHigh))), 12'000, 1);
}

TEST(RetryPolicy, EveryFailureKindIsRetried) {
  RetryConfig c;
  for (auto k : {TransportErrorKind::kTimeout, TransportErrorKind::kRefused, TransportErrorKind::kReset,
                 TransportErrorKind::kTls, TransportErrorKind::kDns, TransportErrorKind::kProtocol,
                 TransportErrorKind::kBlockedAddress}) {
    EXPECT_TRUE(std::holds_alternative<Retry>(decide(transport_error(k), 1, 0, c, kMiddle)));
  }
  for (int code : {301, 302, 400, 404, 429, 500, 502, 503}) {
    EXPECT_TRUE(std::holds_alternative<Retry>(decide(http_status(code), 1, 0, c, kMiddle))) << code;
  }
  EXPECT_NE(reason(decide(http_status(302), 4, 0, c, kMiddle)).find("redirects are not followed"), std::string::npos);
}

TEST(RetryPolicy, GoneFailsAtOnceAndDisables) {
  RetryConfig c;
  auto d = decide(http_status(410), 1, 0, c, kMiddle);
  EXPECT_TRUE(std::holds_alternative<Failed>(d));
  EXPECT_TRUE(std::get<Failed>(d).disable_webhook);
}

TEST(RetryPolicy, SuccessIsATwoHundredAnswer) {
  EXPECT_TRUE(is_success(http_status(200)));
  EXPECT_TRUE(is_success(http_status(299)));
  EXPECT_FALSE(is_success(http_status(199)));
  EXPECT_FALSE(is_success(http_status(300)));
  TransportResult late = transport_error(TransportErrorKind::kTimeout);
  late.status_code = 200;  // the status came, then the body timed out
  EXPECT_FALSE(is_success(late));
}

TEST(RetryPolicy, ADecisionBecomesTheBatchsNextState) {
  AttemptOutcome delivered;
  apply_decision(Delivered{}, 0, delivered);
  EXPECT_EQ(delivered.new_state, BatchState::kDelivered);
  EXPECT_FALSE(delivered.next_attempt_at_ms.has_value());
  AttemptOutcome retry;
  apply_decision(Retry{5'000, "HTTP 500"}, 0, retry);
  EXPECT_EQ(retry.new_state, BatchState::kPending);
  EXPECT_EQ(retry.next_attempt_at_ms, 5'000);
  AttemptOutcome failed;
  apply_decision(Failed{"all 4 attempts failed"}, 0, failed);
  EXPECT_EQ(failed.new_state, BatchState::kFailed);
  EXPECT_TRUE(failed.disabled_reason.empty());
  AttemptOutcome gone;
  apply_decision(Failed{"the endpoint answered 410 Gone", true}, 1'700'000'000'000, gone);
  EXPECT_EQ(gone.new_state, BatchState::kFailed);
  EXPECT_EQ(gone.disabled_reason, "disabled at 2023-11-14T22:13:20.000Z: the endpoint answered 410 Gone");
}

TEST(RetryPolicy, RetryAfterOverridesTheDelayWithinTheCap) {
  RetryConfig c;
  c.retry_after_cap_ms = 120'000;
  EXPECT_EQ(retry_at(decide(http_status(429, "3"), 1, 0, c, kMiddle)), 3'000);
  EXPECT_EQ(retry_at(decide(http_status(503, "7200"), 1, 0, c, kMiddle)), 120'000);
  // Only on 429 and 503.
  EXPECT_EQ(retry_at(decide(http_status(500, "3"), 1, 0, c, kMiddle)), 10'000);
  // Garbage is ignored.
  EXPECT_EQ(retry_at(decide(http_status(429, "soon"), 1, 0, c, kMiddle)), 10'000);
  // Still bounded by the number of retries.
  EXPECT_TRUE(std::holds_alternative<Failed>(decide(http_status(429, "1"), 4, 0, c, kMiddle)));
}

TEST(RetryPolicy, RetryAfterAsAnHttpDate) {
  // 2015-10-21T07:28:00Z = 1445412480 s.
  int64_t now = 1'445'412'480'000 - 5'000;
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 5'000);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 60'000), 0);
  EXPECT_FALSE(parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", now));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-1", now));
}

TEST(RetryPolicy, ConfiguredDelaysSetTheNumberOfRetries) {
  auto d = parse_delays("1s, 2m,3h");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (std::vector<int64_t>{1'000, 120'000, 10'800'000}));
  RetryConfig c;
  c.delays_ms = *d;
  c.jitter = 0;
  EXPECT_EQ(retry_at(decide(http_status(500), 3, 0, c, kMiddle)), 10'800'000);
  EXPECT_TRUE(std::holds_alternative<Failed>(decide(http_status(500), 4, 0, c, kMiddle)));
  c.delays_ms = {};
  EXPECT_TRUE(std::holds_alternative<Failed>(decide(http_status(500), 1, 0, c, kMiddle)));
}

TEST(RetryPolicy, BadDelaysSayWhatToWrite) {
  auto bad = parse_delays("10s,soon");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'soon'"), std::string::npos);
  EXPECT_FALSE(parse_delays("10x").ok());
  EXPECT_TRUE(parse_delays("").ok());
  EXPECT_EQ(*parse_duration_ms("7d"), 7 * 86'400'000LL);
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
}

}  // namespace
}  // namespace growhook
