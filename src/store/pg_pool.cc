#include "store/pg_pool.h"

#include <chrono>

namespace growhook::pg {

Pool::Pool(std::string url, int size, const DbLimits& limits, DbCallStats* stats)
    : url_(std::move(url)), size_(size < 1 ? 1 : size), limits_(limits), stats_(stats) {}

Result<Pool::Lease> Pool::acquire() {
  std::unique_ptr<Conn> conn;
  {
    std::unique_lock lock(mu_);
    auto free = [&] { return !idle_.empty() || open_ < size_; };
    bool got = limits_.timeout_ms > 0 ? cv_.wait_for(lock, std::chrono::milliseconds(limits_.timeout_ms), free)
                                      : (cv_.wait(lock, free), true);
    if (!got) {
      return Error::unavailable("all " + std::to_string(size_) + " PostgreSQL connections stayed busy for " +
                                describe_ms(limits_.timeout_ms) +
                                " (--db-timeout); the database is slow or unreachable, or raise --pg-pool-size");
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;
    }
  }
  if (!conn) {
    auto c = Conn::connect(url_, limits_, stats_);
    if (!c.ok()) {
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      cv_.notify_one();
      return c.error();
    }
    conn = std::move(*c);
    conn->set_secrets(secrets_);
  }
  if (auto s = conn->ensure_connected(); !s.ok()) {
    give_back(std::move(conn));
    return s.error();
  }
  return Lease(this, std::move(conn));
}

void Pool::give_back(std::unique_ptr<Conn> conn) {
  // A broken connection stays in the pool and is reset on its next use; one
  // in an unknown state (a command still running) is closed instead.
  bool keep = conn->make_idle() || conn->broken();
  if (!keep) conn.reset();
  {
    std::lock_guard lock(mu_);
    if (keep) idle_.push_back(std::move(conn));
    else --open_;
  }
  cv_.notify_one();
}

}  // namespace growhook::pg
