#include "store/sqlite_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace growhook {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A connection that closes itself.
struct Conn {
  sqlite3* db = nullptr;
  ~Conn() { sqlite3_close_v2(db); }
};

Error sqlite_error(sqlite3* db, int rc, const std::string& what) {
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL) return Error::unavailable(what + ": the disk is full; free space or choose another --to");
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_BUSY ||
      primary == SQLITE_READONLY || primary == SQLITE_PERM)
    return Error::unavailable(msg);
  return Error::internal(msg);
}

Status open(Conn& c, const std::string& path, int flags) {
  int rc = sqlite3_open_v2(path.c_str(), &c.db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(c.db, rc, "cannot open " + path);
  sqlite3_busy_timeout(c.db, 10'000);
  return ok_status();
}

// One integer of a query, or 0 when it answers no row.
Result<int64_t> scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, sql);
  rc = sqlite3_step(s);
  int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(db, rc, sql);
  return v;
}

Result<std::string> text(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, sql);
  rc = sqlite3_step(s);
  std::string v;
  if (rc == SQLITE_ROW && sqlite3_column_text(s, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(db, rc, sql);
  return v;
}

// The whole snapshot in one step; a lock held by a process that is opening
// or recovering the store is waited out for a while.
Status copy_snapshot(sqlite3* src, sqlite3* dst) {
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) return sqlite_error(dst, sqlite3_errcode(dst), "backup");
  int rc;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int finish = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return sqlite_error(src, rc, "backup");
  if (finish != SQLITE_OK) return sqlite_error(dst, finish, "backup");
  return ok_status();
}

Status sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Error::unavailable("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Error::unavailable("cannot sync " + path);
  return ok_status();
}

// Checks the copy and counts what it holds.
Status check_copy(const std::string& path, BackupSummary& out) {
  Conn c;
  if (auto s = open(c, path, SQLITE_OPEN_READONLY); !s.ok()) return s;
  auto check = text(c.db, "PRAGMA quick_check");
  if (!check.ok()) return check.error();
  if (*check != "ok") return Error::internal("the copy failed its check (" + *check + "); it was not kept");
  auto version = text(c.db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!version.ok()) return version.error();
  out.schema_version = version->empty() ? 0 : std::stoi(*version);
  struct Count {
    int64_t* into;
    const char* sql;
  };
  for (const Count& q : {Count{&out.accounts, "SELECT count(*) FROM accounts"},
                         Count{&out.webhooks, "SELECT count(*) FROM webhooks"},
                         Count{&out.events, "SELECT count(*) FROM events"},
                         Count{&out.pending_batches, "SELECT count(*) FROM batches WHERE state = 'pending'"},
                         Count{&out.failed_batches,
                               "SELECT count(*) FROM batches WHERE state = 'failed' AND state <> 'pending'"}}) {
    auto n = scalar(c.db, q.sql);
    if (!n.ok()) return n.error();
    *q.into = *n;
  }
  return ok_status();
}

}  // namespace

Result<BackupSummary> backup_sqlite_store(const std::string& data_dir, const std::string& to) {
  const auto start = Clock::now();
  const std::string db = data_dir + "/growhook.db";
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) {
    return Error::not_found("no growhook store in " + data_dir + " (no growhook.db there); give the --data-dir of "
                            "growhook serve");
  }
  if (to.empty()) return Error::invalid("--to: give the file to write the copy to");
  const fs::path target = fs::weakly_canonical(to, ec);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (target == fs::weakly_canonical(db + suffix, ec)) return Error::invalid("--to must not be the store's own file");
  }
  const std::string tmp = to + ".tmp";
  fs::remove(tmp, ec);  // a run that died half-way
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Error::unavailable("cannot create " + tmp + ": " + std::strerror(errno));
    (void)::fchmod(fd, 0600);
    ::close(fd);
  }
  auto fail = [&](Error e) -> Result<BackupSummary> {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fs::remove(tmp + "-journal", ignored);
    return e;
  };

  BackupSummary out;
  {
    Conn src, dst;
    // Read-write without create: a WAL store is read through its -shm,
    // which a read-only connection may not be able to set up.
    if (auto s = open(src, db, SQLITE_OPEN_READWRITE); !s.ok()) return fail(s.error());
    if (auto s = open(dst, tmp, SQLITE_OPEN_READWRITE); !s.ok()) return fail(s.error());
    const auto copy_start = Clock::now();
    if (auto s = copy_snapshot(src.db, dst.db); !s.ok()) return fail(s.error());
    out.copy_ms = ms_since(copy_start);
    // The copy carries the store's WAL flag; as one self-contained file it
    // can be moved, checked and restored without a -wal beside it.
    auto mode = text(dst.db, "PRAGMA journal_mode=DELETE");
    if (!mode.ok()) return fail(mode.error());
  }
  if (auto s = sync_path(tmp, O_RDONLY); !s.ok()) return fail(s.error());
  if (auto s = check_copy(tmp, out); !s.ok()) return fail(s.error());
  out.bytes = static_cast<int64_t>(fs::file_size(tmp, ec));
  if (::rename(tmp.c_str(), to.c_str()) != 0) {
    return fail(Error::unavailable("cannot rename " + tmp + " to " + to + ": " + std::strerror(errno)));
  }
  std::string folder = fs::path(to).parent_path().string();
  if (auto s = sync_path(folder.empty() ? "." : folder, O_RDONLY | O_DIRECTORY); !s.ok()) return s.error();
  out.total_ms = ms_since(start);
  return out;
}

}  // namespace growhook
