#include "maintenance/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/thread_name.h"

namespace growhook {

Retention::Retention(Maintenance& store, const Clock& clock, Metrics& metrics, RetentionOptions options)
    : store_(store), clock_(clock), metrics_(metrics), options_(options) {}

Retention::~Retention() { stop(); }

void Retention::start() {
  thread_ = std::thread([this] {
    name_this_thread("gh-retention");
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      run_once();
      lock.lock();
      clock_.wait_for(lock, cv_, options_.interval_ms, [&] { return stopping_; });
    }
  });
}

void Retention::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t Retention::run_once() {
  int64_t total = 0;
  for (int round = 0; round < 10'000; ++round) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    int64_t now = clock_.now_ms();
    const int64_t step_start = clock_.mono_ms();
    auto n = store_.prune(now - options_.delivered_ms, now - options_.failed_ms, options_.step_rows);
    if (!n.ok()) {
      metrics_.store_errors++;
      spdlog::warn("msg=\"retention step failed\" error=\"{}\"", n.error().message);
      break;
    }
    total += *n;
    if (*n == 0) break;
    // Rest as long as the step took (at least 1 ms): the store's write lock
    // is not fair, and without a pause this loop took it back at once and
    // kept ingestion and delivery waiting until it was done.
    const int64_t pause_ms = std::max<int64_t>(1, clock_.mono_ms() - step_start);
    std::unique_lock lock(mu_);
    clock_.wait_for(lock, cv_, pause_ms, [&] { return stopping_; });
  }
  if (total > 0) {
    metrics_.pruned_rows += static_cast<uint64_t>(total);
    spdlog::info("msg=\"retention pruned\" rows={}", total);
  }
  return total;
}

}  // namespace growhook
