// A webhook as a person sets it (the bodies of POST and PATCH
// /v1/webhooks): which fields exist, their limits, and the checks of its URL
// and of its extra authentication. The routes turn the errors into a 400
// problem; nothing is stored when there is one.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "delivery/address_guard.h"
#include "domain/model.h"

namespace growhook {

inline constexpr int kMaxBatchEvents = 1000;
inline constexpr int kMinBatchBytes = 1024;
inline constexpr int kMaxBatchBytes = 1 << 20;

// One problem with one field: where ("auth.name"), and what to fix.
struct FieldError {
  std::string field;
  std::string message;
};
using FieldErrors = std::vector<FieldError>;

// Applies the fields of body (a JSON object) to w, and adds an error for
// each field that is unknown, of the wrong type or out of its limits.
// create: name and url are required. The URL must be http(s) with a host;
// a literal address in it must pass guard (a name is checked when it is
// resolved, at connect time). When errors come back, w is half-changed and
// must not be stored.
void apply_webhook_fields(const nlohmann::json& body, Webhook& w, bool create, const AddressGuard& guard,
                          FieldErrors& errors);

}  // namespace growhook
