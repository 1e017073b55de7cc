// What the store contract tests share (*_contract_test.cc, one file a
// role, and postgres_nodes_test.cc): a database for one test on either
// backend, short ways to set up a scene, and the fixture that runs a test
// on both stores: SQLite always (in a temporary folder), PostgreSQL when
// GROWHOOK_TEST_PG_URL names a database (scripts/pg-test-cluster.sh starts
// one). Each PostgreSQL test works in a schema of its own, dropped at the
// end, so tests may run in parallel processes against one database.
//
// A role's file derives its fixture from StoreContractTest and instantiates
// it on both backends:
//   class WorkQueueContract : public StoreContractTest {};
//   GH_STORE_CONTRACT(WorkQueueContract);
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ids.h"
#include "store/open_store.h"
#include "store/postgres_store.h"
#include "store/schema_rollback_for_tests.h"
#include "store/schema_version.h"
#include "store/store.h"

namespace growhook::store_test {

inline constexpr int64_t T = 1'700'000'000'000;
inline constexpr const char* kPgUrlVar = "GROWHOOK_TEST_PG_URL";
// GROWHOOK_SECRETS_KEYS of the PostgreSQL stores under test (SQLite's use
// their data folder's key file).
inline constexpr const char* kTestSecretsKeys = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

inline void PrintTo(Backend b, std::ostream* os) { *os << (b == Backend::kSqlite ? "SQLite" : "PostgreSQL"); }

// Runs one statement on the test database outside any store.
inline void pg_admin(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
}

// A database for one test: a SQLite folder, or a PostgreSQL schema whose
// connections carry an application_name of their own.
class TestDatabase {
 public:
  // Empty when this backend cannot run here (the reason in *skip).
  bool start(Backend b, std::string* skip) {
    backend_ = b;
    std::string tag = new_id("t", T);
    if (b == Backend::kSqlite) {
      dir_ = (std::filesystem::temp_directory_path() / ("growhook-store-" + tag)).string();
      return true;
    }
    const char* base = std::getenv(kPgUrlVar);
    if (base == nullptr || *base == '\0') {
      *skip = std::string(kPgUrlVar) + " is not set; start a database with scripts/pg-test-cluster.sh start DIR";
      return false;
    }
    admin_url_ = base;
    schema_ = tag;
    app_name_ = "gh_" + tag;
    pg_admin(admin_url_, "CREATE SCHEMA " + schema_);
    std::string sep = admin_url_.find('?') == std::string::npos ? "?" : "&";
    url_ = admin_url_ + sep + "options=-c%20search_path%3D" + schema_ + "&application_name=" + app_name_;
    return true;
  }

  ~TestDatabase() {
    if (!schema_.empty()) pg_admin(admin_url_, "DROP SCHEMA " + schema_ + " CASCADE");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // keys: GROWHOOK_SECRETS_KEYS; "" for the defaults (SQLite: the data
  // folder's key file; PostgreSQL: kTestSecretsKeys).
  Result<OpenedStore> open(const std::string& keys = "") {
    if (backend_ == Backend::kSqlite) {
      StoreConfig c;
      c.data_dir = dir_;
      c.pg_pool_size = 8;
      c.secrets_keys = keys;
      return open_store(c);
    }
    return open_postgres_store(url_, 4, keys.empty() ? kTestSecretsKeys : keys);
  }

  // Turns the (closed) database back into what schema 1 left: without the
  // column migration 2 adds, the indexes of 5, and what the migrations
  // after 7 add (schema_rollback_for_tests.h),
  // (SQLite) with the indexes of schema 1, at schema_version 1.
  void back_to_schema_1() {
    std::string sql =
        std::string(growhook::testing::kUndoMigrationsAfter7) +
        "; ALTER TABLE webhooks DROP COLUMN batch_max_bytes; UPDATE meta SET value = '1' WHERE key = "
        "'schema_version'; DROP INDEX events_by_msisdn; DROP INDEX events_by_email; DROP INDEX "
        "batches_by_webhook_first_seq; ALTER TABLE events DROP COLUMN msisdn; ALTER TABLE events DROP COLUMN email";
    if (backend_ == Backend::kPostgres) return pg_admin(admin_url_, "SET search_path = " + schema_ + "; " + sql);
    sql +=
        "; DROP INDEX batches_by_account_first_seq; DROP INDEX batches_finished;"
        " CREATE INDEX batches_by_webhook ON batches(webhook_id, id);"
        " CREATE INDEX batches_by_state_updated ON batches(state, updated_at)";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/growhook.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  const std::string& admin_url() const { return admin_url_; }
  const std::string& dir() const { return dir_; }  // SQLite's data folder
  const std::string& app_name() const { return app_name_; }
  const std::string& schema() const { return schema_; }

 private:
  Backend backend_ = Backend::kSqlite;
  std::string dir_, admin_url_, schema_, url_, app_name_;
};

inline IncomingEvent event(const std::string& id, int64_t occurred_ms, EventType type = EventType::kSubscribed) {
  IncomingEvent e;
  e.type = type;
  e.occurred_at_ms = occurred_ms;
  e.occurred_at = "2024-01-01T00:00:00.000Z";
  e.data_json = R"({"msisdn":5599999999999})";
  e.msisdn = 5599999999999;
  set_event_id(e, id);
  return e;
}

inline std::vector<std::string> ids_of(const std::string& events_json) {
  std::vector<std::string> out;
  for (const auto& e : nlohmann::json::parse(events_json)) out.push_back(e.at("id").get<std::string>());
  return out;
}

inline std::vector<std::string> ids_of(const std::vector<ClaimedBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (auto& id : ids_of(b.events_json)) out.push_back(id);
  }
  return out;
}

// Helpers shared by the fixtures: short ways to set up a scene.
class StoreScene {
 protected:
  Account add_account(Store& s, int64_t now = T) {
    Account a{new_id("acc", now), "shop", now};
    EXPECT_TRUE(s.create_account(a, "keyhash-" + a.id).ok());
    return a;
  }

  Webhook add_webhook(Store& s, const Account& a, int64_t now = T, int batch_max = 100,
                      uint8_t types = kAllEventTypes, int batch_max_bytes = 1 << 20) {
    Webhook w;
    w.id = new_id("wh", now);
    w.account_id = a.id;
    w.name = "crm";
    w.url = "https://example.com/hook";
    w.event_types = types;
    w.batch_max_events = batch_max;
    w.batch_max_bytes = batch_max_bytes;
    w.secret = "whsec_test";
    w.created_at_ms = w.updated_at_ms = now;
    auto s1 = s.create_webhook(w);
    EXPECT_TRUE(s1.ok()) << s1.error().message;
    return w;
  }

  AppendOutcome append(Store& s, const Account& a, std::vector<IncomingEvent> events, int64_t now = T) {
    AppendRequest req{a.id, std::move(events), now};
    auto r = s.append_events(std::span<const AppendRequest>(&req, 1));
    EXPECT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].ok()) << r[0].error().message;
    return r[0].ok() ? *r[0] : AppendOutcome{};
  }

  std::vector<ClaimedBatch> claim(Store& s, int64_t now, const std::string& owner = "node-a", int per_webhook = 4,
                                  int max_batches = 64, std::unordered_map<std::string, int> in_flight = {},
                                  int64_t lease_ms = 60'000, size_t max_bytes = 1 << 20) {
    ClaimRequest req;
    req.now_ms = now;
    req.owner = owner;
    req.lease_ms = lease_ms;
    req.per_webhook_in_flight = per_webhook;
    req.max_batches = max_batches;
    req.max_batch_bytes = max_bytes;
    req.in_flight = std::move(in_flight);
    auto r = s.record_and_claim({}, req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(*r) : std::vector<ClaimedBatch>{};
  }

  static AttemptOutcome outcome(const ClaimedBatch& c, const std::string& owner, BatchState state, int status,
                                int64_t at, std::optional<int64_t> next = std::nullopt) {
    AttemptOutcome o;
    o.batch_id = c.batch.id;
    o.webhook_id = c.webhook.id;
    o.owner = owner;
    o.attempt_number = c.next_attempt_number;
    o.by_contact = c.by_contact;
    o.attempt = {at, status, 5, status >= 200 && status < 300 ? "" : "HTTP " + std::to_string(status), "body"};
    o.new_state = state;
    o.next_attempt_at_ms = next;
    return o;
  }

  void record(Store& s, const AttemptOutcome& o) {
    auto st = s.record_outcomes(std::span<const AttemptOutcome>(&o, 1));
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
};

class StoreContractTest : public ::testing::TestWithParam<Backend>, protected StoreScene {
 protected:
  void SetUp() override {
    std::string skip;
    if (!db_.start(GetParam(), &skip)) GTEST_SKIP() << skip;
    auto s = db_.open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s->store);
  }
  void TearDown() override { store_.reset(); }

  Store& st() { return *store_; }

  TestDatabase db_;
  std::unique_ptr<Store> store_;
};

}  // namespace growhook::store_test

#define GH_STORE_CONTRACT(fixture)                                                                            \
  INSTANTIATE_TEST_SUITE_P(Stores, fixture,                                                                   \
                           ::testing::Values(::growhook::store_test::Backend::kSqlite,                        \
                                             ::growhook::store_test::Backend::kPostgres),                     \
                           ::growhook::store_test::backend_name)
