// Encodings shared by the store implementations.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret_box.h"
#include "domain/model.h"

namespace growhook {

// WebhookAuth as stored before sealing (secrets included; the API never
// shows them).
std::string auth_to_storage(const WebhookAuth& auth);
WebhookAuth auth_from_storage(std::string_view json);

// A webhook's secret columns as they are in the database: auth (the JSON
// above), secret and previous_secret, each sealed by the store's SecretBox
// with "webhooks/<id>/<column>" as associated data, so a value cannot be
// moved to another webhook or column. An empty previous_secret (none) stays
// empty.
struct StoredSecrets {
  std::string id, auth, secret, previous_secret;
  bool operator==(const StoredSecrets&) const = default;
};

StoredSecrets seal_secrets(const SecretBox& box, const Webhook& w);
// Opens the stored columns into w (w.id already read). kInternal naming
// the webhook and the key when a value does not open (a value in clear
// too: the store seals those when it opens).
Status open_secrets(const SecretBox& box, const StoredSecrets& stored, Webhook& w);

// The row as it should be stored: values in clear sealed, and with reseal
// also those sealed by a key other than the first. nullopt when it is fine
// as it is; an error (as open_secrets) when a sealed value does not open.
Result<std::optional<StoredSecrets>> refreshed_secrets(const SecretBox& box, const StoredSecrets& row, bool reseal);

// One page of webhooks (by id, after after_id) brought to their stored
// form by refreshed_secrets, in one transaction of its own; each row
// written only if it did not change meanwhile (compare-and-set on the three
// columns), so nodes may serve and write while it runs.
struct ResealPage {
  std::string last_id;    // the next page starts after it
  int examined = 0;       // rows read; fewer than the limit: the last page
  int resealed = 0;       // rows written
  int changed_meanwhile = 0;  // rows changed by someone else between read and write
};

// The LIKE pattern of values sealed by the first key of box.
std::string sealed_by_first_pattern(const SecretBox& box);
// The log line of a webhook's change of health (none for HealthChange::kNone).
void log_health_change(const std::string& webhook_id, const HealthStep& step);

}  // namespace growhook
