// End-to-end: a disabled webhook keeps its place (store/backlog.h). Events
// that arrive while it is disabled (by a 410, or by its owner) are sent
// when it is enabled again, unless {"resume": "now"} skips them; recover
// sends events since a time again. Loopback only; arrival and states are
// asserted, never durations.
#include <gtest/gtest.h>

#include <map>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

// How many times each event id reached the receiver.
std::map<std::string, int> arrivals(const std::vector<ReceivedRequest>& requests) {
  std::map<std::string, int> n;
  for (const auto& r : requests) {
    const json body = json::parse(r.body);  // kept: the loop must not run over a dead temporary
    for (const auto& e : body["events"]) n[e["id"].get<std::string>()]++;
  }
  return n;
}
std::map<std::string, int> arrivals(const Receiver& rx) { return arrivals(rx.requests()); }

void ingest(Server& s, const std::string& account, int msisdn, const std::string& id) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", event_body(msisdn, id));
  if (r.status != 202) throw std::runtime_error("ingest: " + r.body);
}

TEST(Backlog, EventsThatArriveWhileA410DisabledItAreSentWhenItIsEnabledAgain) {
  Server server;
  Receiver rx;
  rx.set_status(410);
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url());
  ingest(server, account, 1, "gone-1");
  json w;
  ASSERT_TRUE(eventually([&] {
    w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
    return w["enabled"] == false;
  })) << w.dump();
  EXPECT_NE(w["disabled_reason"].get<std::string>().find("410"), std::string::npos) << w.dump();

  ingest(server, account, 2, "while-1");
  ingest(server, account, 3, "while-2");
  ASSERT_TRUE(eventually([&] {
    return server.account(key, "GET", "/v1/webhooks/" + hook.id).json()["stats"]["events_waiting"] == 2;
  })) << server.account(key, "GET", "/v1/webhooks/" + hook.id).body;

  rx.set_status(200);
  auto on = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/enable");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json()["enabled"], true);
  EXPECT_FALSE(on.json().contains("disabled_reason"));
  ASSERT_TRUE(rx.wait_for([&](const auto& got) { return arrivals(got)["while-2"] == 1; })) << rx.count();
  EXPECT_EQ(arrivals(rx)["while-1"], 1);
  ASSERT_TRUE(eventually([&] {
    return server.account(key, "GET", "/v1/webhooks/" + hook.id).json()["stats"]["events_waiting"] == 0;
  }));
}

TEST(Backlog, PatchEnabledResumesAndResumeNowSkipsWhatArrivedWhileDisabled) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url());
  const std::string path = "/v1/webhooks/" + hook.id;

  ASSERT_EQ(server.account(key, "PATCH", path, R"({"enabled":false})").status, 200);
  ingest(server, account, 1, "kept");
  ASSERT_EQ(server.account(key, "PATCH", path, R"({"enabled":true})").status, 200);
  ASSERT_TRUE(rx.wait_for([&](const auto& got) { return arrivals(got)["kept"] == 1; }));

  ASSERT_EQ(server.account(key, "POST", path + "/disable").status, 200);
  ingest(server, account, 2, "skipped-1");
  ingest(server, account, 3, "skipped-2");
  auto bad = server.account(key, "POST", path + "/enable", R"({"resume":"later"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("resume"), std::string::npos) << bad.body;
  EXPECT_EQ(server.account(key, "GET", path).json()["enabled"], false) << "nothing changed by a bad request";
  auto on = server.account(key, "POST", path + "/enable", R"({"resume":"now"})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json()["events_skipped"], 2);
  ingest(server, account, 4, "after");
  ASSERT_TRUE(rx.wait_for([&](const auto& got) { return arrivals(got)["after"] == 1; }));
  // Cut in log order: had the skipped ones been sent, they were sent first.
  EXPECT_EQ(arrivals(rx).count("skipped-1"), 0u);
  EXPECT_EQ(arrivals(rx).count("skipped-2"), 0u);
}

TEST(Backlog, RecoverSendsEveryEventSinceATimeAgainWithTheSameIds) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url());
  const std::string path = "/v1/webhooks/" + hook.id + "/recover";
  ingest(server, account, 1, "r-1");
  ingest(server, account, 2, "r-2");
  ASSERT_TRUE(rx.wait_for([&](const auto& got) { return arrivals(got)["r-2"] == 1 && arrivals(got)["r-1"] == 1; }))
      << rx.count();

  for (const char* body : {R"({})", R"({"since":"yesterday"})", R"({"since":"2999-01-01T00:00:00Z"})",
                           R"({"since":"2020-01-01T00:00:00Z","extra":1})"}) {
    auto r = server.account(key, "POST", path, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find(std::string(body) == R"({"since":"2020-01-01T00:00:00Z","extra":1})" ? "extra" : "since"),
              std::string::npos)
        << r.body;
  }
  auto r = server.account(key, "POST", path, R"({"since":"2020-01-01T00:00:00Z"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["events"], 2);
  EXPECT_EQ(r.json()["complete"], true);
  ASSERT_TRUE(rx.wait_for([&](const auto& got) { return arrivals(got)["r-1"] == 2 && arrivals(got)["r-2"] == 2; }))
      << rx.count();
  EXPECT_EQ(server.account(key, "POST", "/v1/webhooks/wh_missing/recover", R"({"since":"2020-01-01T00:00:00Z"})")
                .status,
            404);
}

}  // namespace
}  // namespace e2e
