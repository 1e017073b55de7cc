// End-to-end: `growhook migrate` moves a SQLite store that has work in
// every state into a new PostgreSQL database, and a PostgreSQL node takes
// it up: the pending batches (one whose lease the stopped SQLite node still
// held, and events not yet cut into any batch) are delivered under their
// ids, signed with the same secrets (a rotation in grace included), checked
// with the npm `standardwebhooks` package; the failed batches are shown and
// can be retried; the retrying one keeps its schedule; nothing acknowledged
// is lost, and new events continue each account's numbering.
//
// Needs the test cluster (GROWHOOK_TEST_PG_URL, which scripts/test.sh
// exports); runs in the SQLite run only (its source is a SQLite node).
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GROWHOOK_E2E_SQLITE_ONLY("its source is a SQLite store; it makes its own PostgreSQL databases");
    if (test_pg_cluster_url().empty()) {
      GTEST_SKIP() << "needs a PostgreSQL cluster: set GROWHOOK_TEST_PG_URL (scripts/pg-test-cluster.sh start DIR "
                      "prints one; scripts/test.sh does it)";
    }
  }
};

// The SQLite folder's generated key, as an operator copies it to the PostgreSQL nodes.
std::string read_key_file(const std::string& data_dir) {
  std::ifstream in(data_dir + "/secrets.key");
  std::string key;
  std::getline(in, key);
  EXPECT_FALSE(key.empty()) << "no key file in " << data_dir;
  return key;
}

std::set<std::string> ids_of(const json& batches) {
  std::set<std::string> out;
  for (const auto& b : batches) out.insert(b["id"].get<std::string>());
  return out;
}

std::vector<ReceivedRequest> since(const Receiver& rx, size_t first) {
  auto all = rx.requests();
  return {all.begin() + static_cast<long>(std::min(first, all.size())), all.end()};
}

TEST_F(MigrateTest, APostgresNodeDeliversTheMovedStoresPendingWorkSignedWithTheSameSecrets) {
  Receiver failing, retrying, hanging, healthy;
  failing.set_status(500);
  retrying.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.status = 503;
    r.headers = {{"Retry-After", "3600"}};
    return r;
  });
  hanging.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.hang = true;
    return r;
  });

  // The SQLite store, with work in every state.
  auto src = std::make_unique<Server>(std::vector<std::string>{
      "--retry-delays", "200ms,200ms", "--per-webhook-in-flight", "1", "--shutdown-grace", "200ms"});
  auto [account, key] = src->create_account();
  auto f = add_webhook(*src, key, failing.url());
  auto r = add_webhook(*src, key, retrying.url());
  auto h = add_webhook(*src, key, hanging.url(), {{"batch_max_events", 1}});
  auto d = add_webhook(*src, key, healthy.url());
  auto rot = src->account(key, "POST", "/v1/webhooks/" + h.id + "/rotate-secret", R"({"grace_period_s":3600})");
  ASSERT_EQ(rot.status, 200) << rot.body;
  const std::string h_new = rot.json()["secret"];
  std::set<std::string> acked;
  for (int i = 1; i <= 5; ++i) {
    auto e = src->platform("POST", "/v1/accounts/" + account + "/events", event_body(i, "m-" + std::to_string(i)));
    ASSERT_EQ(e.status, 202) << e.body;
    acked.insert("m-" + std::to_string(i));
  }
  auto all_in = [&](const Receiver& rx) { return [&] { return event_ids_in(rx.requests()) == acked; }; };
  ASSERT_TRUE(eventually(all_in(healthy))) << "the healthy webhook got " << healthy.count() << " requests";
  // Three failed attempts in a row (--retry-delays has two retries) make the
  // webhook failing (domain/health.h): then its later events wait, uncut,
  // for a probe an hour away (the Retry-After).
  ASSERT_TRUE(eventually([&] { return all_in(retrying)() || retrying.count() >= 3; }));
  ASSERT_TRUE(eventually([&] { return hanging.count() >= 1; }));
  ASSERT_TRUE(eventually([&] {
    return webhook_batches(*src, key, f.id, "pending").empty() && !webhook_batches(*src, key, f.id, "failed").empty();
  })) << "the failing webhook's batches did not all fail";
  const std::string in_flight = hanging.requests().front().headers.at("webhook-id");
  const auto failed = ids_of(webhook_batches(*src, key, f.id, "failed"));
  const json retry_scheduled = webhook_batches(*src, key, r.id, "pending");
  ASSERT_FALSE(retry_scheduled.empty());
  src->stop();  // the hanging batch keeps its lease

  // Move it.
  PgDatabase db(test_pg_cluster_url());
  auto moved = run_command({GROWHOOK_BINARY, "migrate", "--data-dir", src->data_dir(), "--database", db.url()});
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  // The secrets travel sealed: the PostgreSQL nodes get the SQLite folder's key, as migrate says.
  EXPECT_NE(moved.output.find("GROWHOOK_SECRETS_KEYS=\"$(cat " + src->data_dir() + "/secrets.key)\""),
            std::string::npos)
      << moved.output;
  const std::map<std::string, std::string> keys = {{"GROWHOOK_SECRETS_KEYS", read_key_file(src->data_dir())}};
  auto again = run_command({GROWHOOK_BINARY, "migrate", "--data-dir", src->data_dir(), "--database", db.url()});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("not empty"), std::string::npos) << again.output;
  // The moved folder is refused, so that no SQLite node delivers it twice.
  auto old_node = run_command({GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", src->data_dir()},
                              {{"GROWHOOK_PLATFORM_TOKEN", kPlatformToken}});
  EXPECT_NE(old_node.exit_code, 0) << old_node.output;
  EXPECT_NE(old_node.output.find("moved to PostgreSQL"), std::string::npos) << old_node.output;
  // The schema a fresh node would have made.
  {
    PgDatabase fresh(test_pg_cluster_url());
    Server(std::vector<std::string>{"--database", fresh.url(), "--node-id", "fresh"}).stop();
    const char* version = "SELECT value FROM meta WHERE key = 'schema_version'";
    EXPECT_EQ(db.query(version), fresh.query(version));
  }

  // A PostgreSQL node takes it up, the receivers answering now.
  for (Receiver* rx : {&failing, &retrying, &hanging}) rx->set_status(200);
  hanging.set_handler([](const ReceivedRequest&) { return Reply{}; });
  const size_t h_before = hanging.count(), f_before = failing.count(), d_before = healthy.count();
  Server pg(std::vector<std::string>{"--database", db.url(), "--node-id", "pg-1", "--retry-delays", "200ms,200ms"},
            "", keys);
  EXPECT_EQ(pg.account(key, "GET", "/v1/account").status, 200) << "the API key was not carried";

  // Pending: the batch in flight at the stop (same id) and the events never cut.
  ASSERT_TRUE(eventually([&] { return event_ids_in(since(hanging, h_before)) == acked; }))
      << "delivered from PostgreSQL: " << json(event_ids_in(since(hanging, h_before))).dump();
  auto h_sent = since(hanging, h_before);
  EXPECT_TRUE(std::any_of(h_sent.begin(), h_sent.end(),
                          [&](const ReceivedRequest& q) { return q.headers.at("webhook-id") == in_flight; }))
      << "the batch in flight at the stop was not sent again under its id " << in_flight;
  std::vector<Signed> to_verify;
  for (const auto& q : h_sent) {
    EXPECT_NE(q.headers.at("webhook-signature").find(' '), std::string::npos) << "the rotation's grace was lost";
    to_verify.push_back({h.secret, q});  // the secret before the rotation...
    to_verify.push_back({h_new, q});     // ...and after it
  }

  // Failed: shown with their attempts, and a retry delivers them.
  auto failed_now = webhook_batches(pg, key, f.id, "failed");
  EXPECT_EQ(ids_of(failed_now), failed);
  for (const auto& b : failed_now) EXPECT_EQ(b["attempts"].size(), 3u) << b.dump();
  ASSERT_EQ(pg.account(key, "POST", "/v1/webhooks/" + f.id + "/retry-failed").status, 202);
  ASSERT_TRUE(eventually([&] {
    std::set<std::string> sent;
    for (const auto& q : since(failing, f_before)) sent.insert(q.headers.at("webhook-id"));
    // The failed batches, and the events that waited while the webhook was
    // failing (domain/health.h), in batches of their own.
    return std::includes(sent.begin(), sent.end(), failed.begin(), failed.end());
  }));
  for (const auto& q : since(failing, f_before)) to_verify.push_back({f.secret, q});

  // Retrying: the same batches, their attempt and their next attempt kept.
  auto scheduled = webhook_batches(pg, key, r.id, "pending");
  ASSERT_EQ(scheduled.size(), retry_scheduled.size());
  for (size_t i = 0; i < scheduled.size(); ++i) {
    EXPECT_EQ(scheduled[i]["id"], retry_scheduled[i]["id"]);
    EXPECT_EQ(scheduled[i]["next_attempt_at"], retry_scheduled[i]["next_attempt_at"]);
    EXPECT_EQ(scheduled[i]["attempts"].size(), 1u);
  }
  // Delivered history stays behind without --with-history, and nothing of
  // it is pending again.
  EXPECT_TRUE(webhook_batches(pg, key, d.id, "delivered").empty());
  EXPECT_EQ(pg.account(key, "GET", "/v1/webhooks/" + d.id).json()["stats"]["pending_batches"], 0);

  // New events continue the account's numbering: the healthy webhook gets one.
  ASSERT_EQ(pg.platform("POST", "/v1/accounts/" + account + "/events", event_body(6, "m-6")).status, 202);
  ASSERT_TRUE(eventually([&] { return event_ids_in(since(healthy, d_before)).count("m-6") == 1; }));
  EXPECT_EQ(event_ids_in(since(healthy, d_before)), std::set<std::string>{"m-6"});
  for (const auto& q : since(healthy, d_before)) to_verify.push_back({d.secret, q});

  expect_standardwebhooks_verifies(to_verify);
}

TEST_F(MigrateTest, WithHistoryTheDeliveredBatchesComeAlong) {
  Receiver healthy;
  Server src;
  auto [account, key] = src.create_account();
  auto d = add_webhook(src, key, healthy.url());
  ASSERT_EQ(src.platform("POST", "/v1/accounts/" + account + "/events", event_body(1, "h-1")).status, 202);
  ASSERT_TRUE(eventually([&] { return webhook_batches(src, key, d.id, "delivered").size() == 1; }));
  const auto delivered = ids_of(webhook_batches(src, key, d.id, "delivered"));
  src.stop();
  PgDatabase db(test_pg_cluster_url());
  auto moved = run_command(
      {GROWHOOK_BINARY, "migrate", "--data-dir", src.data_dir(), "--database", db.url(), "--with-history"});
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  Server pg(std::vector<std::string>{"--database", db.url(), "--node-id", "pg-h"}, "",
            {{"GROWHOOK_SECRETS_KEYS", read_key_file(src.data_dir())}});
  auto now = webhook_batches(pg, key, d.id, "delivered");
  EXPECT_EQ(ids_of(now), delivered);
  ASSERT_EQ(now.size(), 1u);
  auto detail = pg.account(key, "GET", "/v1/batches/" + now[0]["id"].get<std::string>());
  ASSERT_EQ(detail.status, 200) << detail.body;
  EXPECT_NE(detail.body.find("h-1"), std::string::npos) << "the batch's events were not carried: " << detail.body;
}

TEST_F(MigrateTest, ADatabaseWithOtherTablesOrARunningNodeIsRefused) {
  Server src;
  PgDatabase db(test_pg_cluster_url());
  auto busy = run_command({GROWHOOK_BINARY, "migrate", "--data-dir", src.data_dir(), "--database", db.url()});
  EXPECT_EQ(busy.exit_code, 2) << busy.output;
  EXPECT_NE(busy.output.find("stop growhook serve first"), std::string::npos) << busy.output;
  src.stop();
  db.query("CREATE TABLE invoices(id int)");
  auto foreign = run_command({GROWHOOK_BINARY, "migrate", "--data-dir", src.data_dir(), "--database", db.url()});
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_NE(foreign.output.find("invoices"), std::string::npos) << foreign.output;
  // Nothing was written: the database still has only its own table.
  EXPECT_EQ(db.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
            (std::vector<std::vector<std::string>>{{"1"}}));
}

}  // namespace
}  // namespace e2e
