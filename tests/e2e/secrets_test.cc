// End-to-end: secrets at rest. Deliveries stay signed with the secret the
// owner was shown (checked with the npm `standardwebhooks` package) across
// a restart and across a key rotation whose `growhook reencrypt` runs while
// events flow; a start with keys that open nothing is refused with its
// message; a store written in clear before is sealed at its first start.
// Runs on both stores (GROWHOOK_E2E_STORE).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

const std::string kKey1 = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const std::string kKey2 = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";
const std::string kKey3 = "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=";

std::map<std::string, std::string> keys(const std::string& k) { return {{"GROWHOOK_SECRETS_KEYS", k}}; }

// Every request verified with standardwebhooks with secret.
void expect_all_verify(const std::vector<ReceivedRequest>& requests, const std::string& secret) {
  std::vector<Signed> messages;
  for (const auto& r : requests) messages.push_back({secret, r});
  expect_standardwebhooks_verifies(messages);
}

std::vector<std::string> store_args(const Server& s) {
  if (s.database_url().empty()) return {"--data-dir", s.data_dir()};
  return {"--database", s.database_url()};
}

CommandResult reencrypt(const Server& s, const std::string& k) {
  std::vector<std::string> argv = {GROWHOOK_BINARY, "reencrypt"};
  for (auto& a : store_args(s)) argv.push_back(a);
  return run_command(argv, keys(k));
}

CommandResult serve_once(const Server& s, const std::string& k) {
  std::vector<std::string> argv = {GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0"};
  for (auto& a : store_args(s)) argv.push_back(a);
  if (!s.node_id().empty()) argv.insert(argv.end(), {"--node-id", s.node_id() + "-refused"});
  auto env = keys(k);
  env["GROWHOOK_PLATFORM_TOKEN"] = kPlatformToken;
  return run_command(argv, env);
}

bool all_bearer(const Receiver& rx) {
  for (const auto& r : rx.requests()) {
    auto it = r.headers.find("authorization");
    if (it == r.headers.end() || it->second != "Bearer tok_e2e_secret_at_rest") return false;
  }
  return true;
}

TEST(SecretsAtRest, DeliveriesVerifyAcrossARestartAndARotationWithReencryptWhileEventsFlow) {
  Receiver rx;
  // Each start with other keys is a Server of its own on the first one's
  // folder (or database); the first owns it and outlives them.
  auto first = std::make_unique<Server>(std::vector<std::string>{}, "", keys(kKey1));
  Server* node = first.get();
  std::vector<std::unique_ptr<Server>> later;
  auto restart_with = [&](const std::string& k) {
    node->stop();
    later.push_back(std::make_unique<Server>(std::vector<std::string>{}, first->data_dir(), keys(k)));
    node = later.back().get();
  };
  auto [account, key] = node->create_account();
  auto hook = add_webhook(*node, key, rx.url(), {{"auth", {{"type", "bearer"}, {"token", "tok_e2e_secret_at_rest"}}}});
  std::set<std::string> acked;
  int n = 0;
  auto post = [&](Server& s) {
    const std::string id = "s-" + std::to_string(++n);
    auto r = s.platform("POST", "/v1/accounts/" + account + "/events", event_body(n, id));
    if (r.status == 202) acked.insert(id);
    return r.status;
  };
  auto all_delivered = [&] { return eventually([&] { return event_ids_in(rx.requests()) == acked; }, std::chrono::seconds(60)); };
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(*node), 202);
  ASSERT_TRUE(all_delivered());

  // A restart: the same sealed secret signs.
  node->stop();
  node->start();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(*node), 202);
  ASSERT_TRUE(all_delivered());

  // Rotation: the new key first, the node restarted, reencrypt while events flow.
  restart_with(kKey2 + "," + kKey1);
  std::atomic<bool> flowing{true};
  std::thread producer([&] {
    while (flowing) {
      EXPECT_EQ(post(*node), 202);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  ASSERT_TRUE(eventually([&] { return rx.count() >= 8; }));
  auto resealed = reencrypt(*node, kKey2 + "," + kKey1);
  flowing = false;
  producer.join();
  EXPECT_EQ(resealed.exit_code, 0) << resealed.output;
  EXPECT_NE(resealed.output.find("the other keys can be dropped"), std::string::npos) << resealed.output;
  ASSERT_TRUE(all_delivered());

  // The old key dropped: everything still opens and signs.
  restart_with(kKey2);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(*node), 202);
  ASSERT_TRUE(all_delivered());
  auto got = node->account(key, "GET", "/v1/webhooks/" + hook.id);
  ASSERT_EQ(got.status, 200) << got.body;
  node->stop();

  expect_all_verify(rx.requests(), hook.secret);
  EXPECT_TRUE(all_bearer(rx)) << "a delivery lost its receiver's credential";

  // Keys that open nothing: refused, naming the problem; so is a malformed key.
  auto wrong = serve_once(*node, kKey3);
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;
  EXPECT_NE(wrong.output.find("which GROWHOOK_SECRETS_KEYS does not hold"), std::string::npos) << wrong.output;
  if (!node->database_url().empty()) {
    auto without = serve_once(*node, "");
    EXPECT_NE(without.exit_code, 0) << without.output;
    EXPECT_NE(without.output.find("a PostgreSQL store needs GROWHOOK_SECRETS_KEYS, the same on every node"),
              std::string::npos)
        << without.output;
  }
  auto malformed = serve_once(*node, "bm90IDMyIGJ5dGVz");
  EXPECT_NE(malformed.exit_code, 0) << malformed.output;
  EXPECT_NE(malformed.output.find("GROWHOOK_SECRETS_KEYS: key 1 is not the base64 of 32 bytes"), std::string::npos)
      << malformed.output;
}

TEST(SecretsAtRest, AStoreWrittenInClearIsSealedAtItsFirstStartAndSignsAsBefore) {
  GROWHOOK_E2E_SQLITE_ONLY("it writes the old schema's clear values with sqlite3");
  Receiver rx;
  Server old;  // owns the folder
  auto [account, key] = old.create_account();
  auto hook = add_webhook(old, key, rx.url(), {{"auth", {{"type", "bearer"}, {"token", "tok_e2e_secret_at_rest"}}}});
  const std::string dir = old.data_dir();
  old.stop();
  // What a growhook from before the sealing kept: the secret and the token
  // in clear, at the schema before the sealing's (7; the earlier migrations
  // are the folder's already and must not run twice).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/growhook.db").c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE webhooks SET secret = '" + hook.secret +
                          "', auth = '{\"type\":\"bearer\",\"token\":\"tok_e2e_secret_at_rest\"}'; "
                          "UPDATE meta SET value = '6' WHERE key = 'schema_version'; "
                          // nor what the migrations after 7 add (11: work, its indexes first; 8: health,
                          // 10: notifications; 9 makes its index IF NOT EXISTS)
                          "DROP INDEX webhooks_with_work; DROP INDEX webhooks_failing; DROP INDEX batches_due_at; "
                          "DROP INDEX accounts_to_prune; ALTER TABLE webhooks DROP COLUMN work_seq; "
                          "ALTER TABLE accounts DROP COLUMN prune_at; "
                          "ALTER TABLE webhooks DROP COLUMN failing_since; ALTER TABLE webhooks DROP COLUMN "
                          "failure_streak; ALTER TABLE webhooks DROP COLUMN probe_count; ALTER TABLE webhooks DROP "
                          "COLUMN next_probe_at; ALTER TABLE webhooks DROP COLUMN last_error; ALTER TABLE accounts "
                          "DROP COLUMN notification_email; DROP TABLE notifications";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  std::filesystem::remove(dir + "/secrets.key");  // as before: no key file yet

  auto node = std::make_unique<Server>(std::vector<std::string>{}, dir);
  ASSERT_EQ(node->platform("POST", "/v1/accounts/" + account + "/events", event_body(1, "clear-1")).status, 202);
  ASSERT_TRUE(eventually([&] { return rx.count() >= 1; }));
  node->stop();
  EXPECT_TRUE(std::filesystem::exists(dir + "/secrets.key"));
  std::string bytes;  // the database with its WAL, without the key file
  for (const char* f : {"/growhook.db", "/growhook.db-wal"}) {
    std::ifstream in(dir + f, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(bytes.find(hook.secret.substr(6)), std::string::npos) << "the secret stayed in clear";
  EXPECT_EQ(bytes.find("tok_e2e_secret_at_rest"), std::string::npos) << "the token stayed in clear";
  expect_all_verify(rx.requests(), hook.secret);
  EXPECT_TRUE(all_bearer(rx));
}

}  // namespace
}  // namespace e2e
