// The shared store: PostgreSQL, for several growhook nodes on one database.
// Same contract as Store (store.h); work is claimed with leases
// (FOR UPDATE SKIP LOCKED) and nodes wake each other with LISTEN/NOTIFY.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace growhook {

// Connects with url (postgresql://user@host:port/db?...), applies pending
// migrations, and keeps up to pool_size connections.
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url, int pool_size);

}  // namespace growhook
