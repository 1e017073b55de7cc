// A consistent copy of the embedded store, taken while a node serves it or
// not (`growhook backup`).
//
// How: SQLite's online backup API in ONE step (sqlite3_backup_step(-1)) on a
// connection of its own. In WAL mode that step is one read transaction: it
// copies the snapshot of the moment it began, while the serving process goes
// on committing to the WAL (readers never block the writer there), so the
// copy holds every commit made before the backup began and none half-way.
// Why not steps of N pages: any commit by another process between two steps
// restarts the copy from the first page, so under steady ingestion a stepped
// copy never ends (bench/backup_methods.cc measures the three ways). The one
// cost to the node: while the copy runs, checkpoints cannot move past its
// snapshot, so the WAL grows by what is committed meanwhile, and shrinks
// again at the next checkpoint after it.
//
// The copy is written to a temporary file beside `to`, synced, turned into a
// self-contained single file (rollback journal, no -wal to carry along),
// checked (PRAGMA quick_check) and renamed over `to`, so `to` is either the
// previous file or a whole new copy. It is created 0600 like the store;
// the webhooks' secrets in it are sealed with the data folder's key file
// (store/secret_keys.h), which is not copied.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace growhook {

struct BackupSummary {
  int64_t bytes = 0;          // size of the copy
  int schema_version = 0;     // of the copy (meta.schema_version)
  int64_t accounts = 0;
  int64_t webhooks = 0;
  int64_t events = 0;
  int64_t pending_batches = 0;
  int64_t failed_batches = 0;
  int64_t copy_ms = 0;        // the read transaction, the part a node sees
  int64_t total_ms = 0;       // with the sync, the check and the rename
};

// Copies data_dir/growhook.db to `to`. kNotFound when data_dir holds no
// store, kInvalid when `to` is the store itself, kUnavailable for I/O
// failures (a full disk, a folder that cannot be written).
Result<BackupSummary> backup_sqlite_store(const std::string& data_dir, const std::string& to);

}  // namespace growhook
