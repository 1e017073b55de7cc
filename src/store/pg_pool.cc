#include "store/pg_pool.h"

#include <chrono>

namespace growhook::pg {

Pool::Pool(std::string url, int size, int64_t wait_ms)
    : url_(std::move(url)), size_(size < 1 ? 1 : size), wait_ms_(wait_ms) {}

Result<Pool::Lease> Pool::acquire() {
  std::unique_ptr<Conn> conn;
  {
    std::unique_lock lock(mu_);
    bool free = cv_.wait_for(lock, std::chrono::milliseconds(wait_ms_),
                             [&] { return !idle_.empty() || open_ < size_; });
    if (!free) {
      return Error::unavailable("all " + std::to_string(size_) +
                                " PostgreSQL connections stayed busy; raise the pool size or try again");
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;
    }
  }
  if (!conn) {
    auto c = Conn::connect(url_);
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
