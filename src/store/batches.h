// A webhook's batches as the API shows them, and retrying them by hand (the
// batch routes). The rules of store.h hold for it; a batch of another
// account is kNotFound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

struct BatchDetail {
  Batch batch;
  std::string events_json;  // "[…]" as delivered
};

class Batches {
 public:
  virtual ~Batches() = default;

  // Newest first, ids less than before_id (empty: from the newest), at most
  // limit; state filters when set. Attempts included.
  virtual Result<std::vector<Batch>> list_batches(const std::string& account_id, const std::string& webhook_id,
                                                  std::optional<BatchState> state, const std::string& before_id,
                                                  int limit) = 0;
  virtual Result<BatchDetail> get_batch(const std::string& account_id, const std::string& batch_id) = 0;
  // A manual retry starts a new cycle of attempts of the same batch and
  // events, due now. Only failed or delivered batches: kConflict otherwise.
  virtual Result<Batch> retry_batch(const std::string& account_id, const std::string& batch_id,
                                    int64_t now_ms) = 0;
  // retry_batch for every failed batch of the webhook; returns how many.
  virtual Result<int> retry_failed(const std::string& account_id, const std::string& webhook_id,
                                   int64_t now_ms) = 0;
};

}  // namespace growhook
