// The migration plan against the SQLite schema that this binary creates:
// every table and every column of it must be either carried by `growhook
// migrate` or listed as left behind, with why. A schema change that forgets
// to say what migrate does with its columns fails here. (The PostgreSQL
// side is checked by migrate itself before it writes a row, and by the
// end-to-end test tests/e2e/migrate_test.cc.)
#include "store/migration_plan.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/ids.h"
#include "store/sqlite_store.h"

namespace growhook {
namespace {

class MigrationPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("growhook-plan-" + new_id("t", 0));
    auto store = open_sqlite_store(dir_.string());  // this binary's whole schema
    ASSERT_TRUE(store.ok()) << store.error().message;
    store->reset();
    ASSERT_EQ(sqlite3_open((dir_ / "growhook.db").c_str(), &db_), SQLITE_OK);
  }
  void TearDown() override {
    sqlite3_close(db_);
    std::filesystem::remove_all(dir_);
  }

  // Table → its columns, as SQLite reports them.
  std::map<std::string, std::set<std::string>> schema() {
    std::map<std::string, std::set<std::string>> out;
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", -1, &s,
                       nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) out[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))];
    sqlite3_finalize(s);
    for (auto& [table, columns] : out) {
      sqlite3_prepare_v2(db_, ("PRAGMA table_info(" + table + ")").c_str(), -1, &s, nullptr);
      while (sqlite3_step(s) == SQLITE_ROW) columns.insert(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
      sqlite3_finalize(s);
    }
    return out;
  }

  std::filesystem::path dir_;
  sqlite3* db_ = nullptr;
};

TEST_F(MigrationPlanTest, EveryTableOfTheSqliteSchemaIsCarriedOrLeftWithAReason) {
  std::set<std::string> planned;
  for (const auto& t : migration_plan()) planned.insert(t.table);
  for (const auto& t : tables_left_behind()) {
    planned.insert(t.table);
    EXPECT_GT(std::string(t.why).size(), 10u) << t.table << ": say why it is left behind";
  }
  for (const auto& [table, columns] : schema()) {
    EXPECT_TRUE(planned.count(table))
        << "table " << table << " of the SQLite schema is neither carried by growhook migrate nor listed in "
        << "tables_left_behind(): say what becomes of it in src/store/migration_plan.cc";
  }
}

TEST_F(MigrationPlanTest, EveryColumnOfTheSqliteSchemaIsCarriedOrLeftWithAReason) {
  auto tables = schema();
  for (const auto& t : migration_plan()) {
    ASSERT_TRUE(tables.count(t.table)) << "the plan carries table " << t.table << ", which SQLite does not have";
    const auto& columns = tables[t.table];
    std::set<std::string> covered;
    for (const auto& c : t.columns) {
      EXPECT_TRUE(covered.insert(c.name).second) << t.table << "." << c.name << " is carried twice";
      EXPECT_TRUE(columns.count(c.name))
          << "the plan carries " << t.table << "." << c.name << ", which the SQLite schema does not have";
    }
    for (const auto& c : t.left) {
      EXPECT_TRUE(covered.insert(c.name).second) << t.table << "." << c.name << " is both carried and left";
      EXPECT_GT(std::string(c.why).size(), 10u) << t.table << "." << c.name << ": say why it is left behind";
    }
    for (const auto& column : columns) {
      EXPECT_TRUE(covered.count(column))
          << "column " << t.table << "." << column << " of the SQLite schema is neither carried by growhook "
          << "migrate nor listed as left behind: add it to the columns (or the left list, with why) of "
          << t.table << " in src/store/migration_plan.cc, and check that PostgreSQL's schema has it";
    }
  }
}

TEST_F(MigrationPlanTest, EveryTablesSelectRunsOnTheSchemaInBothModes) {
  ASSERT_EQ(sqlite3_exec(db_, kMigrationSetupSql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  for (const auto& t : migration_plan()) {
    for (bool history : {false, true}) {
      std::string sql = migration_select(t, history);
      sqlite3_stmt* s = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
      if (s) {
        EXPECT_EQ(sqlite3_column_count(s), static_cast<int>(t.columns.size())) << sql;
      }
      sqlite3_finalize(s);
    }
  }
}

// The filters, on a small store: only what is still to be delivered or
// retried is carried without --with-history.
TEST_F(MigrationPlanTest, WithoutHistoryOnlyUndeliveredWorkAndWhatItNeedsIsSelected) {
  const char* rows = R"sql(
INSERT INTO accounts(id, name, created_at, head_seq) VALUES('acc_a', 'a', 1, 10);
INSERT INTO webhooks(id, account_id, name, url, enabled, event_types, batch_max_events, auth, secret, previous_secret,
  previous_secret_expires_at, disabled_reason, created_at, updated_at, cursor)
  VALUES('wh_1', 'acc_a', 'n', 'https://x', 1, 3, 10, '', 'whsec_x', '', 0, '', 1, 1, 8);
INSERT INTO events(seq, account_id, id, type, occurred_at, created_at, body) VALUES(1, 'acc_a', 'e1', 1, 1, 1, '{}'), (2, 'acc_a', 'e2', 1, 1, 1, '{}'),
  (3, 'acc_a', 'e3', 1, 1, 1, '{}'), (4, 'acc_a', 'e4', 1, 1, 1, '{}'), (9, 'acc_a', 'e9', 1, 1, 1, '{}');
INSERT INTO batches VALUES('bat_delivered', 'wh_1', 'acc_a', 'delivered', 1, 2, 3, 2, 1, 1, NULL, 1, NULL, 0, 0),
  ('bat_failed', 'wh_1', 'acc_a', 'failed', 3, 3, 3, 1, 1, 1, NULL, 4, NULL, 0, 0),
  ('bat_pending', 'wh_1', 'acc_a', 'pending', 4, 8, 3, 1, 1, 1, 5, 0, 'node_x', 99, 0);
INSERT INTO attempts VALUES('bat_delivered', 1, 1, 200, 1, '', ''), ('bat_failed', 1, 1, 500, 1, '', '');
)sql";
  ASSERT_EQ(sqlite3_exec(db_, rows, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  ASSERT_EQ(sqlite3_exec(db_, kMigrationSetupSql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  auto first_column = [&](const char* table, bool history) {
    std::set<std::string> out;
    for (const auto& t : migration_plan()) {
      if (std::string(t.table) != table) continue;
      std::string sql = migration_select(t, history);
      size_t at = t.columns[0].name == std::string("account_id") ? 2 : 0;  // events: their id
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
      while (sqlite3_step(s) == SQLITE_ROW) out.insert(reinterpret_cast<const char*>(sqlite3_column_text(s, int(at))));
      sqlite3_finalize(s);
    }
    return out;
  };
  // e3 is in the failed batch, e4 in the pending one, e9 after the cursor;
  // e1 and e2 were delivered.
  EXPECT_EQ(first_column("events", false), (std::set<std::string>{"e3", "e4", "e9"}));
  EXPECT_EQ(first_column("events", true), (std::set<std::string>{"e1", "e2", "e3", "e4", "e9"}));
  EXPECT_EQ(first_column("batches", false), (std::set<std::string>{"bat_failed", "bat_pending"}));
  EXPECT_EQ(first_column("batches", true).size(), 3u);
  EXPECT_EQ(first_column("attempts", false), (std::set<std::string>{"bat_failed"}));
  EXPECT_EQ(first_column("meta", false).count("schema_version"), 0u);
}

}  // namespace
}  // namespace growhook
