#include "maintenance/db_health.h"

#include "common/thread_name.h"

namespace growhook {

std::optional<std::string> judge_db_health(const DbHealthRecord& r, int64_t now, int64_t timeout_ms) {
  if (r.pending_since && timeout_ms > 0 && now - *r.pending_since >= timeout_ms) {
    return "database unreachable: no answer for " + std::to_string((now - *r.pending_since) / 1000) +
           " s (--db-timeout " + std::to_string(timeout_ms / 1000) + " s)";
  }
  if (r.checks == 0) return std::nullopt;  // opened a moment ago: it answered then
  if (!r.last_ok) return "database unreachable: " + r.last_error;
  return std::nullopt;
}

DbHealth::DbHealth(std::function<Status()> ping, const Clock& clock, DbHealthOptions options)
    : ping_(std::move(ping)), clock_(clock), options_(options) {}

void DbHealth::start() {
  check_once();
  thread_ = std::thread([this] {
    name_this_thread("gh-db-health");
    std::unique_lock lock(mu_);
    while (!stopping_) {
      clock_.wait_for(lock, cv_, options_.interval_ms, [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      check_once();
      lock.lock();
    }
  });
}

void DbHealth::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DbHealth::check_once() {
  {
    std::lock_guard lock(mu_);
    record_.pending_since = clock_.mono_ms();
  }
  Status s = ping_();
  std::lock_guard lock(mu_);
  record_.pending_since.reset();
  record_.checks++;
  record_.last_ok = s.ok();
  record_.last_error = s.ok() ? "" : s.error().message;
}

std::optional<std::string> DbHealth::problem() const {
  std::lock_guard lock(mu_);
  return judge_db_health(record_, clock_.mono_ms(), options_.timeout_ms);
}

}  // namespace growhook
