// A fixed-size pool of PostgreSQL connections shared by the store's callers.
// Connections open lazily, up to size; a caller waits (bounded) for a free
// one. A connection that broke is kept and reset (PQreset) on its next use.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/pg_conn.h"

namespace growhook::pg {

class Pool {
 public:
  // stats, when given, outlives the pool.
  Pool(std::string url, int size, const DbLimits& limits = {}, DbCallStats* stats = nullptr);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection borrowed from the pool; it goes back when the Lease ends,
  // with any transaction left open rolled back.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // A connected connection, or kUnavailable when the database cannot be
  // reached or every connection stayed busy for the bound.
  Result<Lease> acquire();

  const std::string& url() const { return url_; }
  // Handed to every connection (Conn::secrets); box outlives the pool.
  void set_secrets(const SecretBox* box) { secrets_ = box; }

 private:
  void give_back(std::unique_ptr<Conn> conn);

  const std::string url_;
  const int size_;
  const DbLimits limits_;
  DbCallStats* const stats_;
  const SecretBox* secrets_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  int open_ = 0;                             // guarded by mu_: idle and lent
};

}  // namespace growhook::pg
