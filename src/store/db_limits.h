// The bound on every database call (--db-timeout), and the decisions that
// follow from it, kept pure so that a test decides the time.
//
// PostgreSQL: the connection settings derived from the bound (connect,
// keepalives, TCP user timeout, the server's own statement and
// idle-in-transaction timeouts), and the client's own deadline on the
// socket: a statement whose answer has not come when its deadline passes
// fails with kUnavailable and its connection is dropped and replaced
// (pg_conn.cc). SQLite: the busy wait for the write lock.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace growhook {

inline constexpr int64_t kDefaultDbTimeoutMs = 5'000;

struct DbLimits {
  // Longest a database call may take: a connection, a statement, the wait
  // for a pooled connection or for SQLite's lock. 0: no bound (a tool such as
  // `growhook migrate` copying everything in one transaction).
  int64_t timeout_ms = kDefaultDbTimeoutMs;
};

// libpq's connection keywords for a bound (values as libpq reads them).
struct PgConnectTimeouts {
  std::string connect_timeout_s;   // whole seconds; libpq treats 1 as 2
  std::string keepalives_idle_s;   // quiet time before the first probe
  std::string keepalives_interval_s;
  std::string keepalives_count;
  std::string tcp_user_timeout_ms;  // unacknowledged data: the connection is dead
};
PgConnectTimeouts pg_connect_timeouts(const DbLimits& limits);

// The session settings sent once a connection is open: the server's own
// statement_timeout and idle_in_transaction_session_timeout (0 for none).
std::string pg_session_timeouts_sql(const DbLimits& limits);

// What a call waiting on its database socket does next, at now_mono_ms,
// for a deadline (monotonic ms; 0: none).
struct WaitMs {
  int ms;  // -1: without a bound
};
struct DeadlinePassed {};
using NextWait = std::variant<WaitMs, DeadlinePassed>;
NextWait next_wait(int64_t now_mono_ms, int64_t deadline_mono_ms);

// The client's deadline of a statement sent at now_mono_ms (0 when
// unbounded): the bound plus a tenth (at most 1 s), so that a server that
// answers but is slow ends the statement itself (statement_timeout, the
// connection kept) and only a silent one is dropped.
int64_t call_deadline(int64_t now_mono_ms, const DbLimits& limits);

// A duration for people: "5s", "1.5s", "250ms".
std::string describe_ms(int64_t ms);

}  // namespace growhook
