// Message signing per Standard Webhooks (standardwebhooks.com):
// signature = "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
// where key is the base64-decoded part of the secret after "whsec_".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace growhook {

// A new secret: "whsec_" + base64 of 32 random bytes (OpenSSL CSPRNG).
std::string new_webhook_secret();

// Checks "whsec_" + base64 of 24..64 bytes; returns the raw key bytes.
Result<std::string> decode_webhook_secret(std::string_view secret);

// "v1,<base64>" for one secret. The secret must be valid (decode first); an
// invalid one gives "" rather than a signature under a stand-in key.
std::string sign_message(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                         std::string_view body);

// The webhook-signature header value: one "v1,…" per secret, space-separated
// (during a rotation's grace period both the new and the old secret sign).
// Secrets that do not decode are left out; none valid gives "".
std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id,
                             int64_t timestamp_s, std::string_view body);

// Receiver side, for our docs and tests: true if any "v1,…" in the header
// matches for the secret and the timestamp is within tolerance_s of now_s
// (inclusive). False for an invalid secret. Compares in constant time.
bool verify_signature(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                      std::string_view body, std::string_view header, int64_t now_s,
                      int64_t tolerance_s = 300);

}  // namespace growhook
