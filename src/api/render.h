// The JSON shapes of the API (docs/openapi.yaml: Webhook, Batch).
#pragma once

#include <nlohmann/json.hpp>

#include "domain/model.h"

namespace growhook::api {

nlohmann::json timestamp_json(int64_t ms);  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
nlohmann::json event_types_json(uint8_t mask);
// Never includes passwords, tokens, header values or the secret.
nlohmann::json webhook_json(const Webhook& w, const WebhookStats* stats);
nlohmann::json batch_json(const Batch& b);

}  // namespace growhook::api
