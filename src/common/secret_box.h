// Secrets at rest: AES-256-GCM (OpenSSL EVP) over a ring of keys. The first
// key seals, every key opens; each sealed value names the key that sealed
// it, so a ring can hold an old key while its values are resealed
// (`growhook reencrypt`). A sealed value reads
//
//   gh1:<key id>:<base64 of nonce (12 bytes) | ciphertext | tag (16 bytes)>
//
// with a random nonce per value; the key id is the first 4 bytes of the
// key's SHA-256 in hex (8 characters), so it says which key without
// revealing it. The associated data (the row's id and column) is
// authenticated, not stored: a value copied to another row or column does
// not open.
//
// Immutable once built; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace growhook {

class SecretBox {
 public:
  // keys: comma-separated base64 of 32 bytes each (GROWHOOK_SECRETS_KEYS).
  // kInvalid naming the key (by its position in source) that is malformed,
  // empty or given twice.
  static Result<SecretBox> from_keys(std::string_view keys, std::string_view source = "GROWHOOK_SECRETS_KEYS");
  // One new random key, as from_keys would read it (for the key file).
  static std::string generate_key();

  // The sealed form of plain (never fails: a random nonce and AES-GCM).
  std::string seal(std::string_view plain, std::string_view aad) const;
  // The plain text; kNotFound when the value names a key this ring does
  // not hold, kInvalid when it is not a sealed value or does not
  // authenticate (altered, moved to another row, or another key with the
  // same id).
  Result<std::string> open(std::string_view sealed, std::string_view aad) const;

  static bool is_sealed(std::string_view value);
  // The key id a sealed value names ("" when it is not a sealed value).
  static std::string_view key_id_of(std::string_view sealed);
  // The id of the key that seals (the first).
  const std::string& sealing_key_id() const { return keys_.front().id; }
  std::vector<std::string> key_ids() const;

 private:
  struct Key {
    std::string id;   // 8 hex characters
    std::string raw;  // 32 bytes
  };
  explicit SecretBox(std::vector<Key> keys) : keys_(std::move(keys)) {}
  const Key* find(std::string_view id) const;

  std::vector<Key> keys_;  // never empty
};

}  // namespace growhook
