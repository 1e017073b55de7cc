// End-to-end: ingestion and management over real HTTP against the binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  Server server;
};

TEST_F(ApiTest, HealthAndReadiness) {
  EXPECT_EQ(http("GET", server.base() + "/healthz").status, 200);
  EXPECT_EQ(http("GET", server.base() + "/readyz").status, 200);
  auto m = http("GET", server.base() + "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("growhook_events_ingested_total"), std::string::npos);
  // SQLite's WAL checkpoints, by whom (store/sqlite_checkpointer.h).
  const bool on_sqlite = !on_postgres();
  EXPECT_EQ(m.body.find("growhook_sqlite_wal_checkpoints_total{by=\"thread\"}") != std::string::npos, on_sqlite)
      << m.body;
  EXPECT_EQ(m.body.find("growhook_sqlite_wal_checkpoints_total{by=\"writer\"}") != std::string::npos, on_sqlite);
}

TEST_F(ApiTest, PlatformRoutesNeedThePlatformToken) {
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"x"})").status, 401);
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"x"})", "wrong-token-wrong-token").status, 401);
  auto [id, key] = server.create_account();
  // An account key is not the platform token.
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts/" + id + "/events", event_body(1), key).status, 401);
}

TEST_F(ApiTest, AccountRoutesNeedAnApiKey) {
  EXPECT_EQ(http("GET", server.base() + "/v1/webhooks").status, 401);
  EXPECT_EQ(http("GET", server.base() + "/v1/webhooks", "", "ghk_nope").status, 401);
  auto [id, key] = server.create_account("Shop A");
  auto me = server.account(key, "GET", "/v1/account");
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.json()["name"], "Shop A");
}

TEST_F(ApiTest, IngestOneEventAndABulk) {
  auto [id, key] = server.create_account();
  auto r = server.platform("POST", "/v1/accounts/" + id + "/events", event_body(5599999999999));
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(r.json()["ids"].size(), 1u);
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 100; ++i) bulk["events"].push_back(json::parse(event_body(5500000000000 + i)));
  r = server.platform("POST", "/v1/accounts/" + id + "/events", bulk.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["ids"].size(), 100u);
}

TEST_F(ApiTest, IngestIsIdempotentOnTheCallersId) {
  auto [id, key] = server.create_account();
  auto a = server.platform("POST", "/v1/accounts/" + id + "/events", event_body(1, "order-42"));
  auto b = server.platform("POST", "/v1/accounts/" + id + "/events", event_body(1, "order-42"));
  ASSERT_EQ(a.status, 202);
  ASSERT_EQ(b.status, 202);
  EXPECT_EQ(a.json()["ids"][0], "order-42");
  EXPECT_EQ(b.json()["ids"][0], "order-42");
  auto m = http("GET", server.base() + "/metrics");
  EXPECT_NE(m.body.find("growhook_events_ingested_total 1\n"), std::string::npos) << m.body.substr(0, 400);
  EXPECT_NE(m.body.find("growhook_events_duplicate_total 1\n"), std::string::npos);
}

TEST_F(ApiTest, IngestValidationNamesTheEventAndTheField) {
  auto [id, key] = server.create_account();
  json bulk = {{"events",
                {json::parse(event_body(1)),
                 {{"type", "contact.subscribed"}, {"occurred_at", "2024-09-26T00:08:18.161Z"},
                  {"contact", {{"msisdn", 2}, {"ecom_signups_count", "two"}}}}}}};
  auto r = server.platform("POST", "/v1/accounts/" + id + "/events", bulk.dump());
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(r.headers["content-type"], "application/problem+json");
  auto j = r.json();
  EXPECT_NE(j["detail"].get<std::string>().find("events[1].contact.ecom_signups_count"), std::string::npos)
      << j.dump();
  EXPECT_EQ(j["errors"][0]["event_index"], 1);
}

struct BadCase {
  const char* name;
  std::string body;
  const char* field;
};

TEST_F(ApiTest, EveryValidationClassIsRefusedAndNothingIsStored) {
  auto [id, key] = server.create_account();
  std::vector<BadCase> cases = {
      {"broken json", "{\"type\":", ""},
      {"unknown key", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1,"shoe_size":42}})", "contact.shoe_size"},
      {"wrong type", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":"555"}})", "contact.msisdn"},
      {"bad timestamp", R"({"type":"contact.subscribed","occurred_at":"2024-02-30T00:00:00Z","contact":{"msisdn":1}})", "occurred_at"},
      {"bad data timestamp", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1,"last_order_date":"yesterday"}})", "contact.last_order_date"},
      {"bad source", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1,"source":"fax"}})", "contact.source"},
      {"missing type", R"({"occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1}})", "type"},
      {"unknown type", R"({"type":"contact.deleted","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1}})", "type"},
      {"missing occurred_at", R"({"type":"contact.subscribed","contact":{"msisdn":1}})", "occurred_at"},
      {"missing contact", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z"})", "contact"},
      {"missing msisdn", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{}})", "contact.msisdn"},
      {"bad boolean", R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1,"eshop_opt_in":"yes"}})", "contact.eshop_opt_in"},
  };
  for (const auto& c : cases) {
    auto r = server.platform("POST", "/v1/accounts/" + id + "/events", c.body);
    EXPECT_EQ(r.status, 400) << c.name;
    auto j = r.json();
    ASSERT_TRUE(j.contains("errors")) << c.name << ": " << r.body;
    EXPECT_EQ(j["errors"][0]["field"], c.field) << c.name << ": " << r.body;
  }
  auto m = http("GET", server.base() + "/metrics");
  EXPECT_NE(m.body.find("growhook_events_ingested_total 0\n"), std::string::npos);
}

TEST_F(ApiTest, LimitsAnswer413) {
  auto [id, key] = server.create_account();
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 1001; ++i) bulk["events"].push_back(json::parse(event_body(1)));
  auto r = server.platform("POST", "/v1/accounts/" + id + "/events", bulk.dump());
  EXPECT_EQ(r.status, 413) << r.body;
  std::string huge(5 << 20, 'x');
  r = server.platform("POST", "/v1/accounts/" + id + "/events", huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(http("GET", server.base() + "/healthz").status, 200);
}

TEST_F(ApiTest, IngestForAnUnknownAccountIs404AndWrongContentTypeIs415) {
  EXPECT_EQ(server.platform("POST", "/v1/accounts/acc_nope/events", event_body(1)).status, 404);
  auto [id, key] = server.create_account();
  auto r = http("POST", server.base() + "/v1/accounts/" + id + "/events", event_body(1), kPlatformToken, "text/plain");
  EXPECT_EQ(r.status, 415);
}

// One Content-Type rule on every route (src/api/content_type.h): curl -d's
// default form type is read as JSON, another format is 415 everywhere.
TEST_F(ApiTest, EveryRouteTakesCurlsDefaultContentTypeAndRefusesOtherFormats) {
  const std::string form = "application/x-www-form-urlencoded";
  auto acc = http("POST", server.base() + "/v1/accounts", R"({"name":"shop"})", kPlatformToken, form);
  ASSERT_EQ(acc.status, 201) << acc.body;
  std::string id = acc.json()["id"], key = acc.json()["api_key"];
  auto hook = http("POST", server.base() + "/v1/webhooks", R"({"name":"CRM","url":"https://example.com/h"})", key, form);
  ASSERT_EQ(hook.status, 201) << hook.body;
  std::string hook_id = hook.json()["id"];
  EXPECT_EQ(http("PATCH", server.base() + "/v1/webhooks/" + hook_id, R"({"name":"CRM 2"})", key, form).status, 200);
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts/" + id + "/events", event_body(1), kPlatformToken, form).status,
            202);
  for (const std::string& type : {std::string("text/plain"), std::string("multipart/form-data; boundary=x")}) {
    auto a = http("POST", server.base() + "/v1/accounts", R"({"name":"x"})", kPlatformToken, type);
    EXPECT_EQ(a.status, 415) << type;
    EXPECT_NE(a.json()["detail"].get<std::string>().find("application/json"), std::string::npos) << a.body;
    EXPECT_EQ(http("PATCH", server.base() + "/v1/webhooks/" + hook_id, R"({"name":"y"})", key, type).status, 415);
  }
  // Nothing was changed by the refused PATCH.
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + hook_id).json()["name"], "CRM 2");
}

TEST_F(ApiTest, WebhookLifecycle) {
  auto [id, key] = server.create_account();
  auto empty = server.account(key, "GET", "/v1/webhooks");
  ASSERT_EQ(empty.status, 200);
  EXPECT_TRUE(empty.json()["data"].empty());

  auto c = server.account(key, "POST", "/v1/webhooks",
                          R"({"name":"CRM","url":"https://example.com/hook","auth":{"type":"bearer","token":"t0k"}})");
  ASSERT_EQ(c.status, 201) << c.body;
  auto w = c.json();
  EXPECT_EQ(w["secret"].get<std::string>().rfind("whsec_", 0), 0u);
  EXPECT_EQ(w["event_types"].size(), 2u);
  EXPECT_EQ(w["batch_max_events"], 100);
  EXPECT_EQ(w["batch_max_bytes"], 1048576);
  EXPECT_EQ(w["auth"]["type"], "bearer");
  EXPECT_FALSE(w["auth"].contains("token"));  // never echoed
  std::string wid = w["id"];

  auto g = server.account(key, "GET", "/v1/webhooks/" + wid);
  ASSERT_EQ(g.status, 200);
  EXPECT_FALSE(g.json().contains("secret"));
  EXPECT_EQ(g.json()["stats"]["failed_batches"], 0);

  auto p = server.account(key, "PATCH", "/v1/webhooks/" + wid,
                          R"({"name":"CRM 2","enabled":false,"event_types":["contact.unsubscribed"],"batch_max_events":1})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json()["name"], "CRM 2");
  EXPECT_EQ(p.json()["enabled"], false);
  EXPECT_EQ(p.json()["event_types"], json::array({"contact.unsubscribed"}));

  EXPECT_EQ(server.account(key, "POST", "/v1/webhooks/" + wid + "/enable").json()["enabled"], true);
  EXPECT_EQ(server.account(key, "POST", "/v1/webhooks/" + wid + "/disable").json()["enabled"], false);

  auto old_secret = w["secret"].get<std::string>();
  auto rot = server.account(key, "POST", "/v1/webhooks/" + wid + "/rotate-secret", R"({"grace_period_s":60})");
  ASSERT_EQ(rot.status, 200) << rot.body;
  EXPECT_NE(rot.json()["secret"], old_secret);
  auto sec = server.account(key, "GET", "/v1/webhooks/" + wid + "/secret");
  EXPECT_EQ(sec.json()["secret"], rot.json()["secret"]);
  EXPECT_TRUE(sec.json().contains("previous_secret_expires_at"));

  EXPECT_EQ(server.account(key, "DELETE", "/v1/webhooks/" + wid).status, 204);
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + wid).status, 404);
}

TEST_F(ApiTest, WebhookValidationSaysWhatToFix) {
  auto [id, key] = server.create_account();
  struct Case {
    std::string body;
    std::string field;
  };
  std::vector<Case> cases = {
      {R"({"url":"https://example.com"})", "name"},
      {R"({"name":"x"})", "url"},
      {R"({"name":"x","url":"not a url"})", "url"},
      {R"({"name":"x","url":"ftp://example.com/"})", "url"},
      {R"({"name":"x","url":"http://10.1.2.3/hook"})", "url"},
      {R"({"name":"x","url":"https://example.com","batch_max_events":0})", "batch_max_events"},
      {R"({"name":"x","url":"https://example.com","batch_max_bytes":1023})", "batch_max_bytes"},
      {R"({"name":"x","url":"https://example.com","batch_max_bytes":1048577})", "batch_max_bytes"},
      {R"({"name":"x","url":"https://example.com","batch_max_bytes":"x"})", "batch_max_bytes"},
      {R"({"name":"x","url":"https://example.com","batch_max_bytes":1.5})", "batch_max_bytes"},
      {R"({"name":"x","url":"https://example.com","batch_max_bytes":null})", "batch_max_bytes"},
      {R"({"name":"x","url":"https://example.com","event_types":["contact.deleted"]})", "event_types"},
      {R"({"name":"x","url":"https://example.com","auth":{"type":"magic"}})", "auth.type"},
      {R"({"name":"x","url":"https://example.com","auth":{"type":"header","name":"webhook-id","value":"v"}})", "auth.name"},
      {R"({"name":"x","url":"https://example.com","colour":"red"})", "colour"},
  };
  for (const auto& c : cases) {
    auto r = server.account(key, "POST", "/v1/webhooks", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.json()["errors"][0]["field"], c.field) << c.body << " → " << r.body;
  }
  EXPECT_TRUE(server.account(key, "GET", "/v1/webhooks").json()["data"].empty());
}

TEST_F(ApiTest, WebhookBatchMaxBytesIsSetShownAndChanged) {
  auto [id, key] = server.create_account();
  auto c = server.account(key, "POST", "/v1/webhooks",
                          R"({"name":"CRM","url":"https://example.com/hook","batch_max_bytes":2048})");
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.json()["batch_max_bytes"], 2048);
  std::string wid = c.json()["id"];
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + wid).json()["batch_max_bytes"], 2048);
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks").json()["data"][0]["batch_max_bytes"], 2048);

  auto bad = server.account(key, "PATCH", "/v1/webhooks/" + wid, R"({"batch_max_bytes":1048577})");
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.json()["errors"][0]["field"], "batch_max_bytes");
  EXPECT_EQ(bad.json()["errors"][0]["message"], "must be an integer from 1024 to 1048576");
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + wid).json()["batch_max_bytes"], 2048);

  auto p = server.account(key, "PATCH", "/v1/webhooks/" + wid, R"({"batch_max_bytes":1024})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json()["batch_max_bytes"], 1024);
  // A PATCH without it keeps it.
  p = server.account(key, "PATCH", "/v1/webhooks/" + wid, R"({"name":"CRM 2"})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json()["batch_max_bytes"], 1024);
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + wid).json()["batch_max_bytes"], 1024);
}

TEST_F(ApiTest, ListsArePagedWithACursor) {
  auto [id, key] = server.create_account();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(server.account(key, "POST", "/v1/webhooks",
                             json({{"name", "w" + std::to_string(i)}, {"url", "https://example.com/" + std::to_string(i)}}).dump())
                  .status,
              201);
  }
  auto p1 = server.account(key, "GET", "/v1/webhooks?limit=2").json();
  ASSERT_EQ(p1["data"].size(), 2u);
  EXPECT_EQ(p1["data"][0]["name"], "w0");
  std::string cursor = p1["next_cursor"];
  auto p2 = server.account(key, "GET", "/v1/webhooks?limit=2&cursor=" + cursor).json();
  EXPECT_EQ(p2["data"][0]["name"], "w2");
  auto p3 = server.account(key, "GET", "/v1/webhooks?limit=2&cursor=" + p2["next_cursor"].get<std::string>()).json();
  EXPECT_EQ(p3["data"].size(), 1u);
  EXPECT_TRUE(p3["next_cursor"].is_null());
}

TEST_F(ApiTest, AnAccountSeesOnlyItsOwnThings) {
  auto [a_id, a_key] = server.create_account("A");
  auto [b_id, b_key] = server.create_account("B");
  auto w = server.account(a_key, "POST", "/v1/webhooks", R"({"name":"A's","url":"https://example.com/a"})").json();
  std::string wid = w["id"];
  EXPECT_EQ(server.account(b_key, "GET", "/v1/webhooks/" + wid).status, 404);
  EXPECT_EQ(server.account(b_key, "PATCH", "/v1/webhooks/" + wid, R"({"name":"mine"})").status, 404);
  EXPECT_EQ(server.account(b_key, "DELETE", "/v1/webhooks/" + wid).status, 404);
  EXPECT_EQ(server.account(b_key, "POST", "/v1/webhooks/" + wid + "/test").status, 404);
  EXPECT_EQ(server.account(b_key, "POST", "/v1/webhooks/" + wid + "/rotate-secret").status, 404);
  EXPECT_EQ(server.account(b_key, "GET", "/v1/webhooks/" + wid + "/secret").status, 404);
  EXPECT_EQ(server.account(b_key, "GET", "/v1/webhooks/" + wid + "/batches").status, 404);
  EXPECT_EQ(server.account(b_key, "POST", "/v1/webhooks/" + wid + "/retry-failed").status, 404);
  EXPECT_TRUE(server.account(b_key, "GET", "/v1/webhooks").json()["data"].empty());
  EXPECT_EQ(server.account(a_key, "GET", "/v1/webhooks/" + wid).status, 200);
}

TEST_F(ApiTest, DataIsKeptAcrossARestart) {
  auto [id, key] = server.create_account();
  auto w = server.account(key, "POST", "/v1/webhooks", R"({"name":"keep","url":"https://example.com/k"})").json();
  server.stop();
  EXPECT_EQ(server.exit_code(), 0);
  server.start();
  auto g = server.account(key, "GET", "/v1/webhooks/" + w["id"].get<std::string>());
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.json()["name"], "keep");
}

TEST(Startup, APlatformTokenIsGeneratedPrintedOnceAndKeptHashed) {
  Server server({}, "", {{"GROWHOOK_PLATFORM_TOKEN", ""}});
  std::smatch m;
  std::string out = server.stdout_text();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("Platform token[^:]*: (ghp_\\S+)"))) << out;
  std::string token = m[1];
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"x"})", token).status, 201);
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"x"})", kPlatformToken).status, 401);
  server.stop();
  server.start();
  EXPECT_EQ(server.stdout_text().find("Platform token"), std::string::npos);  // printed once only
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"y"})", token).status, 201);
}

TEST(Startup, FlagsComeFromTheEnvironmentAndAConfigFile) {
  char tmpl[] = "/tmp/growhook-cfg.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string cfg = dir + "/growhook.toml";
  FILE* f = fopen(cfg.c_str(), "w");
  fputs("[serve]\nmax-events-per-request = 5\n", f);
  fclose(f);
  auto too_many = [](Server& s, int n) {
    auto [id, key] = s.create_account();
    json bulk = {{"events", json::array()}};
    for (int i = 0; i < n; ++i) bulk["events"].push_back(json::parse(event_body(1)));
    auto r = s.platform("POST", "/v1/accounts/" + id + "/events", bulk.dump());
    if (r.status != 202) std::cerr << r.status << " " << r.body << "\n";
    return r.status;
  };
  {
    Server from_file({}, "", {{"GROWHOOK_CONFIG", cfg}});
    EXPECT_EQ(too_many(from_file, 5), 202);
    EXPECT_EQ(too_many(from_file, 6), 413);
  }
  {
    Server from_env({}, "", {{"GROWHOOK_MAX_EVENTS_PER_REQUEST", "3"}});
    EXPECT_EQ(too_many(from_env, 4), 413);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(ApiTest, SampleEventHasTheTwentyKeys) {
  auto [id, key] = server.create_account();
  auto s = server.account(key, "GET", "/v1/sample-event").json();
  EXPECT_EQ(s["data"].size(), 20u);
  EXPECT_EQ(s["data"]["msisdn"], 5599999999999);
  EXPECT_EQ(s["data"]["source"], "form");
}

TEST_F(ApiTest, ThePageIsServedFromTheBinary) {
  auto r = http("GET", server.base() + "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/html"), std::string::npos);
}

}  // namespace
}  // namespace e2e
