// End-to-end: ordering "contact" (docs/receiving-webhooks.md, "Order"). A
// receiver fails a contact's subscribe until another contact's event has
// arrived: the same contact's unsubscribe, posted after it, must not arrive
// before the subscribe got its 2xx, and the other contact's event must not
// wait for it. On both stores; on PostgreSQL also with two nodes, the events
// ingested through the node that did not send the subscribe.
#include <gtest/gtest.h>

#include <mutex>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

constexpr int64_t kJane = 4915112345678, kJohn = 4915100000000;

// What the receiver saw, in order: each request's event ids and its answer.
class OrderWatch {
 public:
  // Fails every request holding `held` until one holding `first_other` came.
  std::function<Reply(const ReceivedRequest&)> handler(std::string held, std::string first_other) {
    return [this, held, first_other](const ReceivedRequest& r) {
      std::set<std::string> ids = event_ids_in({r});
      std::lock_guard lock(mu_);
      if (ids.count(first_other)) other_came_ = true;
      Reply reply;
      if (ids.count(held) && !other_came_) reply.status = 500;
      for (const auto& id : ids) log_.push_back({id, reply.status});
      return reply;
    };
  }
  // The index in the log of the first time id came with this answer; -1: never.
  int first(const std::string& id, int status) const {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < log_.size(); ++i) {
      if (log_[i].first == id && log_[i].second == status) return static_cast<int>(i);
    }
    return -1;
  }
  std::string dump() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [id, status] : log_) out += id + ":" + std::to_string(status) + " ";
    return out;
  }

 private:
  mutable std::mutex mu_;
  bool other_came_ = false;
  std::vector<std::pair<std::string, int>> log_;
};

void ingest(Server& s, const std::string& account, const std::string& body) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", body);
  ASSERT_EQ(r.status, 202) << r.body;
}

// The scene on `nodes` (the first made the account): Jane subscribes; once
// that failed, Jane unsubscribes and John subscribes, through `later`.
void unsubscribe_never_passes_subscribe(Server& first, Server& later) {
  OrderWatch watch;
  Receiver crm;
  crm.set_handler(watch.handler("sub-jane", "sub-john"));
  auto [account, key] = first.create_account();
  auto hook = add_webhook(first, key, crm.url(), {{"ordering", "contact"}});
  auto got = first.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_EQ(got["ordering"], "contact") << got.dump();

  ingest(first, account, event_body(kJane, "sub-jane"));
  ASSERT_TRUE(eventually([&] { return watch.first("sub-jane", 500) >= 0; })) << watch.dump();
  ingest(later, account, event_body(kJane, "unsub-jane", "contact.unsubscribed"));
  ingest(later, account, event_body(kJohn, "sub-john"));
  ASSERT_TRUE(eventually([&] { return watch.first("unsub-jane", 200) >= 0; }, std::chrono::seconds(60)))
      << watch.dump();

  const int sub_ok = watch.first("sub-jane", 200), john = watch.first("sub-john", 200);
  ASSERT_GE(sub_ok, 0) << "the subscribe got through: " << watch.dump();
  EXPECT_LT(john, sub_ok) << "John did not wait for Jane's retry: " << watch.dump();
  EXPECT_LT(sub_ok, watch.first("unsub-jane", 200)) << watch.dump();
  EXPECT_EQ(watch.first("unsub-jane", 500), -1) << "the unsubscribe never went before: " << watch.dump();
  EXPECT_TRUE(webhook_batches(first, key, hook.id, "failed").empty()) << "the retry delivered it";

  // The contact search shows both of Jane's events delivered (once the
  // last answer is recorded: that follows the receiver's answer, and a
  // delivered batch may wait for the next turn, DeliveryOptions::record_delay_ms).
  json jane;
  auto both_delivered = [&] {
    jane = first.account(key, "GET", "/v1/events?msisdn=" + std::to_string(kJane)).json();
    if (jane["data"].size() != 2u) return false;
    for (const auto& e : jane["data"]) {
      if (e["deliveries"].size() != 1u || e["deliveries"][0]["state"] != "delivered") return false;
    }
    return true;
  };
  EXPECT_TRUE(eventually(both_delivered)) << jane.dump();
}

TEST(Ordering, AContactsUnsubscribeNeverArrivesBeforeItsSubscribeAndOtherContactsDoNotWait) {
  Server server({"--retry-delays", "1s,1s,1s,1s,1s,1s"});
  unsubscribe_never_passes_subscribe(server, server);
}

TEST(Ordering, TwoNodesKeepAContactsOrder) {
  GROWHOOK_E2E_POSTGRES_ONLY("two nodes share one database");
  const std::vector<std::string> args = {"--retry-delays", "1s,1s,1s,1s,1s,1s"};
  auto a = std::vector<std::string>(args), b = std::vector<std::string>(args);
  a.insert(a.end(), {"--node-id", "node-a"});
  b.insert(b.end(), {"--node-id", "node-b"});
  Server first(a);
  Server second(b, first.data_dir());
  unsubscribe_never_passes_subscribe(first, second);
}

TEST(Ordering, ABadOrderingIsRefusedNamingTheField) {
  Server server;
  auto [account, key] = server.create_account();
  auto r = server.account(key, "POST", "/v1/webhooks",
                          json{{"name", "crm"}, {"url", "http://127.0.0.1:9/hook"}, {"ordering", "by-contact"}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("ordering"), std::string::npos) << r.body;
  auto list = server.account(key, "GET", "/v1/webhooks").json();
  EXPECT_TRUE(list["data"].empty()) << "nothing stored";
}

}  // namespace
}  // namespace e2e
