#include "store/db_limits.h"

#include <algorithm>

namespace growhook {

PgConnectTimeouts pg_connect_timeouts(const DbLimits& l) {
  if (l.timeout_ms <= 0) return {"0", "30", "10", "3", "0"};
  int64_t s = std::max<int64_t>(1, (l.timeout_ms + 999) / 1000);
  // A dead peer is noticed after about the bound when the connection is
  // idle: half of it quiet, then three probes a second (or more) apart.
  int64_t idle = std::max<int64_t>(1, s / 2);
  int64_t interval = std::max<int64_t>(1, (s - idle) / 3);
  return {std::to_string(std::max<int64_t>(2, s)), std::to_string(idle), std::to_string(interval), "3",
          std::to_string(l.timeout_ms)};
}

std::string pg_session_timeouts_sql(const DbLimits& l) {
  int64_t t = std::max<int64_t>(0, l.timeout_ms);
  // A transaction left idle by a client that vanished holds its row locks
  // (an account's head, leases) from every other node: the server ends it
  // after the same bound.
  return "SET statement_timeout = " + std::to_string(t) + "; SET idle_in_transaction_session_timeout = " +
         std::to_string(t);
}

NextWait next_wait(int64_t now_mono_ms, int64_t deadline_mono_ms) {
  if (deadline_mono_ms <= 0) return WaitMs{-1};
  int64_t left = deadline_mono_ms - now_mono_ms;
  if (left <= 0) return DeadlinePassed{};
  return WaitMs{static_cast<int>(std::min<int64_t>(left, 1'000'000'000))};
}

int64_t call_deadline(int64_t now_mono_ms, const DbLimits& l) {
  if (l.timeout_ms <= 0) return 0;
  return now_mono_ms + l.timeout_ms + std::min<int64_t>(1'000, l.timeout_ms / 10);
}

std::string describe_ms(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  if (ms > 1000) return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace growhook
