// The SQLite side of secrets at rest (store/codec.h): a page of webhooks
// resealed in its own transaction. The store seals clear values with it
// when it opens; `growhook reencrypt` reseals with it on a connection of
// its own, while a node serves the folder (WAL: its writes wait their turn
// behind the busy timeout).
#pragma once

#include <string>

#include "common/result.h"
#include "store/codec.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

// reseal: also values sealed by a key other than db.secrets()'s first.
Result<ResealPage> reseal_page(Db& db, const std::string& after_id, int limit, bool reseal);
// Webhooks with a value not sealed by the first key.
Result<int64_t> count_not_sealed_by_first(Db& db);
// The folder's and the database's modes: only the service's user may read
// them (see sqlite_secrets.cc).
void restrict_to_owner(const std::string& data_dir, bool folder_created);

}  // namespace growhook::sqlite
