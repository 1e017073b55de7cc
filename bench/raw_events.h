// The events table as the raw SQLite baselines write it (sqlite_raw,
// commit_floor): the same table, indexes and rows as ingestion stores, so
// the figures they print compare with growhook's own.
#pragma once

#include <sqlite3.h>

#include <string>

namespace growhook::bench {

inline constexpr const char* kRawEventsSchema =
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " type INTEGER NOT NULL, occurred_at INTEGER NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_by_account_id ON events(account_id, id);"
    "CREATE INDEX events_by_account_seq ON events(account_id, seq);";

inline constexpr const char* kRawEventsInsert =
    "INSERT INTO events(account_id, id, type, occurred_at, created_at, body) VALUES(?,?,?,?,?,?) "
    "ON CONFLICT(account_id, id) DO NOTHING";

// Binds one event row to a statement prepared from kRawEventsInsert; account
// must outlive the step.
inline void bind_raw_event(sqlite3_stmt* ins, const std::string& account, const std::string& id,
                           const std::string& body) {
  sqlite3_bind_text(ins, 1, account.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 2, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(ins, 3, 1);
  sqlite3_bind_int64(ins, 4, 1727309298161);
  sqlite3_bind_int64(ins, 5, 1727309298161);
  sqlite3_bind_text(ins, 6, body.c_str(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
}

}  // namespace growhook::bench
