// Accounts and their API keys (the platform's and the API's routes). The
// rules of store.h hold for it. Only the SHA-256 hex of a key is stored.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "domain/model.h"

namespace growhook {

class Accounts {
 public:
  virtual ~Accounts() = default;

  // The account and its first key, together. kConflict when the id or the
  // key hash exists already.
  virtual Status create_account(const Account& account, const std::string& api_key_hash) = 0;
  virtual Result<Account> account_by_key_hash(const std::string& api_key_hash) = 0;
  virtual Result<Account> get_account(const std::string& account_id) = 0;
  // Sets or clears (nullopt) the account's notification_email, validated
  // before (domain/notification.h). kNotFound when there is no account.
  virtual Status set_notification_email(const std::string& account_id, const std::optional<std::string>& email) = 0;
};

}  // namespace growhook
