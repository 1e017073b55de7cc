// The schema version this binary writes, the same number in both stores
// (sqlite_schema.cc and pg_schema.cc each hold that many migrations, and
// fail to compile otherwise). Tests that assert a store's version use this
// constant, so that adding a migration changes one line.
#pragma once

namespace growhook {

inline constexpr int kSchemaVersion = 12;

}  // namespace growhook
