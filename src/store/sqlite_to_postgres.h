// Moves a stopped SQLite store into an empty PostgreSQL database
// (`growhook migrate`), following migration_plan.h.
//
// - The SQLite data folder is opened like `growhook serve` opens it: its
//   lock is taken (a running node makes this fail: stop it first) and its
//   schema brought up to this binary's. Its rows are read in one read
//   transaction.
// - The database gets this binary's schema (the migrations of pg_schema.cc,
//   as a fresh node would apply them), must then hold no row of growhook's
//   and no table of anyone else's, and gets every carried row in ONE
//   transaction (COPY, table by table): after a failure it is left with the
//   empty schema, and the same command can run again.
// - Then the SQLite store is marked moved (meta moved_to_postgres: when, and
//   which database, without its password), and `growhook serve` refuses it
//   from then on, so that a forgotten node cannot deliver the same batches
//   again or take in events nobody reads.
// Ids, sequence numbers, cursors, secrets (rotation included), attempts and
// next attempt times are carried as they are, so PostgreSQL nodes deliver
// the pending batches under the same webhook-id, signed with the same
// secrets, and new events continue each account's numbering.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace growhook {

struct MigrateOptions {
  std::string data_dir;
  std::string database_url;   // postgresql:// or postgres://
  bool with_history = false;  // delivered batches, their attempts and every event too
  // GROWHOOK_SECRETS_KEYS, or "" for the data folder's key file. Secrets
  // are carried sealed as they are (their associated data is the webhook's
  // id, the same in both stores): the PostgreSQL nodes need the keys that
  // open them, which migrate checks it holds before it copies anything.
  std::string secrets_keys;
};

struct MigratedTable {
  std::string table;
  int64_t rows = 0;
};

struct MigrateSummary {
  std::vector<MigratedTable> tables;  // in the plan's order
  int schema_version = 0;             // of both stores
  std::string key_file;               // the key file the secrets are sealed with; "" for GROWHOOK_SECRETS_KEYS
  std::string database;               // host, port and database name, for messages
  int64_t ms = 0;
};

// kInvalid for a bad URL, kNotFound when data_dir holds no store, kConflict
// when a node holds the data folder or the database is not empty,
// kUnavailable when a database cannot be reached, kInternal otherwise.
Result<MigrateSummary> migrate_sqlite_to_postgres(const MigrateOptions& options);

// For `growhook serve` on SQLite: kConflict, saying where the store went,
// when growhook migrate moved this store to PostgreSQL.
class Store;
Status refuse_moved_store(Store& store, const std::string& data_dir);

}  // namespace growhook
