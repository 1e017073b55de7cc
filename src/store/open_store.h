// The factory a node opens its store with: PostgreSQL when a database URL
// is given, SQLite in the data folder otherwise.
#pragma once

#include <string>

#include "common/result.h"
#include "common/metrics.h"
#include "store/db_limits.h"
#include "store/store.h"

namespace growhook {

struct StoreConfig {
  std::string database;  // postgresql:// (or postgres://) URL; empty: SQLite
  std::string data_dir;  // the SQLite store's folder
  int pg_pool_size = 8;
  std::string secrets_keys;  // GROWHOOK_SECRETS_KEYS; "" on SQLite: the data folder's key file
  DbLimits limits;  // --db-timeout
  // Counts the database's calls when given (PostgreSQL; /metrics).
  std::shared_ptr<DbCallStats> stats;
};

// kInvalid for a database that is not a postgresql:// URL; the store's own
// errors otherwise (sqlite_store.h, postgres_store.h).
Result<OpenedStore> open_store(const StoreConfig& config);

}  // namespace growhook
