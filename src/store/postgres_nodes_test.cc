// PostgreSQL only: several nodes on one database (the store of
// postgres_store.h), and connections that drop. Skipped unless
// GROWHOOK_TEST_PG_URL names a database.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store/contract_test_support.h"
#include "store/schema_version.h"

namespace growhook::store_test {
namespace {

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
    EXPECT_EQ(n->get_meta("schema_version")->value_or(""), std::to_string(kSchemaVersion));
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
}  // namespace growhook::store_test
