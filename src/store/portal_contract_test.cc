// The contract of PortalSessions (portal_sessions.h): links redeemed once,
// sessions found by their token's hash while live, ended one by one or all
// of an account's at once, pruned once over. Run on both stores
// (contract_test_support.h).
#include <gtest/gtest.h>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class PortalContract : public StoreContractTest {
 protected:
  PortalSession mint(const Account& a, const std::string& link, int64_t ttl_ms = 60'000) {
    PortalSession s{new_id("ps", T), a.id, link, T, T + ttl_ms};
    auto ok = st().create_portal_session(s);
    EXPECT_TRUE(ok.ok()) << ok.error().message;
    return s;
  }
};
GH_STORE_CONTRACT(PortalContract);

TEST_P(PortalContract, ALinkSignsInOnceAndItsSessionOpensItsAccountUntilItExpires) {
  Account a = add_account(st());
  PortalSession s = mint(a, "link-1");
  auto g = st().redeem_portal_link("link-1", "token-1", T + 1);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->account.id, a.id);
  EXPECT_EQ(g->account.name, "shop");
  EXPECT_EQ(g->session_id, s.id);
  EXPECT_EQ(g->expires_at_ms, s.expires_at_ms);
  EXPECT_EQ(st().redeem_portal_link("link-1", "token-2", T + 2).error().code, ErrorCode::kNotFound)
      << "a link signs in once";
  EXPECT_EQ(st().portal_session_by_token("token-2", T + 2).error().code, ErrorCode::kNotFound);
  auto live = st().portal_session_by_token("token-1", s.expires_at_ms - 1);
  ASSERT_TRUE(live.ok()) << live.error().message;
  EXPECT_EQ(live->account.id, a.id);
  EXPECT_EQ(st().portal_session_by_token("token-1", s.expires_at_ms).error().code, ErrorCode::kNotFound)
      << "over at expires_at";
}

TEST_P(PortalContract, AnExpiredLinkOrAnUnknownAccountSignsNobodyIn) {
  Account a = add_account(st());
  mint(a, "link-old", 10'000);
  EXPECT_EQ(st().redeem_portal_link("link-old", "token-1", T + 10'000).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().redeem_portal_link("nope", "token-1", T).error().code, ErrorCode::kNotFound);
  PortalSession ghost{new_id("ps", T), "acc_missing", "link-ghost", T, T + 60'000};
  EXPECT_EQ(st().create_portal_session(ghost).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().create_portal_session(PortalSession{new_id("ps", T), a.id, "link-old", T, T + 1}).error().code,
            ErrorCode::kConflict);
}

TEST_P(PortalContract, SessionsEndOneByOneOrAllOfAnAccount) {
  Account a = add_account(st()), other = add_account(st());
  mint(a, "a-1");
  mint(a, "a-2");
  mint(a, "a-3", 5);  // over by T + 5
  mint(other, "o-1");
  ASSERT_TRUE(st().redeem_portal_link("a-1", "ta-1", T).ok());
  ASSERT_TRUE(st().redeem_portal_link("o-1", "to-1", T).ok());

  EXPECT_TRUE(st().end_portal_session("ta-1", T + 10).ok());
  EXPECT_EQ(st().portal_session_by_token("ta-1", T + 10).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().end_portal_session("ta-1", T + 10).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(st().redeem_portal_link("a-2", "ta-2", T + 10).ok());
  auto n = st().end_portal_sessions(a.id, T + 10);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1) << "a-2 was live; a-3 had expired";
  EXPECT_EQ(st().portal_session_by_token("ta-2", T + 10).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(st().portal_session_by_token("to-1", T + 10).ok()) << "another account's sessions stay";
}

TEST_P(PortalContract, RetentionDeletesOnlySessionsThatEnded) {
  Account a = add_account(st());
  mint(a, "short", 5);
  mint(a, "long", 60'000);
  auto n = st().prune_portal_sessions(T + 10, 100);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(st().redeem_portal_link("long", "t", T + 10).ok());
  EXPECT_EQ(*st().prune_portal_sessions(T + 10, 100), 0);
}

}  // namespace
}  // namespace growhook::store_test
