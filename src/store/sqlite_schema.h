// Versioned schema of the SQLite store. Each migration runs once, in order,
// in its own transaction; meta.schema_version records the last applied.
#pragma once

#include "common/result.h"
#include "store/sqlite_db.h"

namespace growhook {

Status apply_sqlite_migrations(sqlite::Db& db);

}  // namespace growhook
