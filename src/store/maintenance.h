// Looking after the store: retention, the figures of /metrics, the
// readiness probe, and the installation's settings. The rules of store.h
// hold for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace growhook {

struct StoreCounts {
  int64_t pending_batches = 0;     // not yet delivered nor failed
  // Pending batches that failed an attempt of their cycle: waiting for
  // their retry, or being retried now.
  int64_t retry_scheduled = 0;
  int64_t failed_batches = 0;
  int64_t pending_events = 0;      // events not yet in a batch, over all webhooks
  int64_t failing_webhooks = 0;    // enabled and failing (domain/health.h)
  int64_t disabled_webhooks = 0;   // by their owner or by the service
  // SQLite only: WAL checkpoints since the start, by the checkpoint thread
  // and by writers that found it behind (store/sqlite_checkpointer.h).
  std::optional<uint64_t> wal_checkpoints_background;
  std::optional<uint64_t> wal_checkpoints_forced;
};

class Maintenance {
 public:
  virtual ~Maintenance() = default;

  // Retention: deletes at most limit delivered batches last changed before
  // delivered_before_ms and failed ones before failed_before_ms, with their
  // attempts, and events no batch or enabled webhook's position needs any
  // more (a disabled webhook does not keep events past retention). Small
  // steps, so that delivery never waits long behind it. Returns what was
  // deleted.
  virtual Result<int> prune(int64_t delivered_before_ms, int64_t failed_before_ms, int limit) = 0;
  virtual Result<StoreCounts> counts() = 0;
  // Cheap liveness probe of the database (for /readyz).
  virtual Status ping() = 0;

  // Key/value settings of the installation (the platform token's hash).
  virtual Result<std::optional<std::string>> get_meta(const std::string& key) = 0;
  virtual Status set_meta(const std::string& key, const std::string& value) = 0;
  // Sets key to value only if it has no value yet, and returns the value it
  // has now: value, or the one written first (by another node starting at
  // the same time).
  virtual Result<std::string> add_meta(const std::string& key, const std::string& value) = 0;
};

}  // namespace growhook
