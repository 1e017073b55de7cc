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
//
// Why sequence numbers become visible in order
// --------------------------------------------
// A webhook's position in its account's log (its column `cursor`) says
// "every event up to here is in a batch". That is
// only safe if, once a node sees event n of an account, no event below n can
// still appear. With a global sequence, two transactions could take 10 and
// 11 and commit 11 first; a node cutting a batch in between would move the
// position past 10 and lose it. So:
//  1. Sequence numbers are per account and come from accounts.head_seq, not
//     from a sequence: append_events first locks the account rows of all its
//     requests (SELECT ... FOR NO KEY UPDATE, in id order so that two group
//     commits cannot deadlock), then numbers new events head_seq+1, ... and
//     stores the new head_seq in the same statement. The row lock is held
//     until commit, so ingestion for one account is serialised: the next
//     transaction waits, then reads the committed head (READ COMMITTED
//     re-reads a locked row's newest version) and numbers after it. Numbers
//     are therefore taken in commit order, and visibility order equals seq
//     order per account. (The row lock plays the part of an advisory lock
//     on the account, without hash collisions, and also tells an unknown
//     account in the same round trip.)
//  2. A batch is cut only from events <= the head_seq read in the same
//     snapshot as the position (pg_claim.cc). Events and their head_seq
//     commit atomically, so every event up to that head is visible, and
//     none at or below it can commit later.
// Two nodes never cut the same events: the webhook rows whose position moves
// are locked FOR NO KEY UPDATE SKIP LOCKED; due batches likewise.
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
