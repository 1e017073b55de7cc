// Retention: a thread that prunes old delivered and failed batches (and the
// events nobody needs any more) in small steps, so that delivery never
// waits long behind it. It holds the store's Maintenance role only.
//
// maintenance/ is the node's upkeep in the background: work that keeps the
// store healthy and is nobody's request.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"
#include "store/maintenance.h"

namespace growhook {

struct RetentionOptions {
  int64_t delivered_ms = 7 * 86'400'000LL;
  int64_t failed_ms = 30 * 86'400'000LL;
  int64_t interval_ms = 60'000;  // between rounds
  int step_rows = 500;           // batches per transaction
};

class Retention {
 public:
  Retention(Maintenance& store, const Clock& clock, Metrics& metrics, RetentionOptions options);
  ~Retention();
  void start();
  void stop();
  // One round: steps until nothing is left to prune. Returns rows removed.
  int64_t run_once();

 private:
  Maintenance& store_;
  const Clock& clock_;
  Metrics& metrics_;
  RetentionOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace growhook
