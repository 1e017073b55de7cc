// The SQLite store's contact search (contacts.h), on a reader connection.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "store/contacts.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

Result<std::vector<StoredEvent>> find_contact_events(Db& db, const std::string& account_id, const ContactQuery& q);
Result<StoredEvent> get_event(Db& db, const std::string& account_id, const std::string& event_id);

}  // namespace growhook::sqlite
