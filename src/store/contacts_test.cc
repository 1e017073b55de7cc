// delivery_of: whether, and where, a webhook got an event (contacts.h).
#include "store/contacts.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

const uint8_t kSub = type_bit(EventType::kSubscribed);
const uint8_t kUnsub = type_bit(EventType::kUnsubscribed);

WebhookPosition webhook(int64_t cursor, bool enabled = true, uint8_t types = kAllEventTypes) {
  return {"wh_1", enabled, types, cursor};
}

TEST(DeliveryOf, TheBatchWhoseRangeHoldsTheEventIsItsDelivery) {
  auto d = delivery_of(7, EventType::kSubscribed, webhook(10), BatchSpan{"b_1", BatchState::kFailed, 9, kAllEventTypes});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->webhook_id, "wh_1");
  EXPECT_EQ(d->batch_id, "b_1");
  EXPECT_EQ(d->state, BatchState::kFailed);
}

TEST(DeliveryOf, ABatchThatDidNotTakeTheTypeDoesNotHoldTheEvent) {
  // Cut while the webhook was subscribed to unsubscribes only.
  EXPECT_FALSE(delivery_of(7, EventType::kSubscribed, webhook(10), BatchSpan{"b_1", BatchState::kDelivered, 9, kUnsub}));
}

TEST(DeliveryOf, AnEventAboveThePositionIsPendingWithoutABatch) {
  // The newest batch ends before the event, the position too: not cut yet.
  auto d = delivery_of(12, EventType::kUnsubscribed, webhook(10), BatchSpan{"b_1", BatchState::kDelivered, 10, kAllEventTypes});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->batch_id, "");
  EXPECT_EQ(d->state, BatchState::kPending);
  EXPECT_TRUE(delivery_of(1, EventType::kSubscribed, webhook(0), std::nullopt));  // no batch at all yet
}

TEST(DeliveryOf, AWebhookThatWasNotThereDisabledOrUnsubscribedNeverGotIt) {
  // Created after the event: its position started above it, no batch.
  EXPECT_FALSE(delivery_of(5, EventType::kSubscribed, webhook(8), std::nullopt));
  // Cut past while it was disabled (enabling moved it to the head).
  EXPECT_FALSE(delivery_of(5, EventType::kSubscribed, webhook(8), BatchSpan{"b_1", BatchState::kDelivered, 3, kAllEventTypes}));
  // Disabled or not subscribed now: nothing will be cut for it.
  EXPECT_FALSE(delivery_of(9, EventType::kSubscribed, webhook(8, false), std::nullopt));
  EXPECT_FALSE(delivery_of(9, EventType::kSubscribed, webhook(8, true, kUnsub), std::nullopt));
  EXPECT_TRUE(delivery_of(9, EventType::kSubscribed, webhook(8, true, kSub), std::nullopt));
}

}  // namespace
}  // namespace growhook
