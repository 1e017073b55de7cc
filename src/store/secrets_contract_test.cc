// Secrets at rest, on both stores: the webhooks' signing secrets and their
// receivers' credentials are sealed in the database (store/codec.h), a
// store in clear is sealed when it opens, and keys that do not open it stop
// the open with an error naming the key.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/secret_box.h"
#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

const std::string kOtherKeys = "b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMTI=";  // 32 bytes, not the test key

class SecretsContract : public StoreContractTest {
 protected:
  // The database's whole content as an operator's copy would hold it: the
  // SQLite folder's files (WAL included) or pg_dump's output.
  std::string database_bytes() {
    std::string out;
    if (GetParam() == Backend::kSqlite) {
      for (const auto& f : std::filesystem::directory_iterator(db_.dir())) {
        if (f.path().filename() == "secrets.key") continue;  // the key file: not part of the database
        std::ifstream in(f.path(), std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        out += s.str();
      }
      return out;
    }
    std::string cmd = "pg_dump --no-owner -n " + db_.schema() + " '" + db_.admin_url() + "'";
    FILE* p = popen(cmd.c_str(), "r");
    EXPECT_NE(p, nullptr);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << cmd;
    EXPECT_NE(out.find("CREATE TABLE"), std::string::npos) << "pg_dump printed no schema";
    return out;
  }

  // One statement on the closed store's database, outside any store.
  void raw(const std::string& sql) {
    if (GetParam() == Backend::kPostgres) return pg_admin(db_.admin_url(), "SET search_path = " + db_.schema() + "; " + sql);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((db_.dir() + "/growhook.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  void reopen(const std::string& keys = "") {
    store_.reset();
    auto s = db_.open(keys);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s->store);
  }
};
GH_STORE_CONTRACT(SecretsContract);

TEST_P(SecretsContract, NoSecretOrCredentialIsInTheDatabaseInClear) {
  Account a = add_account(st());
  Webhook bearer = add_webhook(st(), a, T + 1), basic = add_webhook(st(), a, T + 2), header = add_webhook(st(), a, T + 3);
  bearer.auth = {WebhookAuth::Kind::kBearer, "", "", "tok_BearerInTheClear1", "", ""};
  bearer.secret = "whsec_Q3VycmVudFNpZ25pbmdTZWNyZXQ=";
  bearer.previous_secret = "whsec_UHJldmlvdXNTaWduaW5nU2VjcmV0";
  bearer.previous_secret_expires_ms = T + 86'400'000;
  basic.auth = {WebhookAuth::Kind::kBasic, "crm-user", "Pa55wordInTheClear", "", "", ""};
  header.auth = {WebhookAuth::Kind::kHeader, "", "", "", "X-Crm-Key", "HeaderValueInTheClear"};
  for (const auto& w : {bearer, basic, header}) ASSERT_TRUE(st().update_webhook(w).ok());

  auto got = st().get_webhook(a.id, bearer.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->secret, bearer.secret);
  EXPECT_EQ(got->previous_secret, bearer.previous_secret);
  EXPECT_EQ(got->auth.token, "tok_BearerInTheClear1");
  auto listed = st().list_webhooks(a.id, "", 10);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[1].auth.password, "Pa55wordInTheClear");
  EXPECT_EQ((*listed)[2].auth.header_value, "HeaderValueInTheClear");

  store_.reset();  // everything on disk, WAL included
  const std::string bytes = database_bytes();
  ASSERT_NE(bytes.find(bearer.id), std::string::npos) << "the copy holds the webhooks";
  for (const char* clear : {"Q3VycmVudFNpZ25pbmdTZWNyZXQ", "UHJldmlvdXNTaWduaW5nU2VjcmV0", "whsec_test",
                            "tok_BearerInTheClear1", "Pa55wordInTheClear", "HeaderValueInTheClear"}) {
    EXPECT_EQ(bytes.find(clear), std::string::npos) << clear << " is in the database in clear";
  }
}

TEST_P(SecretsContract, ValuesInClearOfAnOlderStoreAreSealedWhenItOpens) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T + 1), none = add_webhook(st(), a, T + 2);
  store_.reset();
  // What a store from before the sealing (schema 7) held: every value in
  // clear, at schema 6 (the earlier migrations must not run twice).
  raw("UPDATE webhooks SET secret = 'whsec_T2xkQ2xlYXI=', previous_secret = 'whsec_T2xkUHJldmlvdXM=', "
      "auth = '{\"type\":\"bearer\",\"token\":\"tok_old_clear\"}' WHERE id = '" + w.id + "'; "
      "UPDATE webhooks SET secret = 'whsec_Tm9uZQ==', previous_secret = '', auth = '{}' WHERE id = '" + none.id + "'; "
      "UPDATE meta SET value = '6' WHERE key = 'schema_version'; "
      // nor the columns of the migrations after 7 (11: work, its indexes first)
      "DROP INDEX webhooks_with_work; DROP INDEX webhooks_failing; DROP INDEX batches_due_at; "
      "DROP INDEX accounts_to_prune; ALTER TABLE webhooks DROP COLUMN work_seq; ALTER TABLE accounts DROP COLUMN prune_at; "
      // (8: health)
      "ALTER TABLE webhooks DROP COLUMN failing_since; ALTER TABLE webhooks DROP COLUMN failure_streak; "
      "ALTER TABLE webhooks DROP COLUMN probe_count; ALTER TABLE webhooks DROP COLUMN next_probe_at; "
      "ALTER TABLE webhooks DROP COLUMN last_error; "
      // (10: notifications)
      "ALTER TABLE accounts DROP COLUMN notification_email; DROP TABLE notifications");
  reopen();
  EXPECT_EQ(st().get_meta("schema_version")->value_or(""), std::to_string(kSchemaVersion));
  auto got = st().get_webhook(a.id, w.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->secret, "whsec_T2xkQ2xlYXI=");
  EXPECT_EQ(got->previous_secret, "whsec_T2xkUHJldmlvdXM=");
  EXPECT_EQ(got->auth.kind, WebhookAuth::Kind::kBearer);
  EXPECT_EQ(got->auth.token, "tok_old_clear");
  auto plain = st().get_webhook(a.id, none.id);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->secret, "whsec_Tm9uZQ==");
  EXPECT_EQ(plain->auth.kind, WebhookAuth::Kind::kNone);
  store_.reset();
  const std::string bytes = database_bytes();
  for (const char* clear : {"T2xkQ2xlYXI", "T2xkUHJldmlvdXM", "tok_old_clear", "Tm9uZQ"})
    EXPECT_EQ(bytes.find(clear), std::string::npos) << clear << " stayed in clear";
  reopen();  // sealing twice changes nothing
  EXPECT_EQ(st().get_webhook(a.id, w.id)->secret, "whsec_T2xkQ2xlYXI=");
}

TEST_P(SecretsContract, KeysThatDoNotOpenTheStoreStopTheOpenNamingTheKey) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T + 1);
  store_.reset();
  auto refused = db_.open(kOtherKeys);
  ASSERT_FALSE(refused.ok()) << "a store opened with keys that seal none of its secrets";
  EXPECT_NE(refused.error().message.find("which GROWHOOK_SECRETS_KEYS does not hold"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find(w.id), std::string::npos) << refused.error().message;
  // A ring that holds the old key second opens it.
  std::string old_keys = kTestSecretsKeys;
  if (GetParam() == Backend::kSqlite) {
    std::ifstream in(db_.dir() + "/secrets.key");
    std::getline(in, old_keys);
  }
  reopen(kOtherKeys + "," + old_keys);
  EXPECT_EQ(st().get_webhook(a.id, w.id)->secret, "whsec_test");
}

TEST_P(SecretsContract, AValueMovedToAnotherWebhookDoesNotOpen) {
  Account a = add_account(st());
  Webhook w1 = add_webhook(st(), a, T + 1), w2 = add_webhook(st(), a, T + 2);
  w1.secret = "whsec_T25lU2VjcmV0";
  ASSERT_TRUE(st().update_webhook(w1).ok());
  store_.reset();
  raw("UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE id = '" + w1.id + "') WHERE id = '" + w2.id +
      "'");
  auto refused = db_.open();
  ASSERT_FALSE(refused.ok()) << "a secret copied from another webhook opened";
  EXPECT_NE(refused.error().message.find(w2.id), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("does not open"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace growhook::store_test
