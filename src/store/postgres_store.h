// The shared store: PostgreSQL, for several growhook nodes on one database.
// Same contract as Store (store.h); work is claimed with leases
// (FOR UPDATE SKIP LOCKED) and nodes wake each other with LISTEN/NOTIFY.
//
// What it adds to the contract, because several nodes share it:
// - The store comes with a WorkNotifier: append_events, retry_batch,
//   retry_failed and release_leases send NOTIFY growhook_work on commit; a
//   listener thread with its own connection calls the registered callback.
// - per_webhook_in_flight bounds a webhook's batches under a live lease across
//   all nodes, not only ClaimRequest::in_flight of the calling node.
// - Every database call is bounded by limits (--db-timeout, db_limits.h):
//   connecting, each statement (on the server and by the client's own
//   deadline on the socket), a transaction left idle, the wait for a pooled
//   connection. A call past it, or on a lost connection, fails with
//   kUnavailable; the connection is dropped and reopened on its next use.
//   A multi-host url with target_session_attrs=read-write finds the
//   primary again after a failover.
// - Like SQLite's, delivery's bookkeeping (claim_work, record_outcomes,
//   release_leases) commits with synchronous_commit off (pg::Durability in
//   pg_rows.h): nothing is lost when a growhook node dies; a crash of the
//   database server may lose the last claims and attempts, whose events are
//   then sent again with the same event ids. Ingestion and management wait
//   for the server's flush as usual.
// - Statements are prepared per connection: a pooler in front of the
//   database must keep sessions (PgBouncer pool_mode=session), not
//   transactions.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/metrics.h"
#include "store/db_limits.h"
#include "store/store.h"

namespace growhook {

// Connects with url (postgresql://user@host:port/db?...), applies pending
// migrations, and keeps up to pool_size connections (plus one for LISTEN
// once a WorkNotifier callback is registered).
// secrets_keys: GROWHOOK_SECRETS_KEYS, required (store/secret_keys.h); a
// database whose secrets they do not open is refused. stats, when given,
// counts every statement and outlives the store.
Result<OpenedStore> open_postgres_store(const std::string& url, int pool_size, const std::string& secrets_keys,
                                        const DbLimits& limits = {}, std::shared_ptr<DbCallStats> stats = nullptr);

}  // namespace growhook
