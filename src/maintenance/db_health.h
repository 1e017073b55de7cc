// The database's health as readiness sees it, kept up in the background: a
// thread pings the store every interval (each ping bounded by --db-timeout),
// and /readyz answers from what it found, at once, without a database call
// of its own. A ping that has not come back within the bound counts as a
// failure before it returns, so a silent path is reported while it lasts.
//
// Thread-safe: status() from any thread; start/stop from the owner.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"

namespace growhook {

struct DbHealthOptions {
  int64_t interval_ms = 1'000;  // between the end of a ping and the next
  int64_t timeout_ms = 5'000;   // --db-timeout: a ping still out after this is a failure
};

// What the checks found so far (monotonic ms).
struct DbHealthRecord {
  int64_t checks = 0;                // pings that came back
  bool last_ok = false;              // of the last that came back
  std::string last_error;            // its error when it failed
  std::optional<int64_t> pending_since;  // a ping is out since then
};

// The decision, pure: nullopt when the database is reachable, else the
// reason for people ("database unreachable: ...").
std::optional<std::string> judge_db_health(const DbHealthRecord& r, int64_t now_mono_ms, int64_t timeout_ms);

class DbHealth {
 public:
  // ping: one cheap round trip to the database (Maintenance::ping).
  DbHealth(std::function<Status()> ping, const Clock& clock, DbHealthOptions options);
  ~DbHealth() { stop(); }
  DbHealth(const DbHealth&) = delete;
  DbHealth& operator=(const DbHealth&) = delete;

  // Checks once on the caller's thread, then keeps checking on gh-db-health.
  void start();
  void stop();
  // One check, on the caller's thread.
  void check_once();
  // nullopt when reachable; else why not.
  std::optional<std::string> problem() const;

 private:
  const std::function<Status()> ping_;
  const Clock& clock_;
  const DbHealthOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  DbHealthRecord record_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace growhook
