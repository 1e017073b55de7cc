#include "store/sqlite_db.h"

#include <string>

namespace growhook::sqlite {

Stmt::Stmt(sqlite3_stmt* s) : s_(s) {
  for (int n = 1; n < kMaxParams; ++n) {
    char name[16];
    std::snprintf(name, sizeof name, "$%d", n);
    index_[n] = sqlite3_bind_parameter_index(s_, name);
  }
}

Stmt& Stmt::bind(int n, int64_t v) {
  sqlite3_bind_int64(s_, index(n), v);
  return *this;
}

Stmt& Stmt::bind(int n, std::string_view v) {
  sqlite3_bind_text64(s_, index(n), v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::bind_null(int n) {
  sqlite3_bind_null(s_, index(n));
  return *this;
}

int Stmt::step() { return sqlite3_step(s_); }

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool read_only, int64_t busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open SQLite database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory");
    sqlite3_close(raw);
    return Error::unavailable(msg);
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_busy_timeout(raw, busy_timeout_ms > 0 ? static_cast<int>(std::min<int64_t>(busy_timeout_ms, INT32_MAX))
                                                : INT32_MAX);
  sqlite3_extended_result_codes(raw, 1);
  const char* pragmas = read_only ? "PRAGMA foreign_keys=ON;"
                                  : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                    " PRAGMA wal_autocheckpoint=4000;";
  if (auto s = db->exec(pragmas); !s.ok()) return s.error();
  return db;
}

Db::~Db() {
  cache_.clear();
  sqlite3_close_v2(db_);
}

Result<Stmt*> Db::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return error(rc, std::string("prepare: ") + sql);
  auto owned = std::make_unique<Stmt>(s);
  Stmt* p = owned.get();
  cache_.emplace(sql, std::move(owned));
  return p;
}

Status Db::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = error(rc, "");
    e.message = "SQLite: " + msg;
    return e;
  }
  return ok_status();
}

Status Db::run(const char* sql) {
  auto st = prepare(sql);
  if (!st.ok()) return st.error();
  StmtUse s(**st);
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return error(rc, sql);
  return ok_status();
}

Error Db::error(int rc, std::string_view what) const {
  std::string msg = "SQLite";
  if (!what.empty()) msg += std::string(" ") + std::string(what);
  msg += ": ";
  msg += sqlite3_errmsg(db_);
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
      primary == SQLITE_CANTOPEN) {
    if (primary == SQLITE_FULL) msg = "the disk holding the data folder is full; free space and try again";
    return Error::unavailable(msg);
  }
  return Error::internal(msg);
}

}  // namespace growhook::sqlite
