#include "store/contacts.h"

namespace growhook {

std::optional<EventDelivery> delivery_of(int64_t seq, EventType type, const WebhookPosition& webhook,
                                         const std::optional<BatchSpan>& batch) {
  const uint8_t bit = type_bit(type);
  if (batch && seq <= batch->last_seq) {
    if ((batch->type_mask & bit) == 0) return std::nullopt;
    return EventDelivery{webhook.id, batch->id, batch->state, std::nullopt};
  }
  if (webhook.enabled && (webhook.event_types & bit) != 0 && webhook.cursor < seq) {
    return EventDelivery{webhook.id, "", BatchState::kPending, std::nullopt};
  }
  return std::nullopt;
}

}  // namespace growhook
