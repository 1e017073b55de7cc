// Where a store's SecretBox (common/secret_box.h) comes from.
//
// GROWHOOK_SECRETS_KEYS when it is set, on either store. Otherwise SQLite
// keeps its key in the data folder, in a file of its own, secrets.key
// (0600, written at the first start), never inside growhook.db: a copy of
// the database (`growhook backup`, a stolen file) carries no usable secret.
// PostgreSQL requires the variable: every node must hold the same keys.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/secret_box.h"

namespace growhook {

inline constexpr const char* kSecretsKeyFile = "secrets.key";

// keys: the value of GROWHOOK_SECRETS_KEYS ("" when unset). create: write
// a new key file when there is none (serve); false: kNotFound instead.
Result<std::shared_ptr<const SecretBox>> sqlite_secret_keys(const std::string& keys, const std::string& data_dir,
                                                            bool create);
// kInvalid saying how to make a key when keys is empty.
Result<std::shared_ptr<const SecretBox>> postgres_secret_keys(const std::string& keys);

}  // namespace growhook
