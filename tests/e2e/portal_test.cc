// Portal sessions end to end (docs/embedding.md), on the real binary: the
// platform mints a link, the page redeems it for a session token, the
// token opens its account's routes and nothing else, and it stops working
// when it expires, when the platform ends the account's sessions, or on
// sign-out. --public-url and --frame-ancestors shape the link and the CSP.
#include <gtest/gtest.h>

#include <thread>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

// The one-time secret of a portal URL (after "#s=").
std::string secret_of(const std::string& url) {
  auto at = url.find("#s=");
  return at == std::string::npos ? "" : url.substr(at + 3);
}

std::string mint(Server& s, const std::string& account_id, const std::string& body = "{}") {
  auto r = s.platform("POST", "/v1/accounts/" + account_id + "/portal-sessions", body);
  if (r.status != 201) throw std::runtime_error("mint: " + std::to_string(r.status) + " " + r.body);
  return r.json()["url"];
}

HttpResult redeem(Server& s, const std::string& url) {
  return http("POST", s.base() + "/v1/portal-session", json({{"secret", secret_of(url)}}).dump());
}

std::string sign_in(Server& s, const std::string& account_id, const std::string& body = "{}") {
  auto r = redeem(s, mint(s, account_id, body));
  if (r.status != 201) throw std::runtime_error("redeem: " + std::to_string(r.status) + " " + r.body);
  return r.json()["token"];
}

TEST(Portal, ALinkSignsInOnceAsItsAccountAndOpensNothingElse) {
  Server server;
  auto [a_id, a_key] = server.create_account("A");
  auto [b_id, b_key] = server.create_account("B");
  const std::string hook = R"({"name":"crm","url":"https://example.com/hook"})";
  ASSERT_EQ(server.account(a_key, "POST", "/v1/webhooks", hook).status, 201);
  auto b_hook = server.account(b_key, "POST", "/v1/webhooks", hook).json();

  auto minted = server.platform("POST", "/v1/accounts/" + a_id + "/portal-sessions", "");
  ASSERT_EQ(minted.status, 201) << minted.body;
  const std::string url = minted.json()["url"];
  EXPECT_TRUE(url.starts_with(server.base() + "/#s=ghpl_")) << url << " (default --public-url: the listen address)";
  EXPECT_EQ(minted.json()["expires_at"].get<std::string>().size(), 24u) << minted.body;
  EXPECT_EQ(minted.headers["cache-control"], "no-store");

  auto in = redeem(server, url);
  ASSERT_EQ(in.status, 201) << in.body;
  const std::string token = in.json()["token"];
  EXPECT_EQ(in.json()["account"]["id"], a_id);
  EXPECT_EQ(in.json()["expires_at"], minted.json()["expires_at"]);
  EXPECT_EQ(redeem(server, url).status, 401) << "a link signs in once";

  EXPECT_EQ(server.account(token, "GET", "/v1/account").json()["id"], a_id);
  auto list = server.account(token, "GET", "/v1/webhooks").json();
  ASSERT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(server.account(token, "GET", "/v1/webhooks/" + b_hook["id"].get<std::string>()).status, 404);
  EXPECT_EQ(server.account(token, "POST", "/v1/webhooks", hook).status, 201) << "what the page does";
  // No administration, no minting, no other account's ingestion.
  EXPECT_EQ(server.account(token, "POST", "/v1/accounts/" + a_id + "/portal-sessions", "{}").status, 401);
  EXPECT_EQ(server.account(token, "POST", "/v1/accounts", R"({"name":"C"})").status, 401);
  EXPECT_EQ(server.account(token, "DELETE", "/v1/accounts/" + a_id + "/portal-sessions").status, 401);
}

TEST(Portal, AnApiKeyCannotMintAndBadRequestsSayWhatToFix) {
  Server server;
  auto [a_id, a_key] = server.create_account("A");
  EXPECT_EQ(server.account(a_key, "POST", "/v1/accounts/" + a_id + "/portal-sessions", "{}").status, 401);
  EXPECT_EQ(server.platform("POST", "/v1/accounts/acc_missing/portal-sessions", "{}").status, 404);
  auto short_ttl = server.platform("POST", "/v1/accounts/" + a_id + "/portal-sessions", R"({"ttl_seconds":5})");
  EXPECT_EQ(short_ttl.status, 400);
  EXPECT_NE(short_ttl.json()["detail"].get<std::string>().find("10 to 86400"), std::string::npos) << short_ttl.body;
  EXPECT_EQ(http("POST", server.base() + "/v1/portal-session", R"({"secret":"ghpl_nope"})").status, 401);
  EXPECT_EQ(http("POST", server.base() + "/v1/portal-session", "{}").status, 400);
  EXPECT_EQ(http("POST", server.base() + "/v1/portal-session", json({{"secret", a_key}}).dump()).status, 401)
      << "an API key is not a link";
  EXPECT_EQ(http("DELETE", server.base() + "/v1/portal-session", "", a_key).status, 401);
}

TEST(Portal, SessionsEndOnSignOutAndWhenThePlatformEndsThemAll) {
  Server server;
  auto [a_id, a_key] = server.create_account("A");
  auto [b_id, b_key] = server.create_account("B");
  std::string one = sign_in(server, a_id), two = sign_in(server, a_id), other = sign_in(server, b_id);
  const std::string unused = mint(server, a_id);

  EXPECT_EQ(http("DELETE", server.base() + "/v1/portal-session", "", one).status, 204);
  EXPECT_EQ(server.account(one, "GET", "/v1/account").status, 401);
  EXPECT_EQ(server.account(two, "GET", "/v1/account").status, 200) << "only that session ended";

  auto ended = server.platform("DELETE", "/v1/accounts/" + a_id + "/portal-sessions");
  ASSERT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(ended.json()["ended"], 2) << "two, and the link not used yet";
  EXPECT_EQ(server.account(two, "GET", "/v1/account").status, 401);
  EXPECT_EQ(redeem(server, unused).status, 401);
  EXPECT_EQ(server.account(other, "GET", "/v1/account").json()["id"], b_id) << "another account's stays";
  EXPECT_EQ(server.account(a_key, "GET", "/v1/account").status, 200) << "the API key is not a session";
}

TEST(Portal, ASessionAndALinkStopWorkingWhenTheyExpire) {
  Server server;
  auto [a_id, a_key] = server.create_account("A");
  // The link first: it then ends no later than the session, so once the
  // session is refused the link is past its end too (however slowly the
  // two were minted on a loaded machine).
  std::string link = mint(server, a_id, R"({"ttl_seconds":10})");
  std::string token = sign_in(server, a_id, R"({"ttl_seconds":10})");
  EXPECT_EQ(server.account(token, "GET", "/v1/account").status, 200);
  // Wait for the expiry (10 s), generously.
  int status = 200;
  for (int i = 0; i < 120 && status == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    status = server.account(token, "GET", "/v1/account").status;
  }
  EXPECT_EQ(status, 401);
  EXPECT_EQ(redeem(server, link).status, 401);
}

TEST(Portal, PublicUrlIsTheBaseOfLinksAndFrameAncestorsThePagesCsp) {
  Server server({"--public-url", "https://hooks.example.com/growhook/", "--frame-ancestors",
                 "http://localhost:3000, https://app.example.com"});
  auto [a_id, a_key] = server.create_account("A");
  std::string url = mint(server, a_id, R"({"embed":true})");
  EXPECT_TRUE(url.starts_with("https://hooks.example.com/growhook/?embed=1#s=ghpl_")) << url;
  auto page = http("GET", server.base() + "/");
  EXPECT_NE(page.headers["content-security-policy"].find(
                "frame-ancestors http://localhost:3000 https://app.example.com"),
            std::string::npos)
      << page.headers["content-security-policy"];
  Server plain;
  EXPECT_NE(http("GET", plain.base() + "/").headers["content-security-policy"].find("frame-ancestors 'none'"),
            std::string::npos);

  auto bad = run_command({GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--frame-ancestors", "*"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--frame-ancestors"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace e2e
