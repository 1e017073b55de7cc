// The PostgreSQL store's contact search (contacts.h): one statement a page.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "store/contacts.h"
#include "store/pg_conn.h"

namespace growhook::pg {

Result<std::vector<StoredEvent>> find_contact_events(Conn& c, const std::string& account_id, const ContactQuery& q);
Result<StoredEvent> get_event(Conn& c, const std::string& account_id, const std::string& event_id);

}  // namespace growhook::pg
