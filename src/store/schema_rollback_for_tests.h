// For tests only: SQL that takes a store (SQLite or PostgreSQL, closed)
// back to an older schema, for the tests of what an upgrade does. One place,
// so that a new migration is undone everywhere by adding it here once.
#pragma once

namespace growhook::testing {

// What the migrations after 7 add (8: health, 10: notifications, 11:
// per-contact ordering, which also swapped schema 5's index of batches by
// range, 12: the work set, its indexes first as they name the columns; 9
// makes its index IF NOT EXISTS), for a store put back at schema 6.
inline constexpr const char* kUndoMigrationsAfter7 =
    "DROP INDEX webhooks_with_work; DROP INDEX webhooks_failing; DROP INDEX batches_due_at; "
    "DROP INDEX accounts_to_prune; ALTER TABLE webhooks DROP COLUMN work_seq; ALTER TABLE accounts DROP COLUMN prune_at; "
    "ALTER TABLE webhooks DROP COLUMN failing_since; ALTER TABLE webhooks DROP COLUMN failure_streak; "
    "ALTER TABLE webhooks DROP COLUMN probe_count; ALTER TABLE webhooks DROP COLUMN next_probe_at; "
    "ALTER TABLE webhooks DROP COLUMN last_error; "
    "ALTER TABLE accounts DROP COLUMN notification_email; DROP TABLE notifications; "
    "DROP INDEX batches_by_webhook_range; CREATE INDEX batches_by_webhook_first_seq ON batches(webhook_id, first_seq); "
    "ALTER TABLE batches DROP COLUMN members; ALTER TABLE webhooks DROP COLUMN ordering; "
    "ALTER TABLE webhooks DROP COLUMN deferred_ready; DROP TABLE batch_members; DROP TABLE held_contacts; "
    "DROP TABLE deferred_events";

}  // namespace growhook::testing
