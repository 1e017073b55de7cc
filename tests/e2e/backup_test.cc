// End-to-end: `growhook backup` of a SQLite store while its node takes in
// events and delivers them. Every event acknowledged before the backup
// began is in the copy, the copy opens as a store (a node started on it
// serves and delivers), and it is readable only by its owner.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "e2e/harness.h"

namespace e2e {
namespace {

using Steady = std::chrono::steady_clock;

// Events posted on `clients` connections until stopped; what was
// acknowledged, with when its 202 arrived.
class Load {
 public:
  Load(Server& s, const std::string& account, int clients) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, &s, account, c] {
        for (int n = 0; !stop_; ++n) {
          std::string id = "load-" + std::to_string(c) + "-" + std::to_string(n);
          auto r = s.platform("POST", "/v1/accounts/" + account + "/events", event_body(1000 + n, id));
          if (r.status != 202) continue;
          std::lock_guard lock(mu_);
          acked_.emplace_back(id, Steady::now());
        }
      });
    }
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::vector<std::string> acked_before(Steady::time_point t) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [id, at] : acked_)
      if (at < t) out.push_back(id);
    return out;
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Steady::time_point>> acked_;
  std::vector<std::thread> threads_;
};

std::set<std::string> event_ids_in_file(const std::string& path) {
  std::set<std::string> ids;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open the copy " + path);
  }
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT id FROM events", -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) ids.insert(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return ids;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GROWHOOK_E2E_SQLITE_ONLY("growhook backup copies the embedded store; PostgreSQL has its own tools");
    char tmpl[] = "/tmp/growhook-backup-e2e.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  CommandResult backup(const Server& s, const std::string& to) {
    return run_command({GROWHOOK_BINARY, "backup", "--data-dir", s.data_dir(), "--to", to});
  }
  std::string dir_;
};

TEST_F(BackupTest, ACopyTakenUnderLoadHoldsEveryEventAcknowledgedBeforeItAndOpensAsAStore) {
  Receiver rx;
  Server src;
  auto [account, key] = src.create_account();
  auto hook = add_webhook(src, key, rx.url());
  Load load(src, account, 4);
  ASSERT_TRUE(eventually([&] { return load.count() >= 300 && rx.count() >= 10; }))
      << "the load did not get going: " << load.count() << " acknowledged, " << rx.count() << " delivered";

  const std::string copy = dir_ + "/copy.db";
  const auto began = Steady::now();
  auto r = backup(src, copy);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t acked_during = load.count();
  ASSERT_TRUE(eventually([&] { return load.count() > acked_during; })) << "ingestion stopped after the backup";
  load.stop();

  const auto before = load.acked_before(began);
  const auto in_copy = event_ids_in_file(copy);
  size_t missing = 0;
  for (const auto& id : before) missing += in_copy.count(id) == 0;
  EXPECT_EQ(missing, 0u) << missing << " of the " << before.size()
                         << " events acknowledged before the backup began are not in the copy";
  struct stat st {};
  ASSERT_EQ(stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the copy holds the signing secrets: it must be the owner's only";

  // Restored: the copy as growhook.db of an empty data folder.
  const std::string restored = dir_ + "/restored";
  std::filesystem::create_directories(restored);
  std::filesystem::copy_file(copy, restored + "/growhook.db");
  // The copy alone opens nothing: its secrets are sealed with the key file, which stays in the data folder.
  auto keyless = run_command({GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", restored},
                             {{"GROWHOOK_PLATFORM_TOKEN", kPlatformToken}});
  EXPECT_NE(keyless.exit_code, 0) << keyless.output;
  EXPECT_NE(keyless.output.find("which GROWHOOK_SECRETS_KEYS does not hold"), std::string::npos) << keyless.output;
  std::filesystem::copy_file(src.data_dir() + "/secrets.key", restored + "/secrets.key",
                             std::filesystem::copy_options::overwrite_existing);
  Server node({}, restored);
  auto hooks = node.account(key, "GET", "/v1/webhooks");
  ASSERT_EQ(hooks.status, 200) << hooks.body;
  ASSERT_EQ(hooks.json()["data"].size(), 1u);
  EXPECT_EQ(hooks.json()["data"][0]["id"], hook.id);
  ASSERT_EQ(node.platform("POST", "/v1/accounts/" + account + "/events", event_body(7, "after-restore")).status, 202);
  EXPECT_TRUE(eventually([&] { return event_ids_in(rx.requests()).count("after-restore") == 1; }))
      << "the node on the copy did not deliver";
}

TEST_F(BackupTest, AStoppedStoreIsCopiedWholeAndBadArgumentsAreRefused) {
  Server src;
  auto [account, key] = src.create_account();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(src.platform("POST", "/v1/accounts/" + account + "/events", event_body(100 + i, "s-" + std::to_string(i))).status,
              202);
  }
  src.stop();
  const std::string copy = dir_ + "/copy.db";
  auto r = backup(src, copy);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("20 events"), std::string::npos) << r.output;
  EXPECT_EQ(event_ids_in_file(copy).size(), 20u);
  // A second backup replaces the file whole.
  ASSERT_EQ(backup(src, copy).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(copy + ".tmp"));

  auto none = run_command({GROWHOOK_BINARY, "backup", "--data-dir", dir_ + "/nothing", "--to", dir_ + "/x.db"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("no growhook store"), std::string::npos) << none.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/nothing")) << "backup must not create a data folder";
  auto self = backup(src, src.data_dir() + "/growhook.db");
  EXPECT_EQ(self.exit_code, 2) << self.output;
}

}  // namespace
}  // namespace e2e
