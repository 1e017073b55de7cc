#include "store/open_store.h"

#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/sqlite_to_postgres.h"

namespace growhook {

Result<OpenedStore> open_store(const StoreConfig& c) {
  if (!c.database.empty()) {
    if (c.database.rfind("postgresql://", 0) != 0 && c.database.rfind("postgres://", 0) != 0)
      return Error::invalid("--database must be a postgresql:// URL");
    return open_postgres_store(c.database, c.pg_pool_size, c.secrets_keys, c.limits, c.stats);
  }
  auto store = open_sqlite_store(c.data_dir, c.secrets_keys, c.limits);
  if (!store.ok()) return store.error();
  // A folder `growhook migrate` moved to PostgreSQL is not served again: a
  // forgotten node would send the same batches twice.
  if (auto s = refuse_moved_store(**store, c.data_dir); !s.ok()) return s.error();
  return OpenedStore{std::move(*store), nullptr};
}

}  // namespace growhook
