// Versioned schema of the PostgreSQL store. Migrations run under a
// session-level advisory lock, so that nodes starting together apply each
// one exactly once; each runs in its own transaction, and
// meta.schema_version records the last applied.
#pragma once

#include "common/result.h"
#include "store/pg_conn.h"

namespace growhook {

Status apply_postgres_migrations(pg::Conn& conn);

}  // namespace growhook
