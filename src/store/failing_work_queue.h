// A fake for tests: a WorkQueue that passes every call to the real one, but
// fails the Nth write (record_and_claim, record_outcomes, release_leases;
// counted together from 1) with the error given, changing nothing. Reads
// (next_due_ms) always pass. Like Beast's fail_count: walk N over a
// scenario's writes to prove that no failure point loses work.
#pragma once

#include <atomic>

#include "store/work_queue.h"

namespace growhook {

class FailingWorkQueue final : public WorkQueue {
 public:
  FailingWorkQueue(WorkQueue& inner, int fail_at, Error error = Error::unavailable("injected failure"))
      : inner_(inner), fail_at_(fail_at), error_(std::move(error)) {}

  Result<std::vector<ClaimedBatch>> record_and_claim(std::span<const AttemptOutcome> outcomes,
                                                     const ClaimRequest& request) override {
    if (fails_now()) return error_;
    return inner_.record_and_claim(outcomes, request);
  }
  Status record_outcomes(std::span<const AttemptOutcome> outcomes) override {
    if (fails_now()) return error_;
    return inner_.record_outcomes(outcomes);
  }
  Status release_leases(const std::string& owner) override {
    if (fails_now()) return error_;
    return inner_.release_leases(owner);
  }
  Result<std::optional<int64_t>> next_due_ms() override { return inner_.next_due_ms(); }

  int writes() const { return writes_; }  // calls so far, the failed one included

 private:
  bool fails_now() { return ++writes_ == fail_at_; }

  WorkQueue& inner_;
  const int fail_at_;
  const Error error_;
  std::atomic<int> writes_{0};
};

}  // namespace growhook
