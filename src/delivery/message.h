// The message a receiver gets (docs/receiving-webhooks.md, "The request"): the
// envelope body and the Standard Webhooks headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/transport.h"
#include "domain/model.h"

namespace growhook {

struct Timeouts {
  int64_t connect_ms = 5'000;
  int64_t total_ms = 15'000;
};

// {"batch_id","webhook_id","account_id","test","events":[…]} signed with
// the webhook's secrets at now_ms, plus its extra authentication header.
OutgoingRequest build_request(const Webhook& webhook, std::string_view batch_id, std::string_view events_json,
                              bool test, int64_t now_ms, const Timeouts& timeouts);

// The extra authentication header of a webhook, if any: {name, value}.
std::pair<std::string, std::string> auth_header(const WebhookAuth& auth);

}  // namespace growhook
