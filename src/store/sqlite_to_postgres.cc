#include "store/sqlite_to_postgres.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "common/clock.h"
#include "domain/timestamp.h"
#include "store/migration_plan.h"
#include "store/pg_conn.h"
#include "store/pg_schema.h"
#include "store/secret_keys.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace growhook {
namespace {

using Steady = std::chrono::steady_clock;

// A query of text built here (not a literal: pg::Conn::exec caches by the
// literal's address), answered as a result or an Error.
Result<pg::PgResult> query(pg::Conn& c, const std::string& sql) {
  pg::PgResult r(PQexec(c.raw(), sql.c_str()));
  auto st = PQresultStatus(r.raw());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return pg::pg_error(c.raw(), r.raw(), sql);
  return r;
}

// "host:port/dbname" of a libpq URL, without user or password.
std::string describe_database(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    PQfreemem(err);
    return "the --database given";
  }
  std::map<std::string, std::string> v;
  for (auto* o = opts; o->keyword; ++o) {
    if (o->val) v[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  return (v.count("host") ? v["host"] : "localhost") + ":" + (v.count("port") ? v["port"] : "5432") + "/" +
         (v.count("dbname") ? v["dbname"] : "");
}

// A COPY text-format field: backslash escapes for the four characters that
// would end or break it; text made valid for PostgreSQL (UTF-8, no NUL).
void append_field(std::string& out, sqlite3_stmt* s, int col) {
  switch (sqlite3_column_type(s, col)) {
    case SQLITE_NULL:
      out += "\\N";
      return;
    case SQLITE_INTEGER:
      out += std::to_string(sqlite3_column_int64(s, col));
      return;
    default:
      break;
  }
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  std::string text = pg::clean_text(std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, col))));
  for (char ch : text) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += ch;
    }
  }
}

// Rows of the SQLite query into `COPY table(columns) FROM STDIN`, in
// chunks of about a megabyte. Returns the number of rows.
Result<int64_t> copy_table(sqlite3* src, pg::Conn& dst, const TablePlan& t, bool with_history) {
  std::string select = migration_select(t, with_history);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(src, select.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    return Error::internal("SQLite: " + select + ": " + sqlite3_errmsg(src));
  }
  struct Finalize {
    sqlite3_stmt* s;
    ~Finalize() { sqlite3_finalize(s); }
  } finalize{s};
  std::string copy = std::string("COPY ") + t.table + "(";
  for (size_t i = 0; i < t.columns.size(); ++i) copy += (i ? ", " : "") + std::string(t.columns[i].name);
  copy += ") FROM STDIN";
  pg::PgResult start(PQexec(dst.raw(), copy.c_str()));
  if (PQresultStatus(start.raw()) != PGRES_COPY_IN) return pg::pg_error(dst.raw(), start.raw(), copy);

  auto put = [&](const std::string& chunk) {
    return PQputCopyData(dst.raw(), chunk.data(), static_cast<int>(chunk.size())) == 1;
  };
  std::string buf;
  int64_t rows = 0;
  int rc;
  bool sent = true;
  const int n = static_cast<int>(t.columns.size());
  while (sent && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    for (int c = 0; c < n; ++c) {
      if (c) buf += '\t';
      append_field(buf, s, c);
    }
    buf += '\n';
    ++rows;
    if (buf.size() >= (1 << 20)) {
      sent = put(buf);
      buf.clear();
    }
  }
  if (sent && !buf.empty()) sent = put(buf);
  std::string read_error = sent && rc != SQLITE_DONE ? std::string("SQLite: ") + sqlite3_errmsg(src) : "";
  // Ends the COPY, with an error when the reading failed, so that the
  // server refuses it and the transaction cannot commit.
  PQputCopyEnd(dst.raw(), read_error.empty() && sent ? nullptr : "growhook migrate could not read the store");
  Status result = ok_status();
  while (PGresult* r = PQgetResult(dst.raw())) {
    pg::PgResult owned(r);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && result.ok()) result = pg::pg_error(dst.raw(), r, copy);
  }
  if (!read_error.empty()) return Error::internal(read_error + " (" + t.table + ")");
  if (!result.ok()) return result.error();
  return rows;
}

// The database must hold no table that growhook did not make: migrate is
// not a way to share a database with another application by mistake.
Status refuse_foreign_tables(pg::Conn& c) {
  auto r = query(c, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                    "AND table_type = 'BASE TABLE' ORDER BY 1");
  if (!r.ok()) return r.error();
  std::set<std::string> ours;
  for (const auto& t : migration_plan()) ours.insert(t.table);
  std::string foreign;
  for (int i = 0; i < r->rows(); ++i) {
    if (!ours.count(r->str(i, 0))) foreign += (foreign.empty() ? "" : ", ") + r->str(i, 0);
  }
  if (!foreign.empty()) {
    return Error::conflict("the database is not empty: it holds tables that are not growhook's (" + foreign +
                           "); migrate into a database of its own (CREATE DATABASE growhook)");
  }
  return ok_status();
}

// Every column carried must exist in PostgreSQL's schema, and every
// PostgreSQL column that needs a value (NOT NULL without a default) must be
// carried: a plan that lags behind a schema change fails here, before any
// row is written.
Status check_postgres_columns(pg::Conn& c) {
  for (const auto& t : migration_plan()) {
    auto r = query(c, std::string("SELECT column_name, is_nullable = 'NO' AND column_default IS NULL FROM "
                                  "information_schema.columns WHERE table_schema = current_schema() AND "
                                  "table_name = '") + t.table + "'");
    if (!r.ok()) return r.error();
    std::map<std::string, bool> required;
    for (int i = 0; i < r->rows(); ++i) required[r->str(i, 0)] = r->boolean(i, 1);
    std::set<std::string> carried;
    for (const auto& col : t.columns) {
      carried.insert(col.name);
      if (!required.count(col.name)) {
        return Error::internal(std::string("migrate carries ") + t.table + "." + col.name +
                               ", which PostgreSQL's schema does not have: this growhook's migration plan "
                               "(src/store/migration_plan.cc) is out of date");
      }
    }
    for (const auto& [name, needed] : required) {
      if (needed && !carried.count(name)) {
        return Error::internal(std::string("PostgreSQL's ") + t.table + "." + name +
                               " needs a value that migrate does not carry: this growhook's migration plan "
                               "(src/store/migration_plan.cc) is out of date");
      }
    }
  }
  return ok_status();
}

// Inside the transaction, the tables locked: no row of growhook's may be
// there yet, but the schema version.
Status refuse_rows(pg::Conn& c) {
  std::string found;
  bool meta = false;
  for (const auto& t : migration_plan()) {
    std::string sql = std::string("SELECT count(*) FROM ") + t.table;
    if (std::string(t.table) == "meta") sql += " WHERE key <> 'schema_version'";
    auto r = query(c, sql);
    if (!r.ok()) return r.error();
    if (r->i64(0, 0) == 0) continue;
    found += (found.empty() ? "" : ", ") + std::string(t.table) + " " + std::to_string(r->i64(0, 0));
    meta = meta || std::string(t.table) == "meta";
  }
  if (found.empty()) return ok_status();
  return Error::conflict("the database is not empty (rows: " + found +
                         "): migrate only moves a store into an empty database" +
                         (meta ? " (a node started on it has written its settings already)" : "") +
                         "; drop the database and create it again, or choose another");
}

Result<int> sqlite_schema_version(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &s, nullptr) != SQLITE_OK)
    return Error::internal(std::string("SQLite: ") + sqlite3_errmsg(db));
  int v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
  sqlite3_finalize(s);
  return v;
}

// Connects, refuses what is not ours, applies this binary's schema; returns
// the schema version.
Result<int> prepare_database(pg::Conn& c) {
  if (auto s = refuse_foreign_tables(c); !s.ok()) return s.error();
  if (auto s = apply_postgres_migrations(c); !s.ok()) return s.error();
  if (auto s = check_postgres_columns(c); !s.ok()) return s.error();
  auto r = query(c, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!r.ok()) return r.error();
  return r->rows() ? std::stoi(r->str(0, 0)) : 0;
}

// Every table in one transaction.
Status copy_all(sqlite3* src, pg::Conn& dst, bool with_history, MigrateSummary& out) {
  if (auto s = dst.set_limits(DbLimits{0}); !s.ok()) return s;
  if (auto s = dst.exec_simple("BEGIN"); !s.ok()) return s;
  auto rollback = [&](Error e) -> Status {
    (void)dst.make_idle();
    return e;
  };
  std::string lock = "LOCK TABLE ";
  for (size_t i = 0; i < migration_plan().size(); ++i) lock += (i ? ", " : "") + std::string(migration_plan()[i].table);
  if (auto s = dst.exec_simple(lock + " IN EXCLUSIVE MODE"); !s.ok()) return rollback(s.error());
  if (auto s = refuse_rows(dst); !s.ok()) return rollback(s.error());
  for (const auto& t : migration_plan()) {
    auto rows = copy_table(src, dst, t, with_history);
    if (!rows.ok()) return rollback(rows.error());
    out.tables.push_back({t.table, *rows});
  }
  if (auto s = dst.exec_simple("COMMIT"); !s.ok()) return rollback(s.error());
  return ok_status();
}

}  // namespace

Result<MigrateSummary> migrate_sqlite_to_postgres(const MigrateOptions& o) {
  const auto start = Steady::now();
  if (o.database_url.rfind("postgresql://", 0) != 0 && o.database_url.rfind("postgres://", 0) != 0) {
    return Error::invalid("--database must be a postgresql:// URL, e.g. postgresql://growhook@db.example/growhook");
  }
  const std::string path = o.data_dir + "/growhook.db";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Error::not_found("no growhook store in " + o.data_dir + " (no growhook.db there); give the --data-dir "
                            "of growhook serve");
  }
  // The data folder's lock, held to the end: no node can start on it
  // meanwhile. Its schema is brought up to this binary's, as serve would.
  auto store = open_sqlite_store(o.data_dir, o.secrets_keys);
  if (!store.ok()) {
    if (store.error().code == ErrorCode::kConflict) {
      return Error::conflict("stop growhook serve first (migrate moves a stopped store): " + store.error().message);
    }
    return store.error();
  }
  auto reader = sqlite::Db::open(path, /*read_only=*/false);
  if (!reader.ok()) return reader.error();
  sqlite3* src = (*reader)->raw();
  if (auto s = (*reader)->exec("BEGIN"); !s.ok()) return s.error();
  if (auto s = (*reader)->exec(kMigrationSetupSql); !s.ok()) return s.error();
  auto sqlite_version = sqlite_schema_version(src);
  if (!sqlite_version.ok()) return sqlite_version.error();

  MigrateSummary out;
  out.database = describe_database(o.database_url);
  if (o.secrets_keys.empty()) out.key_file = o.data_dir + "/" + kSecretsKeyFile;
  auto conn = pg::Conn::connect(o.database_url);
  if (!conn.ok()) return conn.error();
  auto pg_version = prepare_database(**conn);
  if (!pg_version.ok()) return pg_version.error();
  if (*pg_version != *sqlite_version) {
    return Error::internal("this growhook's SQLite schema is " + std::to_string(*sqlite_version) +
                           " and its PostgreSQL schema " + std::to_string(*pg_version) +
                           ": they must be the same for migrate");
  }
  out.schema_version = *pg_version;
  if (auto s = copy_all(src, **conn, o.with_history, out); !s.ok()) return s.error();
  (void)(*reader)->exec("COMMIT");

  const std::string mark = format_timestamp(SystemClock().now_ms()) + " to " + out.database;
  if (auto s = (*store)->set_meta(kMovedToPostgresKey, mark); !s.ok()) {
    return Error::internal("the store was copied to " + out.database + ", but marking " + o.data_dir +
                           " as moved failed (" + s.error().message + "); do not start growhook serve on it again");
  }
  out.ms = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count();
  return out;
}

Status refuse_moved_store(Store& store, const std::string& data_dir) {
  auto moved = store.get_meta(kMovedToPostgresKey);
  if (!moved.ok()) return moved.error();
  if (!*moved) return ok_status();
  return Error::conflict("the store in " + data_dir + " was moved to PostgreSQL by growhook migrate (" + **moved +
                         "): start growhook with --database instead. To go back to SQLite, restore the backup "
                         "taken before the move into a new data folder (docs/operations.md)");
}

}  // namespace growhook
