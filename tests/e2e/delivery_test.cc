// End-to-end: delivery to real loopback receivers.
#include <gtest/gtest.h>

#include <set>

#include "domain/signature.h"
#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

struct Hook {
  std::string id;
  std::string secret;
};

Hook create_hook(Server& s, const std::string& key, const std::string& url, json extra = json::object()) {
  json body = {{"name", "receiver"}, {"url", url}};
  body.update(extra);
  auto r = s.account(key, "POST", "/v1/webhooks", body.dump());
  if (r.status != 201) throw std::runtime_error("create webhook: " + r.body);
  return {r.json()["id"], r.json()["secret"]};
}

void ingest(Server& s, const std::string& account, const std::string& body) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", body);
  if (r.status != 202) throw std::runtime_error("ingest: " + std::to_string(r.status) + " " + r.body);
}

std::set<std::string> event_ids(const std::vector<ReceivedRequest>& reqs) {
  std::set<std::string> ids;
  for (const auto& r : reqs) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) continue;
    for (const auto& e : j["events"]) ids.insert(e["id"].get<std::string>());
  }
  return ids;
}

json batches(Server& s, const std::string& key, const std::string& hook, const std::string& state = "") {
  return s.account(key, "GET", "/v1/webhooks/" + hook + "/batches" + (state.empty() ? "" : "?state=" + state)).json();
}

TEST(Delivery, SignedMessagesWithTheContractsBodyAndHeaders) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url(), {{"auth", {{"type", "header"}, {"name", "X-Api-Key"}, {"value", "k1"}}}});
  ingest(server, account, event_body(5599999999999, "e-1"));
  ASSERT_TRUE(rx.wait_for([](auto& r) { return r.size() >= 1; }));
  auto req = rx.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.headers["content-type"], "application/json");
  EXPECT_EQ(req.headers["x-api-key"], "k1");
  EXPECT_EQ(req.headers["user-agent"].rfind("growhook/", 0), 0u);
  int64_t ts = std::stoll(req.headers["webhook-timestamp"]);
  EXPECT_TRUE(growhook::verify_signature(hook.secret, req.headers["webhook-id"], ts, req.body,
                                         req.headers["webhook-signature"], ts));
  auto body = json::parse(req.body);
  EXPECT_EQ(body["batch_id"], req.headers["webhook-id"]);
  EXPECT_EQ(body["webhook_id"], hook.id);
  EXPECT_EQ(body["account_id"], account);
  EXPECT_EQ(body["test"], false);
  ASSERT_EQ(body["events"].size(), 1u);
  auto e = body["events"][0];
  EXPECT_EQ(e["id"], "e-1");
  EXPECT_EQ(e["type"], "contact.subscribed");
  EXPECT_EQ(e["data"].size(), 20u);  // every key, null when absent
  EXPECT_EQ(e["data"]["msisdn"], 5599999999999);
  EXPECT_TRUE(e["data"]["ecom_email"].is_null());
  // The batch shows up as delivered with its attempt.
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "delivered")["data"].size() == 1; }));
  auto b = batches(server, key, hook.id, "delivered")["data"][0];
  EXPECT_EQ(b["attempts"].size(), 1u);
  EXPECT_EQ(b["attempts"][0]["status_code"], 200);
}

TEST(Delivery, EveryEnabledSubscribedWebhookGetsTheEvent) {
  Server server;
  Receiver rx_a, rx_b, rx_c;
  auto [account, key] = server.create_account();
  create_hook(server, key, rx_a.url());
  create_hook(server, key, rx_b.url(), {{"event_types", {"contact.unsubscribed"}}});
  auto c = create_hook(server, key, rx_c.url());
  ASSERT_EQ(server.account(key, "POST", "/v1/webhooks/" + c.id + "/disable").status, 200);
  ingest(server, account, event_body(1, "sub-1", "contact.subscribed"));
  ingest(server, account, event_body(2, "unsub-1", "contact.unsubscribed"));
  ASSERT_TRUE(rx_a.wait_for([](auto& r) { return event_ids(r).size() == 2; }));
  ASSERT_TRUE(rx_b.wait_for([](auto& r) { return event_ids(r).size() == 1; }));
  EXPECT_EQ(event_ids(rx_b.requests()), std::set<std::string>{"unsub-1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rx_c.count(), 0u);
}

TEST(Delivery, ABurstGoesOutInFullBatchesAndBatchSizeOneGivesOneEventAPost) {
  Server server;
  Receiver big, single;
  auto [account, key] = server.create_account();
  // Let events pile up while the receivers refuse nothing yet: create the
  // hooks disabled-free but post the burst in one request.
  create_hook(server, key, big.url(), {{"batch_max_events", 50}});
  create_hook(server, key, single.url(), {{"batch_max_events", 1}});
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 200; ++i) bulk["events"].push_back(json::parse(event_body(1000 + i)));
  ingest(server, account, bulk.dump());
  ASSERT_TRUE(big.wait_for([](auto& r) { return event_ids(r).size() == 200; }));
  ASSERT_TRUE(single.wait_for([](auto& r) { return event_ids(r).size() == 200; }));
  for (const auto& r : single.requests()) EXPECT_EQ(json::parse(r.body)["events"].size(), 1u);
  size_t max_batch = 0;
  for (const auto& r : big.requests()) max_batch = std::max(max_batch, json::parse(r.body)["events"].size());
  EXPECT_EQ(max_batch, 50u);
  EXPECT_LE(big.count(), 8u);  // 200 events in batches of up to 50, never one a POST
}

TEST(Delivery, BatchMaxBytesCapsTheEventsArrayOfAPost) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  create_hook(server, key, rx.url(), {{"batch_max_events", 1000}, {"batch_max_bytes", 2048}});
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 100; ++i) bulk["events"].push_back(json::parse(event_body(1000 + i)));
  ingest(server, account, bulk.dump());
  ASSERT_TRUE(rx.wait_for([](auto& r) { return event_ids(r).size() == 100; }));
  size_t most = 0;
  for (const auto& r : rx.requests()) {
    // The body ends with "events":[...]}: the array as sent.
    size_t at = r.body.rfind("\"events\":");
    ASSERT_NE(at, std::string::npos) << r.body;
    size_t bytes = r.body.size() - (at + 9) - 1;
    size_t n = json::parse(r.body)["events"].size();
    if (n > 1) {
      EXPECT_LE(bytes, 2048u) << r.body;
    }
    most = std::max(most, n);
  }
  // Events of about 600 bytes: 3 a POST, not 100 in one.
  EXPECT_GT(most, 1u);
  EXPECT_LE(most, 3u);
}

TEST(Delivery, AQuietStreamGetsOneEventAPost) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  create_hook(server, key, rx.url());
  for (int i = 0; i < 5; ++i) {
    ingest(server, account, event_body(i + 1));
    ASSERT_TRUE(rx.wait_for([i](auto& r) { return r.size() == static_cast<size_t>(i + 1); }));
  }
  for (const auto& r : rx.requests()) EXPECT_EQ(json::parse(r.body)["events"].size(), 1u);
}

TEST(Delivery, FourAttemptsThenFailedThenARetryDelivers) {
  Server server;
  Receiver rx;
  rx.set_status(500);
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  ingest(server, account, event_body(1, "e-500"));
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "failed")["data"].size() == 1; }));
  EXPECT_EQ(rx.count(), 4u);
  auto b = batches(server, key, hook.id, "failed")["data"][0];
  EXPECT_EQ(b["attempts"].size(), 4u);
  EXPECT_EQ(b["attempts"][3]["status_code"], 500);
  EXPECT_EQ(b["attempts"][3]["response_body"], "ok");
  auto ids = rx.requests();
  for (const auto& r : ids) EXPECT_EQ(r.headers.at("webhook-id"), b["id"]);  // stable across retries
  auto w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_EQ(w["stats"]["failed_batches"], 1);

  rx.set_status(200);
  auto retry = server.account(key, "POST", "/v1/batches/" + b["id"].get<std::string>() + "/retry");
  ASSERT_EQ(retry.status, 202) << retry.body;
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "delivered")["data"].size() == 1; }));
  EXPECT_EQ(rx.count(), 5u);
  EXPECT_EQ(event_ids(rx.requests()), std::set<std::string>{"e-500"});
  auto detail = server.account(key, "GET", "/v1/batches/" + b["id"].get<std::string>()).json();
  EXPECT_EQ(detail["state"], "delivered");
  EXPECT_EQ(detail["attempts"].size(), 5u);
  EXPECT_EQ(detail["events"][0]["id"], "e-500");
}

TEST(Delivery, RetryAllFailed) {
  Server server;
  Receiver rx;
  rx.set_status(503);
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url(), {{"batch_max_events", 1}});
  for (int i = 0; i < 3; ++i) ingest(server, account, event_body(i + 1));
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "failed")["data"].size() == 3; }));
  rx.set_status(204);
  auto r = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/retry-failed");
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(r.json()["retried"], 3);
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "delivered")["data"].size() == 3; }));
}

TEST(Delivery, GoneDisablesTheWebhookWithAReason) {
  Server server;
  Receiver rx;
  rx.set_status(410);
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  ingest(server, account, event_body(1));
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "failed")["data"].size() == 1; }));
  EXPECT_EQ(rx.count(), 1u);  // no retry after 410
  auto w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_EQ(w["enabled"], false);
  EXPECT_NE(w["disabled_reason"].get<std::string>().find("410"), std::string::npos);
}

TEST(Delivery, RetryAfterIsHonoured) {
  Server server({"--retry-delays", "30s,30s,30s"});
  Receiver rx;
  std::atomic<int> calls{0};
  rx.set_handler([&](const ReceivedRequest&) {
    Reply r;
    if (calls++ == 0) {
      r.status = 429;
      r.headers.push_back({"Retry-After", "1"});
    }
    return r;
  });
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  ingest(server, account, event_body(1));
  // The configured delay is 30 s; Retry-After: 1 brings the retry to ~1 s.
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "delivered")["data"].size() == 1; },
                         std::chrono::seconds(15)));
  EXPECT_EQ(rx.count(), 2u);
}

TEST(Delivery, ARedirectIsAFailure) {
  Server server({"--retry-delays", "0"});
  Receiver rx;
  rx.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.status = 302;
    r.headers.push_back({"Location", "/elsewhere"});
    return r;
  });
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  ingest(server, account, event_body(1));
  ASSERT_TRUE(eventually([&] { return batches(server, key, hook.id, "failed")["data"].size() == 1; }));
  EXPECT_EQ(rx.count(), 2u);  // one retry ("0"), and never the redirect's target
  for (const auto& r : rx.requests()) EXPECT_EQ(r.target, "/hook");
  auto a = batches(server, key, hook.id, "failed")["data"][0]["attempts"][0];
  EXPECT_EQ(a["status_code"], 302);
  EXPECT_NE(a["error"].get<std::string>().find("redirects are not followed"), std::string::npos);
}

TEST(Delivery, RefusedConnectionAndTimeoutFailTheAttempt) {
  Server server({"--retry-delays", "100ms", "--request-timeout", "300ms"});
  Receiver hanging;
  hanging.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.hang = true;
    return r;
  });
  auto [account, key] = server.create_account();
  RefusingPort closed;
  auto refused = create_hook(server, key, closed.url());
  auto slow = create_hook(server, key, hanging.url());
  ingest(server, account, event_body(1));
  ASSERT_TRUE(eventually([&] {
    return batches(server, key, refused.id, "failed")["data"].size() == 1 &&
           batches(server, key, slow.id, "failed")["data"].size() == 1;
  }));
  auto a = batches(server, key, refused.id, "failed")["data"][0]["attempts"];
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(a[0]["status_code"].is_null());
  EXPECT_FALSE(a[0]["error"].get<std::string>().empty());
  auto t = batches(server, key, slow.id, "failed")["data"][0]["attempts"];
  EXPECT_EQ(t.size(), 2u);
  EXPECT_NE(t[0]["error"].get<std::string>().find("timed out"), std::string::npos) << t.dump();
}

TEST(Delivery, AHangingEndpointDoesNotDelayAHealthyOne) {
  Server server({"--retry-delays", "10s", "--request-timeout", "30s"});
  Receiver hanging, healthy;
  hanging.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.hang = true;
    return r;
  });
  auto [account, key] = server.create_account();
  create_hook(server, key, hanging.url(), {{"batch_max_events", 1}});
  create_hook(server, key, healthy.url(), {{"batch_max_events", 1}});
  for (int i = 0; i < 20; ++i) ingest(server, account, event_body(i + 1));
  // All 20 reach the healthy receiver while the other holds its requests.
  ASSERT_TRUE(healthy.wait_for([](auto& r) { return event_ids(r).size() == 20; }, std::chrono::seconds(10)));
  EXPECT_LE(hanging.count(), 4u);  // the per-webhook bound on requests in flight
}

TEST(Delivery, TestConnectionSuccessAndError) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  auto ok = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test",
                           R"({"data":{"msisdn":5511988887777,"ecom_email":"a@b.c"}})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["ok"], true);
  EXPECT_EQ(ok.json()["status_code"], 200);
  auto req = rx.requests().back();
  auto body = json::parse(req.body);
  EXPECT_EQ(body["test"], true);
  EXPECT_EQ(body["events"][0]["data"]["msisdn"], 5511988887777);
  int64_t ts = std::stoll(req.headers["webhook-timestamp"]);
  EXPECT_TRUE(growhook::verify_signature(hook.secret, req.headers["webhook-id"], ts, req.body,
                                         req.headers["webhook-signature"], ts));

  rx.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.status = 500;
    r.body = "database down";
    return r;
  });
  auto bad = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", "{}").json();
  EXPECT_EQ(bad["ok"], false);
  EXPECT_EQ(bad["status_code"], 500);
  EXPECT_EQ(bad["response_body"], "database down");
  EXPECT_EQ(rx.count(), 2u);  // not retried
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(rx.count(), 2u);

  auto invalid = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", R"({"data":{"msisdn":"x"}})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.json()["errors"][0]["field"], "data.msisdn");
}

// The data a caller sends is applied over the sample: the keys given
// replace the sample's (null clears one), the others keep their sample
// values. (It answered "data.msisdn: is required" to a lone ecom_email.)
TEST(Delivery, TestConnectionAppliesTheGivenDataOverTheSample) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  auto sample = server.account(key, "GET", "/v1/sample-event").json()["data"];
  auto r = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test",
                          R"({"data":{"ecom_email":"x@y.z","source_value":null}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["ok"], true) << r.body;
  auto data = json::parse(rx.requests().back().body)["events"][0]["data"];
  EXPECT_EQ(data["ecom_email"], "x@y.z");
  EXPECT_TRUE(data["source_value"].is_null());
  for (const char* kept : {"msisdn", "profileCreatedAt", "source", "ecom_locale", "last_click_date"})
    EXPECT_EQ(data[kept], sample[kept]) << kept;
  EXPECT_EQ(data.size(), sample.size()) << data.dump();

  // Clearing the required msisdn, or a key outside the data set, is still an error.
  auto cleared = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", R"({"data":{"msisdn":null}})");
  EXPECT_EQ(cleared.status, 400) << cleared.body;
  EXPECT_EQ(cleared.json()["errors"][0]["field"], "data.msisdn") << cleared.body;
  auto unknown = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", R"({"data":{"shoe_size":42}})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  auto not_object = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", R"({"data":[1]})");
  EXPECT_EQ(not_object.status, 400) << not_object.body;
  EXPECT_EQ(rx.count(), 1u);
}

TEST(Delivery, TheAddressGuardRefusesLoopbackUnlessAllowed) {
  Server server({"--allow-targets", ""});
  Receiver rx;
  auto [account, key] = server.create_account();
  // A name that resolves to loopback is refused at connect time.
  auto hook = create_hook(server, key, "http://localhost:" + std::to_string(rx.port()) + "/hook");
  auto t = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/test", "{}").json();
  EXPECT_EQ(t["ok"], false);
  EXPECT_NE(t["error"].get<std::string>().find("not allowed"), std::string::npos) << t.dump();
  EXPECT_EQ(rx.count(), 0u);
  // A literal loopback address is refused at creation.
  auto r = server.account(key, "POST", "/v1/webhooks", json({{"name", "x"}, {"url", rx.url()}}).dump());
  EXPECT_EQ(r.status, 400);
}

TEST(Delivery, RotationSignsWithBothSecretsDuringTheGrace) {
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  auto hook = create_hook(server, key, rx.url());
  auto rot = server.account(key, "POST", "/v1/webhooks/" + hook.id + "/rotate-secret", R"({"grace_period_s":3600})");
  std::string fresh = rot.json()["secret"];
  ingest(server, account, event_body(1));
  ASSERT_TRUE(rx.wait_for([](auto& r) { return r.size() == 1; }));
  auto req = rx.requests()[0];
  int64_t ts = std::stoll(req.headers["webhook-timestamp"]);
  EXPECT_NE(req.headers["webhook-signature"].find(' '), std::string::npos);
  EXPECT_TRUE(growhook::verify_signature(fresh, req.headers["webhook-id"], ts, req.body, req.headers["webhook-signature"], ts));
  EXPECT_TRUE(growhook::verify_signature(hook.secret, req.headers["webhook-id"], ts, req.body, req.headers["webhook-signature"], ts));
}

TEST(Delivery, WorkInFlightAtACrashIsDeliveredAfterRestart) {
  auto server = std::make_unique<Server>();
  Receiver rx;
  std::atomic<bool> hang{true};
  rx.set_handler([&](const ReceivedRequest&) {
    Reply r;
    r.hang = hang.load();
    return r;
  });
  auto [account, key] = server->create_account();
  create_hook(*server, key, rx.url());
  ingest(*server, account, event_body(1, "in-flight"));
  ASSERT_TRUE(rx.wait_for([](auto& r) { return r.size() == 1; }));
  server->kill9();
  hang = false;
  server->start();
  ASSERT_TRUE(rx.wait_for([](auto& r) { return r.size() >= 2; }));
  auto reqs = rx.requests();
  EXPECT_EQ(reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"]);  // the same batch again
  EXPECT_EQ(event_ids(reqs), std::set<std::string>{"in-flight"});
}

TEST(Delivery, NothingAcknowledgedIsLostWhenKilled) {
  auto server = std::make_unique<Server>();
  Receiver rx;
  auto [account, key] = server->create_account();
  create_hook(*server, key, rx.url());
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        std::string id = "c" + std::to_string(c) + "-" + std::to_string(i);
        auto r = server->platform("POST", "/v1/accounts/" + account + "/events", event_body(1 + i, id));
        if (r.status == 202) {
          std::lock_guard lock(mu);
          acked.insert(id);
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return acked.size() >= 200;
  }));
  server->kill9();
  stop = true;
  for (auto& t : clients) t.join();
  server->start();
  ASSERT_TRUE(rx.wait_for([&](auto& r) {
    auto got = event_ids(r);
    for (const auto& id : acked)
      if (!got.count(id)) return false;
    return true;
  }, std::chrono::seconds(30)))
      << "acknowledged " << acked.size() << ", received " << event_ids(rx.requests()).size();
}

TEST(Delivery, ASecondProcessCannotTakeTheSameDataFolder) {
  GROWHOOK_E2E_SQLITE_ONLY("the data folder's lock; on PostgreSQL any number of nodes share the database "
                           "(nodes_test.cc)");
  Server first;
  EXPECT_THROW(Server second({}, first.data_dir()), std::runtime_error);
}

}  // namespace
}  // namespace e2e
