// The checkpoint thread against a real SQLite database: commits wake it,
// and a writer that finds the WAL at its bound checkpoints itself, so the
// WAL stays bounded whatever the thread does.
#include "store/sqlite_checkpointer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/ids.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {
namespace {

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("growhook-ckpt-" + new_id("t", 0));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "test.db").string();
    auto db = Db::open(path_, false);
    ASSERT_TRUE(db.ok()) << db.error().message;
    writer_ = std::move(*db);
    ASSERT_TRUE(writer_->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, blob BLOB NOT NULL)").ok());
  }
  void TearDown() override {
    writer_.reset();
    std::filesystem::remove_all(dir_);
  }
  // n commits of a row with a 4 KiB blob each: at least one page a commit.
  void commit_rows(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(writer_->exec("INSERT INTO t(blob) VALUES(zeroblob(4096))").ok());
  }
  uintmax_t wal_bytes() const { return std::filesystem::file_size(path_ + "-wal"); }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Db> writer_;
};

TEST_F(CheckpointerTest, CommitsWakeTheThreadWhichCheckpoints) {
  auto c = Checkpointer::start(path_, writer_->raw(), {.pages = 10, .force_pages = 1'000'000});
  ASSERT_TRUE(c.ok()) << c.error().message;
  commit_rows(50);
  bool done = false;
  for (int i = 0; i < 1000 && !done; ++i) {
    done = (*c)->background_checkpoints() > 0;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(done) << "no background checkpoint within 10 s";
  EXPECT_EQ((*c)->forced_checkpoints(), 0u);
}

TEST_F(CheckpointerTest, AWriterThatFindsTheWalFullCheckpointsItselfAndTheWalStaysBounded) {
  // The thread is never woken (pages too high): only the writers' own
  // checkpoints keep the WAL in bounds.
  auto c = Checkpointer::start(path_, writer_->raw(), {.pages = 1'000'000, .force_pages = 20});
  ASSERT_TRUE(c.ok()) << c.error().message;
  commit_rows(300);
  EXPECT_GT((*c)->forced_checkpoints(), 0u);
  EXPECT_EQ((*c)->background_checkpoints(), 0u);
  // Each commit adds a few frames (the row's pages and the table's): a WAL
  // rewound after each forced checkpoint stays near 20 frames, far below the
  // 300 commits' worth.
  EXPECT_LT(wal_bytes(), 64u * (4096 + 24));
}

TEST_F(CheckpointerTest, AWalThatCannotRestartIsCheckpointedOncePerPagesWrittenNotAtEveryCommit) {
  // A reader with a transaction open keeps the WAL from being restarted, so
  // its size stays above `pages` from the first checkpoint on. Waking at each
  // commit then (as this did) checkpointed at nearly every commit.
  auto c = Checkpointer::start(path_, writer_->raw(), {.pages = 40, .force_pages = 1'000'000});
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto reader = Db::open(path_, true);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  commit_rows(50);
  ASSERT_TRUE((*reader)->exec("BEGIN").ok());
  ASSERT_TRUE((*reader)->exec("SELECT count(*) FROM t").ok());
  const uintmax_t frame = 4096 + 24;
  const uintmax_t frames_before = wal_bytes() / frame;
  const uint64_t before = (*c)->background_checkpoints();
  for (int i = 0; i < 200; ++i) {
    commit_rows(1);
    // Let the thread keep up, as it does between commits in a server.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const uintmax_t written = wal_bytes() / frame - frames_before;
  ASSERT_GE(written, 200u);  // at least a frame a commit
  // One checkpoint per 40 frames written, and one more for the rounding:
  // far fewer than the 200 commits.
  const uint64_t made = (*c)->background_checkpoints() - before;
  EXPECT_LE(made, written / 40 + 1);
  EXPECT_GT(made, 0u);
  ASSERT_TRUE((*reader)->exec("COMMIT").ok());
}

TEST_F(CheckpointerTest, OnceItStopsSqlitesOwnCheckpointTakesOver) {
  {
    auto c = Checkpointer::start(path_, writer_->raw(), {.pages = 20, .force_pages = 1'000'000});
    ASSERT_TRUE(c.ok());
  }
  // The writer commits on, its WAL kept in bounds by SQLite at 20 pages.
  commit_rows(300);
  EXPECT_LT(wal_bytes(), 64u * (4096 + 24));
}

}  // namespace
}  // namespace growhook::sqlite
