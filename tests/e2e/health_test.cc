// End-to-end: a receiver that goes down and comes back (domain/health.h).
// While it fails, the backlog waits and one probe batch at a time reaches
// it; when a probe succeeds, the backlog flows by itself. Loopback only;
// arrival and states are asserted, never durations.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

json list(Server& s, const std::string& key, const std::string& hook, const std::string& state) {
  return s.account(key, "GET", "/v1/webhooks/" + hook + "/batches?limit=200&state=" + state).json()["data"];
}

void ingest(Server& s, const std::string& account, int first, int count) {
  json events = json::array();
  for (int i = first; i < first + count; ++i) events.push_back(json::parse(event_body(i, "e" + std::to_string(i))));
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", json{{"events", events}}.dump());
  if (r.status != 202) throw std::runtime_error("ingest: " + r.body);
}

std::map<std::string, int> posts_by_batch(const Receiver& rx) {
  std::map<std::string, int> n;
  for (const auto& r : rx.requests()) n[r.headers.at("webhook-id")]++;
  return n;
}

// The bar of issue 13: 20 batches' worth of events wait while the receiver
// answers 500. Only the batches already in flight when it started failing
// (they keep their own attempts, and end failed) and the probes reach it,
// one at a time (the few batches cut while the first answers came back are
// probes too); after it answers 2xx again, everything else arrives by itself.
TEST(Health, ABacklogWaitsWhileTheReceiverIsDownAndFlowsByItselfAfter) {
  Server server;
  Receiver rx;
  rx.set_status(500);
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url(), {{"batch_max_events", 10}});
  ingest(server, account, 1, 200);

  // Twice as many POSTs as 20 batches of four attempts would need in all:
  // long enough for every batch to have been cut, had the backlog not waited.
  std::set<std::string> failed;
  ASSERT_TRUE(eventually(
      [&] {
        failed.clear();
        for (const auto& b : list(server, key, hook.id, "failed")) failed.insert(b["id"].get<std::string>());
        return !failed.empty() && rx.count() >= 40;
      },
      std::chrono::seconds(90)))
      << rx.count() << " POSTs of " << posts_by_batch(rx).size() << " batches, " << failed.size() << " failed";
  // In flight when it started failing: at most the webhook's bound (4) and
  // what was cut while the first answers came back (3 more).
  EXPECT_LE(failed.size(), 7u);
  // Beyond those, the probe cut once it was failing (seen under load: 8).
  EXPECT_LE(posts_by_batch(rx).size(), 8u) << "the backlog was not cut into batches";
  auto w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_TRUE(w["failing_since"].is_string()) << w.dump();
  EXPECT_EQ(w["last_error"], "HTTP 500");
  EXPECT_TRUE(w["enabled"].get<bool>());
  const size_t posts_while_down = rx.count();

  rx.set_status(200);
  const int expected = 200 - 10 * static_cast<int>(failed.size());
  ASSERT_TRUE(eventually(
      [&] {
        int delivered = 0;
        for (const auto& b : list(server, key, hook.id, "delivered")) delivered += b["event_count"].get<int>();
        return delivered == expected;
      },
      std::chrono::seconds(60)));
  w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_TRUE(w["failing_since"].is_null()) << w.dump();
  EXPECT_EQ(list(server, key, hook.id, "pending").size(), 0u);
  EXPECT_EQ(list(server, key, hook.id, "failed").size(), failed.size()) << "failed batches stay failed";
  // Every event arrived, in a delivered batch or in one that failed (and
  // waits for a manual retry): nothing was dropped.
  std::set<std::string> ids = event_ids_in(rx.requests());
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_GT(rx.count(), posts_while_down);
}

// The health is stored: a node killed while a webhook fails comes back
// failing, probes on, and delivers the backlog once the receiver answers.
TEST(Health, AKilledNodeComesBackFailingAndDeliversAfterTheReceiverReturns) {
  Server server;
  Receiver rx;
  rx.set_status(503);
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url(), {{"batch_max_events", 5}});
  ingest(server, account, 1, 50);
  ASSERT_TRUE(eventually([&] {
    return server.account(key, "GET", "/v1/webhooks/" + hook.id).json()["failing_since"].is_string();
  }));
  server.kill9();
  server.start();
  auto w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_TRUE(w["failing_since"].is_string()) << "still failing after the restart: " << w.dump();
  rx.set_status(200);
  ASSERT_TRUE(eventually(
      [&] {
        return event_ids_in(rx.requests()).size() == 50 && list(server, key, hook.id, "pending").empty();
      },
      std::chrono::seconds(60)))
      << event_ids_in(rx.requests()).size() << " of 50 events reached the receiver";
  w = server.account(key, "GET", "/v1/webhooks/" + hook.id).json();
  EXPECT_TRUE(w["failing_since"].is_null()) << "recovered: " << w.dump();
}

}  // namespace
}  // namespace e2e
