// Portal sessions' rules (api/portal.h) on the real SQLite store, with a
// fake clock: what is stored is a hash, a link signs in once and only
// before it expires, a session ends at expires_at or on sign-out, and a
// link, a session token and an API key are three credentials that never
// stand in for one another.
#include "api/portal.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "common/ids.h"
#include "store/sqlite_store.h"

namespace growhook::api {
namespace {

class PortalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("growhook-portal-" + new_id("t", clock_.now_ms()));
    auto s = open_sqlite_store(dir_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->create_account({"acc_1", "shop", clock_.now_ms()}, "keyhash-1").ok());
    ASSERT_TRUE(store_->create_account({"acc_2", "other", clock_.now_ms()}, "keyhash-2").ok());
    portal_ = std::make_unique<Portal>(*store_, clock_, "https://hooks.example.com");
  }
  void TearDown() override {
    portal_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The secret of a minted link's URL (after "#s=").
  static std::string secret_of(const PortalLink& l) { return l.url.substr(l.url.find("#s=") + 3); }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Portal> portal_;
};

TEST_F(PortalTest, TheLinkCarriesItsSecretInTheFragmentAndTheStoreOnlyItsHash) {
  auto l = portal_->mint("acc_1", {});
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_TRUE(l->url.starts_with("https://hooks.example.com/#s=ghpl_")) << l->url;
  EXPECT_EQ(l->expires_at_ms, clock_.now_ms() + kPortalDefaultTtlS * 1000);
  auto embedded = portal_->mint("acc_1", {.ttl_s = 60, .embed = true});
  ASSERT_TRUE(embedded.ok());
  EXPECT_TRUE(embedded->url.starts_with("https://hooks.example.com/?embed=1#s=ghpl_")) << embedded->url;

  const std::string secret = secret_of(*l);
  // The store knows the link by the secret's SHA-256 only: the secret
  // itself redeems nothing there.
  EXPECT_EQ(store_->redeem_portal_link(secret, "x", clock_.now_ms()).error().code, ErrorCode::kNotFound);
  auto in = portal_->redeem(secret);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_TRUE(in->token.starts_with("ghps_"));
  EXPECT_EQ(in->grant.account.id, "acc_1");
  EXPECT_TRUE(store_->portal_session_by_token(crypto::sha256_hex(in->token), clock_.now_ms()).ok());
  EXPECT_EQ(store_->portal_session_by_token(in->token, clock_.now_ms()).error().code, ErrorCode::kNotFound);
}

TEST_F(PortalTest, ALinkSignsInOnceAndOnlyBeforeItExpires) {
  auto l = portal_->mint("acc_1", {.ttl_s = 10});
  ASSERT_TRUE(l.ok());
  auto late = portal_->mint("acc_1", {.ttl_s = 10});
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(portal_->redeem(secret_of(*l)).ok());
  EXPECT_EQ(portal_->redeem(secret_of(*l)).error().code, ErrorCode::kNotFound) << "used already";
  clock_.advance_ms(10'000);
  EXPECT_EQ(portal_->redeem(secret_of(*late)).error().code, ErrorCode::kNotFound) << "expired";
  EXPECT_EQ(portal_->mint("acc_missing", {}).error().code, ErrorCode::kNotFound);
}

TEST_F(PortalTest, ASessionEndsAtItsExpiryOnSignOutOrWhenThePlatformEndsThemAll) {
  auto a = portal_->redeem(secret_of(*portal_->mint("acc_1", {.ttl_s = 60})));
  auto b = portal_->redeem(secret_of(*portal_->mint("acc_1", {.ttl_s = 600})));
  auto c = portal_->redeem(secret_of(*portal_->mint("acc_1", {.ttl_s = 600})));
  auto other = portal_->redeem(secret_of(*portal_->mint("acc_2", {.ttl_s = 600})));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && other.ok());
  clock_.advance_ms(59'999);
  EXPECT_EQ(portal_->session(a->token)->account.id, "acc_1");
  clock_.advance_ms(1);
  EXPECT_EQ(portal_->session(a->token).error().code, ErrorCode::kNotFound) << "over at expires_at";

  ASSERT_TRUE(portal_->sign_out(b->token).ok());
  EXPECT_EQ(portal_->session(b->token).error().code, ErrorCode::kNotFound);
  auto n = portal_->end_all("acc_1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1) << "c only: a had expired, b signed out";
  EXPECT_EQ(portal_->session(c->token).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(portal_->session(other->token)->account.id, "acc_2") << "another account's session stays";
}

TEST_F(PortalTest, LinksTokensAndApiKeysNeverStandInForOneAnother) {
  auto l = portal_->mint("acc_1", {});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(portal_->session(secret_of(*l)).error().code, ErrorCode::kNotFound) << "a link is not a session";
  auto in = portal_->redeem(secret_of(*l));
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(portal_->redeem(in->token).error().code, ErrorCode::kNotFound) << "a token is not a link";
  EXPECT_FALSE(Portal::is_session_token("ghk_an_api_key"));
  EXPECT_EQ(portal_->session("ghk_an_api_key").error().code, ErrorCode::kNotFound);
}

TEST(PortalRequest, TtlIsTenSecondsToADayAndUnknownFieldsAreRefused) {
  EXPECT_EQ(parse_portal_request("")->ttl_s, kPortalDefaultTtlS);
  EXPECT_EQ(parse_portal_request("{}")->ttl_s, kPortalDefaultTtlS);
  EXPECT_EQ(parse_portal_request(R"({"ttl_seconds":10})")->ttl_s, 10);
  EXPECT_EQ(parse_portal_request(R"({"ttl_seconds":86400,"embed":true})")->embed, true);
  for (const char* bad : {R"({"ttl_seconds":9})", R"({"ttl_seconds":86401})", R"({"ttl_seconds":"60"})",
                          R"({"ttl_seconds":60.5})", R"({"embed":1})", R"({"ttl":60})", "[]", "{"}) {
    auto r = parse_portal_request(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalid) << bad;
  }
}

TEST(PortalFlags, PublicUrlAndFrameAncestorsAreCheckedAndNormalised) {
  EXPECT_EQ(*parse_public_url("https://hooks.example.com/"), "https://hooks.example.com");
  EXPECT_EQ(*parse_public_url("http://127.0.0.1:8080/growhook"), "http://127.0.0.1:8080/growhook");
  for (const char* bad : {"hooks.example.com", "ftp://x", "https://", "https://a b", "https://x/#frag"})
    EXPECT_FALSE(parse_public_url(bad).ok()) << bad;
  EXPECT_EQ(*frame_ancestors_sources(""), "'none'");
  EXPECT_EQ(*frame_ancestors_sources("https://app.example.com, http://localhost:3000/"),
            "https://app.example.com http://localhost:3000");
  EXPECT_EQ(*frame_ancestors_sources("'self'"), "'self'");
  for (const char* bad : {"*", "app.example.com", "https://a.com/path", "https://a.com;script-src *", "'none' x"})
    EXPECT_FALSE(frame_ancestors_sources(bad).ok()) << bad;
}

}  // namespace
}  // namespace growhook::api
