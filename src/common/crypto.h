// Thin wrappers over OpenSSL: randomness, hashing, HMAC, base64, and a
// constant-time comparison. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace growhook::crypto {

// n bytes from OpenSSL's CSPRNG. Aborts if the generator fails (it cannot
// on a working system, and continuing with weak randomness is worse).
std::string random_bytes(size_t n);

std::string sha256(std::string_view data);          // 32 raw bytes
std::string sha256_hex(std::string_view data);      // 64 lowercase hex chars
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes
// The HMAC of the parts one after the other (no copy of them joined).
std::string hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts);

std::string base64_encode(std::string_view raw);    // standard alphabet, padded
std::optional<std::string> base64_decode(std::string_view text);  // nullopt if malformed
std::string base64url_encode(std::string_view raw); // URL-safe, unpadded
std::string hex_encode(std::string_view raw);

// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace growhook::crypto
