// The embedded store: SQLite in WAL mode with synchronous=FULL, in a data
// folder that one process owns (an exclusive lock file guards it).
// One writer connection behind a mutex; reads use a small pool of their own
// connections, so that a read never waits for a commit's fsync.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/db_limits.h"
#include "store/store.h"

namespace growhook {

// Opens or creates data_dir/growhook.db and applies pending migrations.
// Fails when another process holds the data folder. (One node owns it: no
// WorkNotifier.) secrets_keys: GROWHOOK_SECRETS_KEYS, or "" for the data
// folder's key file (store/secret_keys.h); the webhooks' secrets are
// sealed with them, and a store whose secrets they do not open is refused.
// A statement waits for SQLite's lock at most limits' bound (--db-timeout),
// then fails with kUnavailable.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir, const std::string& secrets_keys = {},
                                                 const DbLimits& limits = {});

}  // namespace growhook
