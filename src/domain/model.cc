#include "domain/model.h"

namespace growhook {

std::string_view to_string(BatchState s) {
  switch (s) {
    case BatchState::kPending: return "pending";
    case BatchState::kDelivered: return "delivered";
    case BatchState::kFailed: return "failed";
  }
  return "pending";
}

std::string_view to_string(Ordering o) { return o == Ordering::kContact ? "contact" : "none"; }

std::optional<Ordering> parse_ordering(std::string_view s) {
  if (s == "none") return Ordering::kNone;
  if (s == "contact") return Ordering::kContact;
  return std::nullopt;
}

std::optional<BatchState> parse_batch_state(std::string_view s) {
  if (s == "pending") return BatchState::kPending;
  if (s == "delivered") return BatchState::kDelivered;
  if (s == "failed") return BatchState::kFailed;
  return std::nullopt;
}

}  // namespace growhook
