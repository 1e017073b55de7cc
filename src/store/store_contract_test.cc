// The Store contract (store.h), run against every implementation: SQLite
// always (in a temporary folder), PostgreSQL when GROWHOOK_TEST_PG_URL names
// a database (scripts/pg-test-cluster.sh starts one). Each PostgreSQL test
// works in a schema of its own, dropped at the end, so tests may run in
// parallel processes against one database.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/ids.h"
#include "store/open_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace growhook {
namespace {

constexpr int64_t T = 1'700'000'000'000;
constexpr const char* kPgUrlVar = "GROWHOOK_TEST_PG_URL";

enum class Backend { kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

void PrintTo(Backend b, std::ostream* os) { *os << (b == Backend::kSqlite ? "SQLite" : "PostgreSQL"); }

// Runs one statement on the test database outside any store.
void pg_admin(const std::string& url, const std::string& sql) {
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

  Result<OpenedStore> open() {
    if (backend_ == Backend::kSqlite) return open_store({"", dir_});
    return open_postgres_store(url_, 4);
  }

  // Turns the (closed) database back into what schema 1 left: without the
  // column migration 2 adds and (SQLite) with the indexes of schema 1, at
  // schema_version 1.
  void back_to_schema_1() {
    std::string sql =
        "ALTER TABLE webhooks DROP COLUMN batch_max_bytes; UPDATE meta SET value = '1' WHERE key = 'schema_version'";
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
  const std::string& app_name() const { return app_name_; }
  const std::string& schema() const { return schema_; }

 private:
  Backend backend_ = Backend::kSqlite;
  std::string dir_, admin_url_, schema_, url_, app_name_;
};

IncomingEvent event(const std::string& id, int64_t occurred_ms, EventType type = EventType::kSubscribed) {
  IncomingEvent e;
  e.type = type;
  e.occurred_at_ms = occurred_ms;
  e.occurred_at = "2024-01-01T00:00:00.000Z";
  e.data_json = R"({"msisdn":5599999999999})";
  set_event_id(e, id);
  return e;
}

std::vector<std::string> ids_of(const std::string& events_json) {
  std::vector<std::string> out;
  for (const auto& e : nlohmann::json::parse(events_json)) out.push_back(e.at("id").get<std::string>());
  return out;
}

std::vector<std::string> ids_of(const std::vector<ClaimedBatch>& batches) {
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
    req.per_webhook_limit = per_webhook;
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

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         backend_name);

TEST_P(StoreContractTest, AccountsAreFoundByIdAndKeyHash) {
  Account a = add_account(st());
  auto got = st().get_account(a.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "shop");
  EXPECT_EQ(got->created_at_ms, T);
  auto by_key = st().account_by_key_hash("keyhash-" + a.id);
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->id, a.id);
  EXPECT_EQ(st().account_by_key_hash("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_account("acc_missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().create_account(a, "another-hash").error().code, ErrorCode::kConflict);
  Account b{new_id("acc", T), "other", T};
  EXPECT_EQ(st().create_account(b, "keyhash-" + a.id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(st().get_account(b.id).error().code, ErrorCode::kNotFound) << "a failed call changes nothing";
}

TEST_P(StoreContractTest, AddMetaKeepsTheFirstValue) {
  auto first = st().add_meta("k", "one");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, "one");
  auto second = st().add_meta("k", "two");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "one");
  EXPECT_EQ(st().get_meta("k")->value_or(""), "one");
}

TEST_P(StoreContractTest, MetaKeepsTheLastValue) {
  auto none = st().get_meta("platform_token");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(st().set_meta("platform_token", "h1").ok());
  ASSERT_TRUE(st().set_meta("platform_token", "h2").ok());
  EXPECT_EQ(st().get_meta("platform_token")->value_or(""), "h2");
}

TEST_P(StoreContractTest, AppendIsIdempotentPerEventId) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  auto first = append(st(), a, {event("e1", T), event("e2", T)});
  EXPECT_EQ(first.ids, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(first.stored, 2);
  auto again = append(st(), a, {event("e1", T), event("e3", T), event("e3", T)});
  EXPECT_EQ(again.ids, (std::vector<std::string>{"e1", "e3", "e3"}));
  EXPECT_EQ(again.stored, 1);
  // Another account may use the same ids.
  Account b = add_account(st());
  EXPECT_EQ(append(st(), b, {event("e1", T)}).stored, 1);

  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, w.id);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"e1", "e2", "e3"}));
}

TEST_P(StoreContractTest, AGroupStoresAnIdOnceAcrossItsRequestsAndAccounts) {
  Account a = add_account(st()), b = add_account(st());
  Webhook wa = add_webhook(st(), a), wb = add_webhook(st(), b);
  append(st(), a, {event("old", T)});
  claim(st(), T);  // "old" is in a batch already
  std::vector<AppendRequest> reqs{{a.id, {event("x", T), event("y", T)}, T},
                                  {b.id, {event("x", T)}, T},
                                  {a.id, {event("y", T), event("old", T), event("z", T)}, T},
                                  {a.id, {event("x", T)}, T}};
  auto r = st().append_events(reqs);
  ASSERT_EQ(r.size(), 4u);
  for (auto& one : r) ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(r[0]->stored, 2);
  EXPECT_EQ(r[1]->stored, 1);
  EXPECT_EQ(r[2]->stored, 1);
  EXPECT_EQ(r[2]->ids, (std::vector<std::string>{"y", "old", "z"}));
  EXPECT_EQ(r[3]->stored, 0);
  std::map<std::string, std::vector<std::string>> by_hook;
  for (auto& c : claim(st(), T + 1)) {
    for (auto& id : ids_of(c.events_json)) by_hook[c.webhook.id].push_back(id);
  }
  EXPECT_EQ(by_hook[wa.id], (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(by_hook[wb.id], (std::vector<std::string>{"x"}));
}

TEST_P(StoreContractTest, AppendGroupFailsOnlyTheRequestOfAnUnknownAccount) {
  Account a = add_account(st()), b = add_account(st());
  add_webhook(st(), a);
  add_webhook(st(), b);
  std::vector<AppendRequest> reqs{{a.id, {event("a1", T)}, T},
                                  {"acc_unknown", {event("x1", T)}, T},
                                  {b.id, {event("b1", T), event("b2", T)}, T}};
  auto r = st().append_events(reqs);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0]->stored, 1);
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(r[2].ok());
  EXPECT_EQ(r[2]->stored, 2);
  std::multiset<std::string> delivered;
  for (auto& id : ids_of(claim(st(), T))) delivered.insert(id);
  EXPECT_EQ(delivered, (std::multiset<std::string>{"a1", "b1", "b2"}));
}

TEST_P(StoreContractTest, WebhooksAreCreatedListedUpdatedAndDeleted) {
  Account a = add_account(st()), other = add_account(st());
  Webhook w1 = add_webhook(st(), a, T + 1), w2 = add_webhook(st(), a, T + 2), w3 = add_webhook(st(), a, T + 3);
  w1.auth.kind = WebhookAuth::Kind::kBearer;

  auto got = st().get_webhook(a.id, w2.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->url, w2.url);
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->batch_max_events, 100);
  EXPECT_EQ(got->batch_max_bytes, 1 << 20);

  auto page1 = st().list_webhooks(a.id, "", 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, w1.id);
  EXPECT_EQ((*page1)[1].id, w2.id);
  auto page2 = st().list_webhooks(a.id, w2.id, 2);
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].id, w3.id);

  w1.name = "renamed";
  w1.auth.token = "tok";
  w1.event_types = type_bit(EventType::kUnsubscribed);
  w1.batch_max_bytes = 4096;
  w1.updated_at_ms = T + 10;
  ASSERT_TRUE(st().update_webhook(w1).ok());
  auto updated = st().get_webhook(a.id, w1.id);
  EXPECT_EQ(updated->name, "renamed");
  EXPECT_EQ(updated->auth.kind, WebhookAuth::Kind::kBearer);
  EXPECT_EQ(updated->auth.token, "tok");
  EXPECT_EQ(updated->event_types, type_bit(EventType::kUnsubscribed));
  EXPECT_EQ(updated->batch_max_bytes, 4096);
  EXPECT_EQ(updated->updated_at_ms, T + 10);
  EXPECT_EQ(updated->created_at_ms, T + 1);

  // Another account sees none of it and can change none of it.
  EXPECT_EQ(st().get_webhook(other.id, w1.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(st().list_webhooks(other.id, "", 10)->empty());
  Webhook stolen = w1;
  stolen.account_id = other.id;
  EXPECT_EQ(st().update_webhook(stolen).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().delete_webhook(other.id, w1.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(st().get_webhook(a.id, w1.id).ok());

  EXPECT_EQ(st().create_webhook(w2).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(st().delete_webhook(a.id, w2.id).ok());
  EXPECT_EQ(st().get_webhook(a.id, w2.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().delete_webhook(a.id, w2.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().list_webhooks(a.id, "", 10)->size(), 2u);
}

TEST_P(StoreContractTest, DeletingAWebhookDeletesItsBatches) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T));
  ASSERT_TRUE(st().delete_webhook(a.id, w.id).ok());
  EXPECT_EQ(st().get_batch(a.id, got[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().counts()->failed_batches, 0);
}

TEST_P(StoreContractTest, NewWebhookGetsOnlyLaterEventsAndDisabledTimeIsSkipped) {
  Account a = add_account(st());
  append(st(), a, {event("before", T)});
  Webhook w = add_webhook(st(), a);
  append(st(), a, {event("after", T)});
  EXPECT_EQ(ids_of(claim(st(), T)), (std::vector<std::string>{"after"}));

  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {event("while-disabled", T)});
  EXPECT_TRUE(claim(st(), T + 1).empty());
  w.enabled = true;
  ASSERT_TRUE(st().update_webhook(w).ok());
  append(st(), a, {event("re-enabled", T)});
  EXPECT_EQ(ids_of(claim(st(), T + 2)), (std::vector<std::string>{"re-enabled"}));
  // An update that keeps it enabled does not move the cursor.
  append(st(), a, {event("kept", T)});
  w.name = "still on";
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_EQ(ids_of(claim(st(), T + 3)), (std::vector<std::string>{"kept"}));
}

TEST_P(StoreContractTest, ClaimCutsBatchesUpToTheWebhooksBatchSize) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, /*batch_max=*/2);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  auto got = claim(st(), T, "node-a", /*per_webhook=*/10);
  ASSERT_EQ(got.size(), 3u);
  std::vector<int> sizes;
  for (const auto& c : got) {
    sizes.push_back(c.batch.event_count);
    EXPECT_EQ(c.webhook.id, w.id);
    EXPECT_EQ(c.batch.state, BatchState::kPending);
    EXPECT_EQ(c.batch.cycle_attempts, 0);
    EXPECT_EQ(c.oldest_event_created_ms, T);
  }
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(ids_of(got), (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5"}));
  EXPECT_TRUE(claim(st(), T, "node-a", 10, 64, {{w.id, 3}}).empty());
}

TEST_P(StoreContractTest, ClaimCutsBatchesUpToMaxBatchBytes) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  size_t one = event_json("e1", EventType::kSubscribed, "2024-01-01T00:00:00.000Z", R"({"msisdn":5599999999999})")
                   .size();
  // "[" a "," b "]": two events fit, a third does not.
  auto got = claim(st(), T, "node-a", 10, 64, {}, 60'000, 2 + 2 * (one + 1));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].batch.event_count, 2);
  EXPECT_EQ(got[1].batch.event_count, 2);
  EXPECT_EQ(got[2].batch.event_count, 1);
  // An event larger than the limit still goes, alone.
  append(st(), a, {event("big1", T), event("big2", T)});
  auto big = claim(st(), T, "node-a", 10, 64, {}, 60'000, 10);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(ids_of(big), (std::vector<std::string>{"big1", "big2"}));
}

TEST_P(StoreContractTest, WebhooksKeepTheirBatchMaxBytes) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 100, kAllEventTypes, 2048);
  EXPECT_EQ(st().get_webhook(a.id, w.id)->batch_max_bytes, 2048);
  EXPECT_EQ(st().list_webhooks(a.id, "", 10)->at(0).batch_max_bytes, 2048);
  w.batch_max_bytes = 1 << 20;
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_EQ(st().get_webhook(a.id, w.id)->batch_max_bytes, 1 << 20);
}

TEST_P(StoreContractTest, ClaimCutsBatchesUpToTheWebhooksBatchMaxBytes) {
  Account a = add_account(st());
  std::vector<IncomingEvent> events;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {  // ids of one length: every event is as long
    ids.push_back("e0" + std::to_string(i));
    events.push_back(event(ids.back(), T));
  }
  size_t one = event_json("e00", EventType::kSubscribed, "2024-01-01T00:00:00.000Z", R"({"msisdn":5599999999999})")
                   .size();
  // "[" a "," b "," c "]": three events fit, a fourth does not.
  const size_t cap = 2 + 3 * (one + 1);
  Webhook small = add_webhook(st(), a, T, 100, kAllEventTypes, static_cast<int>(cap));
  Webhook wide = add_webhook(st(), a, T + 1);
  append(st(), a, events);
  auto got = claim(st(), T, "node-a", 10);  // the node's cap: 1 MiB
  std::vector<std::string> small_ids, wide_ids;
  std::vector<int> small_sizes;
  for (const auto& c : got) {
    auto batch_ids = ids_of(c.events_json);
    EXPECT_EQ(c.batch.event_count, static_cast<int>(batch_ids.size()));
    if (c.webhook.id == wide.id) {
      wide_ids.insert(wide_ids.end(), batch_ids.begin(), batch_ids.end());
      continue;
    }
    ASSERT_EQ(c.webhook.id, small.id);
    EXPECT_EQ(c.webhook.batch_max_bytes, static_cast<int>(cap));
    if (c.batch.event_count > 1) {
      EXPECT_LE(c.events_json.size(), cap) << c.events_json;
    }
    small_sizes.push_back(c.batch.event_count);
    small_ids.insert(small_ids.end(), batch_ids.begin(), batch_ids.end());
  }
  EXPECT_EQ(small_sizes, (std::vector<int>{3, 3, 3, 1}));
  EXPECT_EQ(small_ids, ids);  // each exactly once, in order
  EXPECT_EQ(wide_ids, ids);   // the other webhook: all in one batch
  EXPECT_EQ(got.size(), 5u);

  // The node's max_batch_bytes still caps a webhook that allows more.
  append(st(), a, {event("f00", T), event("f01", T)});
  auto capped = claim(st(), T, "node-a", 10, 64, {}, 60'000, 2 + (one + 1));
  ASSERT_EQ(capped.size(), 4u);
  for (const auto& c : capped) EXPECT_EQ(c.batch.event_count, 1);

  // An event larger than the webhook's cap still goes, alone.
  Webhook tiny = add_webhook(st(), a, T + 2, 100, kAllEventTypes, 10);
  append(st(), a, {event("g00", T), event("g01", T)});
  std::vector<int> tiny_sizes;
  for (const auto& c : claim(st(), T, "node-a", 10)) {
    if (c.webhook.id == tiny.id) tiny_sizes.push_back(c.batch.event_count);
  }
  EXPECT_EQ(tiny_sizes, (std::vector<int>{1, 1}));
}

TEST_P(StoreContractTest, ADatabaseOfSchema1GetsBatchMaxBytesOf1MiB) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 7);
  append(st(), a, {event("e1", T), event("e2", T)});
  store_.reset();
  db_.back_to_schema_1();
  auto reopened = db_.open();
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  store_ = std::move(reopened->store);
  EXPECT_EQ(st().get_meta("schema_version")->value_or(""), "4");
  auto got = st().get_webhook(a.id, w.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->batch_max_bytes, 1 << 20);
  EXPECT_EQ(got->batch_max_events, 7);
  EXPECT_EQ(got->name, w.name);
  EXPECT_EQ(ids_of(claim(st(), T)), (std::vector<std::string>{"e1", "e2"}));
}

TEST_P(StoreContractTest, WebhooksGetOnlyTheirEventTypes) {
  Account a = add_account(st());
  Webhook unsub = add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  append(st(), a,
         {event("s1", T), event("u1", T, EventType::kUnsubscribed), event("s2", T),
          event("u2", T, EventType::kUnsubscribed)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, unsub.id);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"u1", "u2"}));
  auto detail = st().get_batch(a.id, got[0].batch.id);
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(ids_of(detail->events_json), (std::vector<std::string>{"u1", "u2"}));
  // Nothing of its type pending: no batch, and nothing counts as pending.
  append(st(), a, {event("s3", T)});
  EXPECT_EQ(st().counts()->pending_events, 0);
  EXPECT_TRUE(claim(st(), T).empty());
}

TEST_P(StoreContractTest, ClaimRespectsPerWebhookLimitAndMaxBatches) {
  Account a = add_account(st());
  Webhook w1 = add_webhook(st(), a, T, 1), w2 = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T), event("e5", T)});
  auto first = claim(st(), T, "node-a", /*per_webhook=*/2, /*max_batches=*/3);
  ASSERT_EQ(first.size(), 3u);
  std::map<std::string, int> per;
  for (const auto& c : first) per[c.webhook.id]++;
  EXPECT_LE(per[w1.id], 2);
  EXPECT_LE(per[w2.id], 2);
  std::unordered_map<std::string, int> in_flight(per.begin(), per.end());
  // Whatever is left of the limits: one batch of the webhook that had one.
  auto second = claim(st(), T, "node-a", 2, 64, in_flight);
  ASSERT_EQ(second.size(), 1u);
  in_flight[second[0].webhook.id]++;
  EXPECT_TRUE(claim(st(), T, "node-a", 2, 64, in_flight).empty());
  // A completion frees a slot.
  record(st(), outcome(first[0], "node-a", BatchState::kDelivered, 200, T));
  in_flight[first[0].webhook.id]--;
  auto third = claim(st(), T, "node-a", 2, 64, in_flight);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].webhook.id, first[0].webhook.id);
  EXPECT_TRUE(claim(st(), T, "node-a", 2, 0, {}).empty()) << "max_batches 0 claims nothing";
}

// Isolation: the due retries of a webhook at its limit must not hide another
// webhook's due retry, however many there are and however old.
TEST_P(StoreContractTest, ADueRetryIsNotHiddenBehindTheDueRetriesOfAWebhookAtItsLimit) {
  Account a = add_account(st());
  Webhook full = add_webhook(st(), a, T, 1), other = add_webhook(st(), a, T, 1);
  std::vector<IncomingEvent> events;
  for (int i = 0; i < 12; ++i) events.push_back(event("e" + std::to_string(i), T));
  append(st(), a, events);
  auto cut = claim(st(), T, "node-a", /*per_webhook=*/20);
  ASSERT_EQ(cut.size(), 24u);
  bool other_retry = false;
  for (const auto& c : cut) {
    if (c.webhook.id == full.id) {
      record(st(), outcome(c, "node-a", BatchState::kPending, 500, T, T + 100));
    } else if (!other_retry) {
      record(st(), outcome(c, "node-a", BatchState::kPending, 500, T, T + 200));  // due after all of full's
      other_retry = true;
    } else {
      record(st(), outcome(c, "node-a", BatchState::kDelivered, 200, T));
    }
  }
  // `full` has its 2 slots taken; the window of due batches (4 x max_batches
  // = 8) would hold only its 12 older ones.
  auto got = claim(st(), T + 1'000, "node-a", /*per_webhook=*/2, /*max_batches=*/2, {{full.id, 2}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, other.id);
}

TEST_P(StoreContractTest, ManyOutcomesAreRecordedInOneCall) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1), gone_hook = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T), event("e4", T)});
  auto got = claim(st(), T, "node-a", 8);
  ASSERT_EQ(got.size(), 8u);
  std::vector<AttemptOutcome> outs;
  std::map<std::string, std::string> expect;  // batch id -> state
  int n = 0;
  for (const auto& c : got) {
    if (c.webhook.id == gone_hook.id) {
      if (n++ == 0) {
        AttemptOutcome o = outcome(c, "node-a", BatchState::kFailed, 410, T + 10);
        o.disable_reason = "gone";
        outs.push_back(o);
        expect[c.batch.id] = "failed";
      } else {
        outs.push_back(outcome(c, "node-b", BatchState::kDelivered, 200, T + 10));  // lease not held: dropped
        expect[c.batch.id] = "pending";
      }
      continue;
    }
    bool retry = outs.size() % 2 == 0;
    outs.push_back(outcome(c, "node-a", retry ? BatchState::kPending : BatchState::kDelivered, retry ? 503 : 200,
                           T + 10, retry ? std::optional<int64_t>(T + 500) : std::nullopt));
    expect[c.batch.id] = retry ? "pending" : "delivered";
  }
  std::reverse(outs.begin(), outs.end());  // any order
  ASSERT_TRUE(st().record_outcomes(outs).ok());
  for (const auto& o : outs) {
    auto d = st().get_batch(a.id, o.batch_id);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(to_string(d->batch.state), expect[o.batch_id]) << o.batch_id;
    bool applied = o.owner == "node-a";
    ASSERT_EQ(d->batch.attempts.size(), applied ? 1u : 0u);
    if (!applied) continue;
    EXPECT_EQ(d->batch.attempts[0].status_code, o.attempt.status_code);
    EXPECT_EQ(d->batch.attempts[0].error, o.attempt.error);
    EXPECT_EQ(d->batch.next_attempt_at_ms, o.next_attempt_at_ms);
    EXPECT_EQ(d->batch.cycle_attempts, 1);
  }
  auto g = st().get_webhook(a.id, gone_hook.id);
  EXPECT_FALSE(g->enabled);
  EXPECT_EQ(g->disabled_reason, "gone");
  EXPECT_TRUE(st().get_webhook(a.id, w.id)->enabled);
  // The retries are due at their time; their second attempt is number 2.
  auto again = claim(st(), T + 500, "node-a", 8);
  ASSERT_EQ(again.size(), 2u);
  std::vector<AttemptOutcome> second;
  for (const auto& c : again) second.push_back(outcome(c, "node-a", BatchState::kDelivered, 200, T + 600));
  ASSERT_TRUE(st().record_outcomes(second).ok());
  for (const auto& c : again) {
    auto d = st().get_batch(a.id, c.batch.id);
    EXPECT_EQ(d->batch.state, BatchState::kDelivered);
    ASSERT_EQ(d->batch.attempts.size(), 2u);
    EXPECT_EQ(d->batch.attempts[1].at_ms, T + 600);
  }
}

TEST_P(StoreContractTest, EventsInABatchAreOrderedByOccurredAt) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("late", T + 300), event("early", T + 100), event("middle", T + 200)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"early", "middle", "late"}));
  auto detail = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(ids_of(detail->events_json), (std::vector<std::string>{"early", "middle", "late"}));
}

TEST_P(StoreContractTest, RecordedOutcomesChangeBatchesAndKeepAttempts) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 3u);

  // Delivered.
  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 10));
  auto d = st().get_batch(a.id, got[0].batch.id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  EXPECT_FALSE(d->batch.next_attempt_at_ms.has_value());
  ASSERT_EQ(d->batch.attempts.size(), 1u);
  EXPECT_EQ(d->batch.attempts[0].status_code, 200);
  EXPECT_EQ(d->batch.attempts[0].at_ms, T + 10);
  EXPECT_EQ(d->batch.attempts[0].duration_ms, 5);
  EXPECT_EQ(d->batch.attempts[0].response_body, "body");

  // Retry scheduled: not due before its time, due at it.
  record(st(), outcome(got[1], "node-a", BatchState::kPending, 500, T + 10, T + 1000));
  auto r = st().get_batch(a.id, got[1].batch.id);
  EXPECT_EQ(r->batch.state, BatchState::kPending);
  EXPECT_EQ(r->batch.next_attempt_at_ms, T + 1000);
  EXPECT_EQ(r->batch.cycle_attempts, 1);
  EXPECT_EQ(r->batch.attempts[0].error, "HTTP 500");
  EXPECT_TRUE(claim(st(), T + 999, "node-a", 4, 64, {{w.id, 1}}).empty());
  auto again = claim(st(), T + 1000, "node-a", 4, 64, {{w.id, 1}});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].batch.id, got[1].batch.id);
  EXPECT_EQ(again[0].batch.cycle_attempts, 1);
  EXPECT_EQ(ids_of(again[0].events_json), (std::vector<std::string>{"e2"}));
  record(st(), outcome(again[0], "node-a", BatchState::kFailed, 500, T + 1000));
  auto f = st().get_batch(a.id, got[1].batch.id);
  EXPECT_EQ(f->batch.state, BatchState::kFailed);
  EXPECT_EQ(f->batch.attempts.size(), 2u);
  EXPECT_EQ(f->batch.cycle_attempts, 2);

  // 410: failed, and the webhook is disabled with the reason.
  AttemptOutcome gone = outcome(got[2], "node-a", BatchState::kFailed, 410, T + 20);
  gone.disable_reason = "the receiver answered 410 Gone";
  record(st(), gone);
  auto disabled = st().get_webhook(a.id, w.id);
  EXPECT_FALSE(disabled->enabled);
  EXPECT_EQ(disabled->disabled_reason, "the receiver answered 410 Gone");
  append(st(), a, {event("e4", T)});
  EXPECT_TRUE(claim(st(), T + 2000).empty());
}

TEST_P(StoreContractTest, ResponseBodiesThatAreNotTextAreRecorded) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  AttemptOutcome o = outcome(got[0], "node-a", BatchState::kDelivered, 200, T);
  o.attempt.response_body = std::string("ok\0\xff\xc3", 5);  // a NUL and a UTF-8 sequence cut short
  record(st(), o);
  auto d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  ASSERT_EQ(d->batch.attempts.size(), 1u);
  EXPECT_EQ(d->batch.attempts[0].response_body.substr(0, 2), "ok");
}

TEST_P(StoreContractTest, AnUnrecordedLeaseExpiresAndALostLeaseIsDropped) {
  Account a = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T, "node-a", 4, 64, {}, /*lease_ms=*/1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(claim(st(), T + 999, "node-b", 4, 64, {}, 1000).empty());
  auto taken = claim(st(), T + 1000, "node-b", 4, 64, {}, 1000);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].batch.id, got[0].batch.id);
  EXPECT_EQ(ids_of(taken[0].events_json), (std::vector<std::string>{"e1"}));

  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 1001));
  auto d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kPending) << "node-a lost its lease: its outcome is dropped";
  EXPECT_TRUE(d->batch.attempts.empty());
  record(st(), outcome(taken[0], "node-b", BatchState::kDelivered, 200, T + 1002));
  d = st().get_batch(a.id, got[0].batch.id);
  EXPECT_EQ(d->batch.state, BatchState::kDelivered);
  EXPECT_EQ(d->batch.attempts.size(), 1u);
}

TEST_P(StoreContractTest, ReleaseLeasesFreesOneOwnerOrAll) {
  Account a = add_account(st());
  add_webhook(st(), a);
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto by_a = claim(st(), T, "node-a", 4, 1);
  auto by_b = claim(st(), T, "node-b", 4, 1);
  ASSERT_EQ(by_a.size(), 1u);
  ASSERT_EQ(by_b.size(), 1u);
  EXPECT_TRUE(claim(st(), T + 1, "node-c").empty());

  ASSERT_TRUE(st().release_leases("node-a").ok());
  auto c1 = claim(st(), T + 1, "node-c");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].batch.id, by_a[0].batch.id);

  ASSERT_TRUE(st().release_leases("").ok());
  std::set<std::string> ids;
  for (const auto& c : claim(st(), T + 2, "node-d")) ids.insert(c.batch.id);
  EXPECT_EQ(ids, (std::set<std::string>{by_a[0].batch.id, by_b[0].batch.id}));
}

TEST_P(StoreContractTest, NextDueIsTheEarliestAttemptOrLeaseEnd) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  EXPECT_FALSE(st().next_due_ms(T)->has_value());
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T, "node-a", 4, 64, {}, 1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*st().next_due_ms(T), T + 1000) << "leased: due again when the lease ends";
  record(st(), outcome(got[0], "node-a", BatchState::kPending, 503, T + 5, T + 5000));
  EXPECT_EQ(*st().next_due_ms(T + 10), T + 5000);
  w.enabled = false;
  ASSERT_TRUE(st().update_webhook(w).ok());
  EXPECT_FALSE(st().next_due_ms(T + 10)->has_value()) << "a disabled webhook's batches wait";
  w.enabled = true;
  ASSERT_TRUE(st().update_webhook(w).ok());
  auto again = claim(st(), T + 5000);
  ASSERT_EQ(again.size(), 1u);
  record(st(), outcome(again[0], "node-a", BatchState::kDelivered, 200, T + 5000));
  EXPECT_FALSE(st().next_due_ms(T + 5000)->has_value());
}

TEST_P(StoreContractTest, BatchesAreListedNewestFirstByStateAndPaged) {
  Account a = add_account(st()), other = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  std::vector<ClaimedBatch> made;
  for (int i = 0; i < 4; ++i) {
    append(st(), a, {event("e" + std::to_string(i), T)});
    auto got = claim(st(), T + i * 1000);
    ASSERT_EQ(got.size(), 1u);
    made.push_back(got[0]);
  }
  record(st(), outcome(made[0], "node-a", BatchState::kDelivered, 200, T + 5000));
  record(st(), outcome(made[1], "node-a", BatchState::kFailed, 500, T + 5000));
  record(st(), outcome(made[2], "node-a", BatchState::kDelivered, 200, T + 5000));

  auto all = st().list_batches(a.id, w.id, std::nullopt, "", 3);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, made[3].batch.id);
  EXPECT_EQ((*all)[1].id, made[2].batch.id);
  EXPECT_EQ((*all)[2].id, made[1].batch.id);
  EXPECT_EQ((*all)[2].attempts.size(), 1u);
  auto rest = st().list_batches(a.id, w.id, std::nullopt, (*all)[2].id, 3);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, made[0].batch.id);

  auto delivered = st().list_batches(a.id, w.id, BatchState::kDelivered, "", 10);
  ASSERT_EQ(delivered->size(), 2u);
  EXPECT_EQ((*delivered)[0].id, made[2].batch.id);
  EXPECT_EQ((*delivered)[1].id, made[0].batch.id);
  auto pending = st().list_batches(a.id, w.id, BatchState::kPending, "", 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, made[3].batch.id);
  EXPECT_EQ((*pending)[0].next_attempt_at_ms, T + 3000);
  auto failed = st().list_batches(a.id, w.id, BatchState::kFailed, "", 10);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_FALSE((*failed)[0].next_attempt_at_ms.has_value());

  EXPECT_TRUE(st().list_batches(other.id, w.id, std::nullopt, "", 10)->empty());
  EXPECT_EQ(st().get_batch(other.id, made[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_batch(a.id, "bat_missing").error().code, ErrorCode::kNotFound);

  auto stats = st().webhook_stats(a.id, {w.id});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[w.id].failed_batches, 1);
  EXPECT_EQ((*stats)[w.id].pending_batches, 1);
  EXPECT_EQ((*stats)[w.id].last_delivery_at_ms, T + 5005);
}

TEST_P(StoreContractTest, RetryBatchStartsANewCycleOfAFinishedBatch) {
  Account a = add_account(st()), other = add_account(st());
  add_webhook(st(), a);
  append(st(), a, {event("e1", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  const std::string id = got[0].batch.id;
  EXPECT_EQ(st().retry_batch(a.id, id, T + 1).error().code, ErrorCode::kConflict);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T + 1));
  EXPECT_EQ(st().retry_batch(other.id, id, T + 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().retry_batch(a.id, "bat_missing", T + 2).error().code, ErrorCode::kNotFound);

  auto retried = st().retry_batch(a.id, id, T + 2);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->state, BatchState::kPending);
  EXPECT_EQ(retried->next_attempt_at_ms, T + 2);
  EXPECT_EQ(retried->cycle_attempts, 0);
  EXPECT_EQ(retried->attempts.size(), 1u) << "earlier attempts stay";
  auto again = claim(st(), T + 2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].batch.id, id);
  EXPECT_EQ(ids_of(again[0].events_json), (std::vector<std::string>{"e1"}));
  record(st(), outcome(again[0], "node-a", BatchState::kDelivered, 200, T + 3));
  EXPECT_TRUE(st().retry_batch(a.id, id, T + 4).ok()) << "a delivered batch may be sent again";
}

TEST_P(StoreContractTest, RetryFailedQueuesEveryFailedBatchOfTheWebhook) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a, T, 1);
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 3u);
  record(st(), outcome(got[0], "node-a", BatchState::kFailed, 500, T));
  record(st(), outcome(got[1], "node-a", BatchState::kFailed, 500, T));
  record(st(), outcome(got[2], "node-a", BatchState::kDelivered, 200, T));
  EXPECT_EQ(st().retry_failed("acc_other", w.id, T + 1).value(), 0);
  EXPECT_EQ(st().retry_failed(a.id, w.id, T + 1).value(), 2);
  EXPECT_EQ(st().retry_failed(a.id, w.id, T + 1).value(), 0);
  EXPECT_EQ(claim(st(), T + 1).size(), 2u);
}

TEST_P(StoreContractTest, PruneDeletesOldFinishedBatchesAndUnneededEvents) {
  Account a = add_account(st());
  Webhook w1 = add_webhook(st(), a, T, 1);
  Webhook w2 = add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  std::unordered_map<std::string, int> hold_w2{{w2.id, 4}};  // w2's cursor stays behind for now
  append(st(), a, {event("e1", T)}, T);
  auto b1 = claim(st(), T, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b1.at(0), "node-a", BatchState::kDelivered, 200, T + 10));
  append(st(), a, {event("e2", T)}, T + 100);
  auto b2 = claim(st(), T + 100, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b2.at(0), "node-a", BatchState::kFailed, 500, T + 110));
  append(st(), a, {event("e3", T)}, T + 1000);
  auto b3 = claim(st(), T + 1000, "node-a", 4, 64, hold_w2);
  record(st(), outcome(b3.at(0), "node-a", BatchState::kDelivered, 200, T + 1010));

  // b1 and b2 are old, b3 is recent; w2's cursor still needs every event.
  auto n = st().prune(T + 500, T + 500, 100);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2);
  auto left = st().list_batches(a.id, w1.id, std::nullopt, "", 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, b3[0].batch.id);
  EXPECT_EQ(st().get_batch(a.id, b1[0].batch.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st().get_batch(a.id, b2[0].batch.id).error().code, ErrorCode::kNotFound);

  // w2 takes none of them (wrong type): its cursor moves past them.
  EXPECT_TRUE(claim(st(), T + 2000).empty());
  // Now e1 and e2 are needed by nobody; e3 belongs to b3, which stays.
  n = st().prune(T + 500, T + 500, 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(ids_of(st().get_batch(a.id, b3[0].batch.id)->events_json), (std::vector<std::string>{"e3"}));
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 0);

  // The limit bounds each step: one batch (b3), then one event (e3).
  EXPECT_EQ(st().prune(T + 5000, T + 5000, 1).value(), 2);
  EXPECT_EQ(st().prune(T + 5000, T + 5000, 1).value(), 0);
}

TEST_P(StoreContractTest, PruneTakesTheOldEventsOfEveryAccountAndKeepsTheRecentOnes) {
  Account old_shop = add_account(st());
  Account new_shop = add_account(st());
  add_webhook(st(), old_shop, T, 10);
  // Takes no subscriptions: its cursor passes them, no batch holds them.
  add_webhook(st(), new_shop, T, 10, type_bit(EventType::kUnsubscribed));
  append(st(), old_shop, {event("o1", T), event("o2", T)}, T);
  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  record(st(), outcome(got[0], "node-a", BatchState::kDelivered, 200, T + 10));
  append(st(), new_shop, {event("n1", T), event("n2", T)}, T + 1000);
  EXPECT_TRUE(claim(st(), T + 1000).empty());
  // The old shop's batch and events go, whichever account comes first; the
  // new shop's events are too recent.
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 3);
  EXPECT_EQ(st().prune(T + 500, T + 500, 100).value(), 0);
  // An event id is known as long as its event is kept.
  EXPECT_EQ(append(st(), new_shop, {event("n1", T)}, T + 3000).stored, 0);
  EXPECT_EQ(append(st(), old_shop, {event("o1", T)}, T + 3000).stored, 1);
}

TEST_P(StoreContractTest, CountsTellPendingRetriesFailuresAndWaitingEvents) {
  Account a = add_account(st());
  add_webhook(st(), a, T, 1);
  add_webhook(st(), a, T, 100, type_bit(EventType::kUnsubscribed));
  append(st(), a, {event("e1", T), event("e2", T), event("e3", T)});
  auto c0 = st().counts();
  ASSERT_TRUE(c0.ok());
  EXPECT_EQ(c0->pending_events, 3);
  EXPECT_EQ(c0->pending_batches, 0);
  auto got = claim(st(), T, "node-a", 2);
  ASSERT_EQ(got.size(), 2u);
  auto c1 = st().counts();
  EXPECT_EQ(c1->pending_events, 1);
  EXPECT_EQ(c1->pending_batches, 2);
  EXPECT_EQ(c1->retry_scheduled, 0);
  record(st(), outcome(got[0], "node-a", BatchState::kPending, 500, T, T + 100));
  record(st(), outcome(got[1], "node-a", BatchState::kFailed, 500, T));
  auto c2 = st().counts();
  EXPECT_EQ(c2->pending_batches, 1);
  EXPECT_EQ(c2->retry_scheduled, 1);
  EXPECT_EQ(c2->failed_batches, 1);
  EXPECT_TRUE(st().ping().ok());
}

// ---- PostgreSQL only: several nodes on one database ----

class PostgresNodesTest : public ::testing::Test, protected StoreScene {
 protected:
  void SetUp() override {
    std::string skip;
    if (!db_.start(Backend::kPostgres, &skip)) GTEST_SKIP() << skip;
  }
  std::unique_ptr<Store> open_node() { return open_node_with_notifier().store; }
  OpenedStore open_node_with_notifier() {
    auto s = db_.open();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : OpenedStore{};
  }
  TestDatabase db_;
};

TEST_F(PostgresNodesTest, ARequestWhoseRowsAreRefusedFailsAloneInItsGroup) {
  // A group is written without savepoints first; a request that PostgreSQL
  // refuses (here: bytes that are not UTF-8, which ingestion never lets
  // through) makes it start again with one savepoint per request.
  auto node = open_node();
  ASSERT_TRUE(node);
  Account a = add_account(*node);
  add_webhook(*node, a);
  IncomingEvent bad = event("bad", T);
  bad.message_json = "{\"id\":\"bad\",\"data\":\"\xff\xfe\"}";
  std::vector<AppendRequest> reqs{{a.id, {event("a1", T)}, T}, {a.id, {bad}, T}, {a.id, {event("a2", T)}, T}};
  auto r = node->append_events(reqs);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0].ok()) << r[0].error().message;
  EXPECT_EQ(r[0]->stored, 1);
  EXPECT_FALSE(r[1].ok());
  ASSERT_TRUE(r[2].ok()) << r[2].error().message;
  EXPECT_EQ(r[2]->stored, 1);
  EXPECT_EQ(ids_of(claim(*node, T)), (std::vector<std::string>{"a1", "a2"}));
}

TEST_F(PostgresNodesTest, NodesStartingTogetherMigrateOnce) {
  std::vector<std::unique_ptr<Store>> nodes(4);
  std::vector<std::thread> threads;
  for (auto& n : nodes) threads.emplace_back([&] { n = open_node(); });
  for (auto& t : threads) t.join();
  for (auto& n : nodes) {
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->get_meta("schema_version")->value_or(""), "4");
  }
}

TEST_F(PostgresNodesTest, ConcurrentIngestAndClaimsLoseNothingAndNeverShareWork) {
  auto ingest_a = open_node(), ingest_b = open_node(), node_a = open_node(), node_b = open_node();
  ASSERT_TRUE(ingest_a && ingest_b && node_a && node_b);
  Account acc = add_account(*ingest_a);
  std::vector<Webhook> hooks;
  for (int i = 0; i < 3; ++i) hooks.push_back(add_webhook(*ingest_a, acc, T + i, 3));

  constexpr int kPerWriter = 150;
  std::atomic<int> writers_done{0};
  auto writer = [&](Store* s, const std::string& prefix) {
    for (int i = 0; i < kPerWriter;) {
      std::vector<IncomingEvent> evs;
      for (int k = 0; k < 1 + i % 3 && i < kPerWriter; ++k, ++i) evs.push_back(event(prefix + std::to_string(i), T));
      AppendRequest req{acc.id, std::move(evs), T};
      auto r = s->append_events(std::span<const AppendRequest>(&req, 1));
      EXPECT_TRUE(r[0].ok()) << r[0].error().message;
    }
    writers_done++;
  };

  std::mutex mu;
  std::set<std::string> batch_ids;
  std::map<std::string, std::multiset<std::string>> delivered;  // webhook → event ids
  auto claimer = [&](Store* s, const std::string& owner) {
    int idle = 0;
    while (idle < 3) {
      bool writing = writers_done < 2;
      auto got = claim(*s, T + 1, owner, 2, 8);
      std::vector<AttemptOutcome> outs;
      for (const auto& c : got) {
        std::lock_guard lock(mu);
        EXPECT_TRUE(batch_ids.insert(c.batch.id).second) << "batch claimed twice: " << c.batch.id;
        for (auto& id : ids_of(c.events_json)) delivered[c.webhook.id].insert(id);
        outs.push_back(outcome(c, owner, BatchState::kDelivered, 200, T + 1));
      }
      EXPECT_TRUE(s->record_outcomes(outs).ok());
      idle = (got.empty() && !writing) ? idle + 1 : 0;
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(writer, ingest_a.get(), "a");
  threads.emplace_back(writer, ingest_b.get(), "b");
  threads.emplace_back(claimer, node_a.get(), "node-a");
  threads.emplace_back(claimer, node_b.get(), "node-b");
  for (auto& t : threads) t.join();
  // Both may have stopped while the other held rows: take what is left.
  // Lost events cannot come back this way; they would be missing below.
  for (auto got = claim(*node_a, T + 2); !got.empty(); got = claim(*node_a, T + 2)) {
    for (const auto& c : got) {
      EXPECT_TRUE(batch_ids.insert(c.batch.id).second);
      for (auto& id : ids_of(c.events_json)) delivered[c.webhook.id].insert(id);
      record(*node_a, outcome(c, "node-a", BatchState::kDelivered, 200, T + 2));
    }
  }

  std::multiset<std::string> expected;
  for (int i = 0; i < kPerWriter; ++i) {
    expected.insert("a" + std::to_string(i));
    expected.insert("b" + std::to_string(i));
  }
  for (const auto& w : hooks) EXPECT_EQ(delivered[w.id], expected) << "webhook " << w.id;
  EXPECT_EQ(node_a->counts()->pending_events, 0);
}

TEST_F(PostgresNodesTest, ConcurrentClaimsOfDueBatchesAreDisjoint) {
  auto node_a = open_node(), node_b = open_node();
  ASSERT_TRUE(node_a && node_b);
  Account acc = add_account(*node_a);
  add_webhook(*node_a, acc, T, 1);
  std::vector<IncomingEvent> evs;
  for (int i = 0; i < 60; ++i) evs.push_back(event("e" + std::to_string(i), T));
  append(*node_a, acc, evs);
  // A node that dies with 60 leases; they expire at T + 10.
  ASSERT_EQ(claim(*node_a, T, "dead", 100, 100, {}, 10).size(), 60u);

  std::mutex mu;
  std::vector<std::string> claimed;
  auto claimer = [&](Store* s, const std::string& owner) {
    while (true) {
      auto got = claim(*s, T + 10, owner, 100, 5);
      if (got.empty()) return;
      std::lock_guard lock(mu);
      for (const auto& c : got) claimed.push_back(c.batch.id);
    }
  };
  std::thread a(claimer, node_a.get(), "node-a"), b(claimer, node_b.get(), "node-b");
  a.join();
  b.join();
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(claimed.size(), 60u);
  EXPECT_EQ(unique.size(), 60u);
}

TEST_F(PostgresNodesTest, ANodeIsToldWhenAnotherCommitsWork) {
  // Declared before the stores: the listener's thread may call until the
  // store that owns it is gone.
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  OpenedStore opened = open_node_with_notifier();
  auto listener = std::move(opened.store), writer = open_node();
  ASSERT_TRUE(listener && writer);
  WorkNotifier* notifier = opened.notifier;
  ASSERT_NE(notifier, nullptr);
  notifier->on_new_work([&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  auto wait_for_call = [&] {
    std::unique_lock lock(mu);
    bool got = cv.wait_for(lock, std::chrono::seconds(10), [&] { return calls > 0; });
    calls = 0;
    return got;
  };
  ASSERT_TRUE(wait_for_call()) << "the listener calls once when it starts listening";
  Account acc = add_account(*writer);
  add_webhook(*writer, acc);
  append(*writer, acc, {event("e1", T)});
  EXPECT_TRUE(wait_for_call()) << "append_events";
  auto got = claim(*writer, T);
  ASSERT_EQ(got.size(), 1u);
  record(*writer, outcome(got[0], "node-a", BatchState::kFailed, 500, T));
  ASSERT_TRUE(writer->retry_batch(acc.id, got[0].batch.id, T + 1).ok());
  EXPECT_TRUE(wait_for_call()) << "retry_batch";

  // The listener's connection drops: it reconnects, calls once for what it
  // may have missed, and hears the next commit.
  pg_admin(db_.admin_url(),
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + db_.app_name() + "'");
  EXPECT_TRUE(wait_for_call()) << "after reconnecting";
  append(*writer, acc, {event("e2", T)});
  EXPECT_TRUE(wait_for_call()) << "append_events after the reconnection";
}

// Backends of this test's connections (application_name), optionally only
// those waiting for a lock.
int count_backends(const TestDatabase& db, const std::string& extra_condition) {
  PGconn* c = PQconnectdb(db.admin_url().c_str());
  std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + db.app_name() + "'" +
                    extra_condition;
  PGresult* r = PQexec(c, sql.c_str());
  int n = PQresultStatus(r) == PGRES_TUPLES_OK ? std::atoi(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  PQfinish(c);
  return n;
}

bool wait_until(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(PostgresNodesTest, AConnectionClosedWhileIdleIsReopenedBeforeUse) {
  auto node = open_node();
  ASSERT_TRUE(node);
  Account acc = add_account(*node);
  pg_admin(db_.admin_url(),
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + db_.app_name() + "'");
  ASSERT_TRUE(wait_until([&] { return count_backends(db_, "") == 0; }));
  EXPECT_TRUE(node->ping().ok());
  EXPECT_TRUE(node->get_account(acc.id).ok()) << "statements are prepared again";
}

TEST_F(PostgresNodesTest, AConnectionLostDuringACallIsUnavailableThenReset) {
  auto node = open_node();
  ASSERT_TRUE(node);
  Account acc = add_account(*node);
  add_webhook(*node, acc);
  // Another session holds the account row, so that append_events waits
  // inside its transaction; then its backend is killed.
  PGconn* holder = PQconnectdb(db_.admin_url().c_str());
  ASSERT_EQ(PQstatus(holder), CONNECTION_OK);
  std::string lock_sql = "BEGIN; SELECT 1 FROM " + db_.schema() + ".accounts WHERE id = '" + acc.id + "' FOR UPDATE";
  PQclear(PQexec(holder, lock_sql.c_str()));
  std::vector<Result<AppendOutcome>> got;
  std::thread caller([&] {
    AppendRequest req{acc.id, {event("e1", T)}, T};
    got = node->append_events(std::span<const AppendRequest>(&req, 1));
  });
  EXPECT_TRUE(wait_until([&] { return count_backends(db_, " AND wait_event_type = 'Lock'") == 1; }));
  pg_admin(db_.admin_url(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                                db_.app_name() + "' AND wait_event_type = 'Lock'");
  caller.join();
  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_EQ(got[0].error().code, ErrorCode::kUnavailable) << got[0].error().message;
  EXPECT_EQ(node->counts()->pending_events, 0) << "nothing of the failed call was written";
  EXPECT_EQ(append(*node, acc, {event("e1", T)}).stored, 1) << "the connection is reset on its next use";
  EXPECT_EQ(ids_of(claim(*node, T)), (std::vector<std::string>{"e1"}));
}

}  // namespace
}  // namespace growhook
