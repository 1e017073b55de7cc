// An account's webhooks (the webhook routes). The rules of store.h hold
// for it; a webhook of another account is kNotFound, like one that does
// not exist. The fields were validated before (domain/webhook.h).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

class Webhooks {
 public:
  virtual ~Webhooks() = default;

  // Creates it at the account's head: a new webhook receives the events
  // ingested after it exists. kConflict when the id exists.
  virtual Status create_webhook(const Webhook& webhook) = 0;
  virtual Result<Webhook> get_webhook(const std::string& account_id, const std::string& id) = 0;
  // Oldest first; ids greater than after_id; at most limit.
  virtual Result<std::vector<Webhook>> list_webhooks(const std::string& account_id,
                                                     const std::string& after_id, int limit) = 0;
  // Replaces the mutable fields. A webhook enabled again resumes where it
  // stopped: the events that arrived while it was disabled are delivered to
  // it, as far as retention kept them (backlog.h: enable_webhook with
  // from_head skips them).
  virtual Status update_webhook(const Webhook& webhook) = 0;
  // Deletes the webhook with its batches and attempts.
  virtual Status delete_webhook(const std::string& account_id, const std::string& id) = 0;
  virtual Result<std::unordered_map<std::string, WebhookStats>> webhook_stats(
      const std::string& account_id, const std::vector<std::string>& webhook_ids) = 0;
};

}  // namespace growhook
