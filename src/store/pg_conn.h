// A small RAII layer over libpq: one connection with its own prepared
// statements (PQprepare once per connection and SQL text, then
// PQexecPrepared), text parameters, and results read as text.
//
// Deadlines (db_limits.h): connecting is bounded by connect_timeout and a
// TCP user timeout, every statement by the server's statement_timeout and
// by the client's own deadline on the socket (non-blocking libpq and poll
// with the time left). A statement past its deadline fails with
// kUnavailable ("did not answer within"), and its connection is dropped:
// the socket is shut down and the connection opened anew on its next use.
//
// Errors: a lost connection, a server shutting down, a timeout, a deadlock
// or a full disk are kUnavailable; an integrity violation (unique, not null,
// foreign key, check) is kConflict, like SQLite's constraint errors; anything
// else is kInternal. A connection found broken is reset (PQreset) on its
// next use, and its prepared statements are forgotten.
//
// Not thread-safe: one thread uses a Conn at a time (the pool guards it).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/secret_box.h"
#include "store/db_limits.h"

namespace growhook {
struct DbCallStats;
}

namespace growhook::pg {

// Every connection plans each execution of a prepared statement with its
// parameters (PostgreSQL 12+). The statements here take arrays
// (id = ANY($1), unnest) and tables go from empty to millions of rows; a
// generic plan made while a table was small (a seq scan) would otherwise be
// kept for the life of the connection. Planning costs a fraction of a
// millisecond; a stale plan cost a scan of the table per statement.
inline constexpr const char* kPlanCacheSql = "SET plan_cache_mode = force_custom_plan";

// Text parameters of one statement, in order ($1, $2, ...).
class Params {
 public:
  Params& add(int64_t v) { return push(std::to_string(v)); }
  Params& add(int v) { return push(std::to_string(v)); }
  Params& add(bool v) { return push(v ? "true" : "false"); }
  Params& add(std::string_view v) { return push(std::string(v)); }
  Params& add(const std::string& v) { return push(v); }
  Params& add(const char* v) { return push(v); }
  Params& add(std::optional<int64_t> v) { return v ? add(*v) : add_null(); }
  Params& add_null();

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers valid while this Params lives and is not changed.
  std::vector<const char*> pointers() const;

 private:
  Params& push(std::string v);
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

// A PostgreSQL array literal of text values ('{"a","b"}'), for "$n::text[]".
std::string text_array(std::span<const std::string> values);
std::string int_array(std::span<const int64_t> values);

// s as valid UTF-8 without NUL bytes (PostgreSQL refuses both in TEXT):
// invalid sequences become U+FFFD, NULs are dropped. For text that comes
// from outside, such as a receiver's response body cut at a byte limit.
std::string clean_text(std::string_view s);

// An owned query result.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult() { PQclear(r_); }

  int rows() const { return PQntuples(r_); }
  // Rows changed by INSERT, UPDATE or DELETE.
  int64_t affected() const;
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string_view text(int row, int col) const {
    return std::string_view(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  std::string str(int row, int col) const { return std::string(text(row, col)); }
  int64_t i64(int row, int col) const;
  std::optional<int64_t> opt_i64(int row, int col) const {
    return is_null(row, col) ? std::nullopt : std::optional<int64_t>(i64(row, col));
  }
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  const PGresult* raw() const { return r_; }

 private:
  PGresult* r_;
};

class Conn {
 public:
  // Connects to url (a postgresql:// URL or a key=value string) with
  // connect and TCP timeouts from limits unless the url sets its own, then
  // sets the server's timeouts. Fails with kUnavailable. stats, when given,
  // counts every statement (it must outlive the Conn).
  static Result<std::unique_ptr<Conn>> connect(const std::string& url, const DbLimits& limits = {},
                                               DbCallStats* stats = nullptr);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Resets the connection when it is broken. Call before each use.
  Status ensure_connected();
  // Broken: lost, or dropped after a deadline passed.
  bool broken() const { return dropped_ || PQstatus(c_) != CONNECTION_OK; }

  // The bound of this connection's statements from now on, on the client
  // and on the server (an unbounded one for migrations, say). Unbounded,
  // the connection is in libpq's blocking mode (for COPY through raw()).
  Status set_limits(const DbLimits& limits);
  const DbLimits& limits() const { return limits_; }

  // Runs sql, prepared once on this connection; sql must outlive the Conn
  // (a literal): its address names the statement. A BEGIN or a SELECT sent
  // outside a transaction on a connection that turns out to have been
  // closed by the server runs again once on a new connection (see
  // may_resend in pg_conn.cc); anything else fails with kUnavailable.
  Result<PgResult> exec(const char* sql, const Params& params = {});
  // Runs one or more statements without parameters or results (BEGIN,
  // SAVEPOINT, migrations). Sent again like exec.
  Status exec_simple(const std::string& sql);

  // Ends any transaction left open (after a failure) so that the connection
  // goes back to the pool clean. Returns false when it is unusable.
  bool make_idle();

  PGconn* raw() { return c_; }

  // The keys webhooks' secrets are sealed with (set by the pool, from the
  // store that owns them, before any use).
  void set_secrets(const SecretBox* box) { secrets_ = box; }
  const SecretBox& secrets() const { return *secrets_; }

  // The libpq connection options: the url plus our defaults. Shared with the
  // listener, which opens its own connection asynchronously.
  struct Options {
    std::vector<const char*> keywords;  // NULL-terminated
    std::vector<const char*> values;
    std::unique_ptr<PgConnectTimeouts> timeouts;  // what some values point into
  };
  static Options options_for(const std::string& url, const DbLimits& limits = {});

 private:
  Conn(PGconn* c, const DbLimits& limits, DbCallStats* stats) : c_(c), limits_(limits), stats_(stats) {}
  Status after_connect();
  Status set_blocking_for_limits();
  Result<PgResult> exec_once(const char* sql, const Params& params);
  Status exec_simple_once(const std::string& sql);
  // After a failure: true when the connection had been lost and is open
  // again (prepared statements forgotten).
  bool reopen_after_loss();
  Error error_of(const PGresult* r, std::string_view what) const;
  // Sends nothing: waits, within this statement's deadline, until libpq has
  // sent the query and read its whole answer. Returns the last result (the
  // first failed one when one failed), or the error of a deadline passed or
  // a connection lost.
  Result<PgResult> finish_query(std::string_view what);
  Status flush_and_read(int64_t deadline, std::string_view what);
  Error drop(std::string_view what);
  Result<PgResult> counted(Result<PgResult> r, int64_t started_mono_ms);

  PGconn* c_;
  const SecretBox* secrets_ = nullptr;
  DbLimits limits_;
  DbCallStats* stats_;
  bool dropped_ = false;  // a deadline passed: reopen before the next use
  bool timed_out_ = false;  // the last failure was a deadline (not sent again)

  std::unordered_map<const char*, std::string> prepared_;  // sql → statement name
  int next_name_ = 0;
};

// A PQnoticeProcessor that drops server notices.
void ignore_notice(void* arg, const char* message);

// Maps a failed result (or a connection failure when r is null) to an Error.
Error pg_error(PGconn* c, const PGresult* r, std::string_view what);

}  // namespace growhook::pg
