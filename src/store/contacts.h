// A contact's events and where each of them went (the contact routes):
// the answer to "did this contact reach my CRM?". The rules of store.h hold
// for it; an event of another account is kNotFound, and a search finds only
// the account's own events.
//
// Events are found by the contact's msisdn or its ecom_email (in lower
// case, ascii_lower of domain/event.h, on both sides), which each event
// keeps in columns of its own, indexed by account, and pruned with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

struct ContactQuery {
  std::optional<int64_t> msisdn;  // exactly one of msisdn and email is set
  std::string email;              // any case: compared as ascii_lower of both
  int64_t before_seq = 0;         // 0: from the newest; else seqs below it
  int limit = 50;
};

// One webhook that got (or will get) the event.
struct EventDelivery {
  std::string webhook_id;
  std::string batch_id;        // empty: not cut into a batch yet (pending)
  BatchState state = BatchState::kPending;
  std::optional<Attempt> last_attempt;  // without its response_body
};

struct StoredEvent {
  int64_t seq = 0;
  std::string id;
  std::string message_json;  // the event as a message carries it
  int64_t created_at_ms = 0;
  std::vector<EventDelivery> deliveries;  // by webhook id
};

class Contacts {
 public:
  virtual ~Contacts() = default;

  // The account's events of the contact, newest first (by seq), each with
  // its deliveries.
  virtual Result<std::vector<StoredEvent>> find_contact_events(const std::string& account_id,
                                                               const ContactQuery& query) = 0;
  // One event of the account by its id, with its deliveries.
  virtual Result<StoredEvent> get_event(const std::string& account_id, const std::string& event_id) = 0;
};

// What a store knows of one webhook of the event's account, and of that
// webhook's batch whose seq range starts at or before the event's (the
// newest such batch), to decide whether the webhook got the event.
struct WebhookPosition {
  std::string id;
  bool enabled = true;
  uint8_t event_types = 0;  // bit mask of EventType
  int64_t cursor = 0;       // the last seq already cut into its batches
};
struct BatchSpan {
  std::string id;
  BatchState state = BatchState::kPending;
  int64_t last_seq = 0;
  uint8_t type_mask = 0;
};

// The one rule both stores apply: the event (seq, type) is in the batch when
// the batch's range reaches it and the batch took its type; otherwise it is
// still to be cut (pending, no batch) when the webhook is enabled,
// subscribed to the type and its position is below the event; otherwise the
// webhook never got it (it did not exist yet, was disabled, or was not
// subscribed when its batch was cut): nullopt.
std::optional<EventDelivery> delivery_of(int64_t seq, EventType type, const WebhookPosition& webhook,
                                         const std::optional<BatchSpan>& newest_batch_from_before);

}  // namespace growhook
