// Encodings shared by the store implementations.
#pragma once

#include <string>
#include <string_view>

#include "domain/model.h"

namespace growhook {

// WebhookAuth as stored (secrets included; the API never shows them).
std::string auth_to_storage(const WebhookAuth& auth);
WebhookAuth auth_from_storage(std::string_view json);

// The log line of a webhook's change of health (none for HealthChange::kNone).
void log_health_change(const std::string& webhook_id, const HealthStep& step);

}  // namespace growhook
