// A small RAII layer over the SQLite C API: a connection with a cache of
// prepared statements, and statements that bind "$1", "$2", ... by name so
// that SQL text stays close to PostgreSQL's.
//
// Not thread-safe: one thread uses a SqliteDb at a time (the store guards it).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "common/secret_box.h"

namespace growhook::sqlite {

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s);
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Bind parameter "$n" (1-based, by name so the order in the text is free).
  Stmt& bind(int n, int64_t v);
  Stmt& bind(int n, int v) { return bind(n, static_cast<int64_t>(v)); }
  Stmt& bind(int n, std::string_view v);
  Stmt& bind(int n, const std::string& v) { return bind(n, std::string_view(v)); }
  Stmt& bind(int n, const char* v) { return bind(n, std::string_view(v)); }
  Stmt& bind_null(int n);
  Stmt& bind(int n, std::optional<int64_t> v) { return v ? bind(n, *v) : bind_null(n); }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step();
  void reset();  // also clears bindings

  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::optional<int64_t> opt_i64(int col) const {
    return is_null(col) ? std::nullopt : std::optional<int64_t>(i64(col));
  }
  std::string_view text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string_view();
  }
  std::string str(int col) const { return std::string(text(col)); }

 private:
  int index(int n) const { return n > 0 && n < kMaxParams ? index_[n] : 0; }
  static constexpr int kMaxParams = 32;
  sqlite3_stmt* s_;
  int index_[kMaxParams] = {};  // "$n" → SQLite's parameter index, resolved once
};

// Resets a cached statement when the scope ends, whatever happened.
class StmtUse {
 public:
  explicit StmtUse(Stmt& s) : s_(s) {}
  ~StmtUse() { s_.reset(); }
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

class Db {
 public:
  // Opens (creating) path in WAL mode with synchronous=FULL, foreign keys on
  // and a busy timeout. Fails with a message naming the path.
  // busy_timeout_ms: how long a statement waits for another connection's
  // lock before it fails with SQLITE_BUSY (kUnavailable): --db-timeout.
  static Result<std::unique_ptr<Db>> open(const std::string& path, bool read_only,
                                          int64_t busy_timeout_ms = 5'000);
  ~Db();

  // A cached prepared statement for sql; sql must outlive the Db (literals).
  Result<Stmt*> prepare(const char* sql);
  Status exec(const char* sql);  // one or more statements, no results
  // One statement without results, prepared once and cached (BEGIN, COMMIT,
  // SAVEPOINT, PRAGMA on the hot path); sql must be a literal.
  Status run(const char* sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  std::string errmsg() const { return sqlite3_errmsg(db_); }
  sqlite3* raw() { return db_; }

  // Maps an SQLite result code to an Error (SQLITE_FULL → kUnavailable).
  Error error(int rc, std::string_view what) const;

  // The keys webhooks' secrets are sealed with (set by the store, which
  // owns them, before any use).
  void set_secrets(const SecretBox* box) { secrets_ = box; }
  const SecretBox& secrets() const { return *secrets_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  const SecretBox* secrets_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
};

}  // namespace growhook::sqlite
