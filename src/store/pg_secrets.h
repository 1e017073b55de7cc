// The PostgreSQL side of secrets at rest (store/codec.h): a page of
// webhooks resealed in its own transaction, the rows read FOR UPDATE so
// that a node's write waits for it or wins before it. The store seals
// clear values with it when it opens; `growhook reencrypt` reseals with it
// on a connection of its own while the nodes serve.
#pragma once

#include <string>

#include "common/result.h"
#include "store/codec.h"
#include "store/pg_conn.h"

namespace growhook::pg {

// reseal: also values sealed by a key other than c.secrets()'s first.
Result<ResealPage> reseal_page(Conn& c, const std::string& after_id, int limit, bool reseal);
// Webhooks with a value not sealed by the first key.
Result<int64_t> count_not_sealed_by_first(Conn& c);

}  // namespace growhook::pg
