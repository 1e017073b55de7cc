// End-to-end: "did this contact reach my CRM?": a contact's events found by
// msisdn or email, each with its delivery state at every webhook
// (GET /v1/events, GET /v1/events/{id}).
#include <gtest/gtest.h>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

std::string contact_event(const std::string& id, int64_t msisdn, const std::string& email,
                          const std::string& type = "contact.subscribed") {
  json e = {{"id", id},
            {"type", type},
            {"occurred_at", "2024-09-26T00:08:18.161Z"},
            {"contact", {{"msisdn", msisdn}, {"ecom_email", email}}}};
  return e.dump();
}

void ingest(Server& s, const std::string& account, const std::string& body) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", body);
  ASSERT_EQ(r.status, 202) << r.body;
}

std::vector<std::string> ids_of(const json& page) {
  std::vector<std::string> out;
  for (const auto& e : page["data"]) out.push_back(e["id"]);
  return out;
}

json delivery_at(const json& event, const std::string& webhook_id) {
  for (const auto& d : event["deliveries"]) {
    if (d["webhook_id"] == webhook_id) return d;
  }
  return nullptr;
}

TEST(Contacts, AContactsEventsShowWhereEachWentForItsOwnAccountOnly) {
  Server server({"--retry-delays", "0"});
  Receiver crm, broken;
  broken.set_status(500);
  auto [account, key] = server.create_account();
  auto [other_account, other_key] = server.create_account("other shop");
  auto ok_hook = add_webhook(server, key, crm.url());
  auto bad_hook = add_webhook(server, key, broken.url());
  // One request, so one batch a webhook: once the broken one's batch fails
  // the webhook is failing, and a batch cut after that would be a probe,
  // which waits instead of ending failed (domain/health.h).
  ingest(server, account,
         json{{"events", json::array({json::parse(contact_event("sub-1", 4915112345678, "Jane.Doe@Example.com")),
                                      json::parse(contact_event("someone-else", 4915100000000, "someone@example.com")),
                                      json::parse(contact_event("unsub-1", 4915112345678, "jane.doe@example.com",
                                                                "contact.unsubscribed"))})}}
             .dump());
  ingest(server, other_account, contact_event("other-1", 4915112345678, "jane.doe@example.com"));
  // Every batch ends: delivered at the CRM, failed at the broken one (two
  // attempts with --retry-delays 0).
  auto ended = [&](const json& page) {
    if (page["data"].size() != 2) return false;
    for (const auto& e : page["data"]) {
      if (e["deliveries"].size() != 2) return false;
      for (const auto& d : e["deliveries"]) {
        if (d["state"] == "pending") return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(eventually([&] { return ended(server.account(key, "GET", "/v1/events?msisdn=4915112345678").json()); }));

  auto r = server.account(key, "GET", "/v1/events?msisdn=4915112345678");
  ASSERT_EQ(r.status, 200) << r.body;
  auto page = r.json();
  EXPECT_EQ(ids_of(page), (std::vector<std::string>{"unsub-1", "sub-1"})) << "newest first, that contact only";
  EXPECT_TRUE(page["next_cursor"].is_null());
  for (const auto& e : page["data"]) {
    EXPECT_EQ(e["data"]["msisdn"], 4915112345678);
    EXPECT_TRUE(e["received_at"].is_string());
    ASSERT_EQ(e["deliveries"].size(), 2u) << e.dump();
    auto ok = delivery_at(e, ok_hook.id);
    EXPECT_EQ(ok["state"], "delivered") << ok.dump();
    EXPECT_TRUE(ok["batch_id"].is_string());
    EXPECT_EQ(ok["last_attempt"]["status_code"], 200);
    auto bad = delivery_at(e, bad_hook.id);
    EXPECT_EQ(bad["state"], "failed") << bad.dump();
    EXPECT_EQ(bad["last_attempt"]["status_code"], 500);
    EXPECT_TRUE(bad["last_attempt"]["error"].is_string());
    // The batch it names opens, and holds the event.
    auto b = server.account(key, "GET", "/v1/batches/" + bad["batch_id"].get<std::string>()).json();
    bool holds = false;
    for (const auto& be : b["events"]) holds = holds || be["id"] == e["id"];
    EXPECT_TRUE(holds) << b.dump();
  }
  // By email, in any case; the same events.
  auto by_email = server.account(key, "GET", "/v1/events?email=JANE.DOE%40example.COM").json();
  EXPECT_EQ(ids_of(by_email), (std::vector<std::string>{"unsub-1", "sub-1"}));
  // One event by its id.
  auto one = server.account(key, "GET", "/v1/events/sub-1");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json()["type"], "contact.subscribed");
  EXPECT_EQ(delivery_at(one.json(), ok_hook.id)["state"], "delivered");

  // The other account finds its own event of the same contact, and nothing
  // of the first account's.
  auto theirs = server.account(other_key, "GET", "/v1/events?msisdn=4915112345678").json();
  EXPECT_EQ(ids_of(theirs), (std::vector<std::string>{"other-1"}));
  EXPECT_TRUE(theirs["data"][0]["deliveries"].empty()) << "that account has no webhook";
  EXPECT_EQ(server.account(other_key, "GET", "/v1/events/sub-1").status, 404);
  EXPECT_EQ(server.account(key, "GET", "/v1/events/other-1").status, 404);
}

TEST(Contacts, PagesFollowNextCursorAndBadQueriesNameTheField) {
  Server server;
  auto [account, key] = server.create_account();
  json events = json::array();
  for (int i = 0; i < 5; ++i) events.push_back(json::parse(contact_event("e" + std::to_string(i), 4915112345678, "")));
  ingest(server, account, json{{"events", events}}.dump());
  std::vector<std::string> seen;
  std::string path = "/v1/events?msisdn=4915112345678&limit=2";
  for (int pages = 0; pages < 5; ++pages) {
    auto page = server.account(key, "GET", path).json();
    for (auto& id : ids_of(page)) seen.push_back(id);
    if (page["next_cursor"].is_null()) break;
    path = "/v1/events?msisdn=4915112345678&limit=2&cursor=" + page["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"e4", "e3", "e2", "e1", "e0"}));
  // A pending event (no webhook took it yet) has no delivery to show.
  EXPECT_TRUE(server.account(key, "GET", "/v1/events/e0").json()["deliveries"].empty());

  struct Bad {
    std::string query, field;
  };
  for (const auto& [query, field] : std::vector<Bad>{{"", "msisdn or email"},
                                                    {"msisdn=1&email=a%40b.c", "msisdn or email"},
                                                    {"msisdn=%2B4915112345678", "msisdn"},
                                                    {"msisdn=49151abc", "msisdn"},
                                                    {"msisdn=1234567890123456", "msisdn"},
                                                    {"msisdn=0", "msisdn"},
                                                    {"email=jane", "email"},
                                                    {"email=jane%40", "email"},
                                                    {"email=a%20b%40c.d", "email"},
                                                    {"msisdn=1&limit=0", "limit"},
                                                    {"msisdn=1&limit=201", "limit"},
                                                    {"msisdn=1&cursor=next", "cursor"}}) {
    auto r = server.account(key, "GET", "/v1/events?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.json()["detail"].get<std::string>().rfind(field + ":", 0), 0u) << query << ": " << r.body;
  }
  EXPECT_EQ(server.account(key, "POST", "/v1/events?msisdn=1", "{}").status, 405);
  EXPECT_EQ(server.account("wrong-key", "GET", "/v1/events?msisdn=1").status, 401);
}

}  // namespace
}  // namespace e2e
