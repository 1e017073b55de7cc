// The store: everything growhook keeps, behind small interfaces by role,
// each with its contract in its header, and one class per database that
// implements them all (sqlite_store.*, postgres_store.*). Each part of
// growhook holds only the role it uses:
//
//   event_log.h    EventLog     ingestion (GroupCommitter)
//   work_queue.h   WorkQueue    the delivery loop (DeliveryEngine)
//   accounts.h     Accounts     the API: accounts and keys
//   webhooks.h     Webhooks     the API: webhooks
//   batches.h      Batches      the API: batches, manual retries
//   contacts.h     Contacts     the API: a contact's events, where each went
//   delivery_activity.h DeliveryActivity  the API: a webhook's deliveries and failures per hour
//   maintenance.h  Maintenance  retention, /metrics, /readyz, settings
//   portal_sessions.h PortalSessions  the API: the page's sign-ins minted by the platform
//   backlog.h      Backlog      the API: enabling a webhook where it stopped, recovering events
//   outbox.h       Outbox       notifications of webhooks' health (notify/sender.h)
//
// Rules for every method of every role:
// - Thread-safe and synchronous. A write has committed when it returns
//   success; ingestion and everything a person changes are then on disk
//   (fsync); delivery's bookkeeping is not always (work_queue.h).
// - Expected failures are values: kNotFound when a thing does not exist or
//   belongs to another account (callers cannot tell the two apart),
//   kConflict when it collides with what exists, kUnavailable for
//   temporary conditions (disk full, database unreachable), kInternal
//   otherwise. Nothing is written half-way: a failed call changes nothing.
// - The contract is one test suite run on both stores
//   (*_contract_test.cc beside this file).
#pragma once

#include <memory>

#include "store/accounts.h"
#include "store/backlog.h"
#include "store/batches.h"
#include "store/contacts.h"
#include "store/event_log.h"
#include "store/maintenance.h"
#include "store/outbox.h"
#include "store/portal_sessions.h"
#include "store/delivery_activity.h"
#include "store/webhooks.h"
#include "store/work_queue.h"

namespace growhook {

class Store : public EventLog,
              public WorkQueue,
              public Accounts,
              public Webhooks,
              public Batches,
              public Contacts,
              public DeliveryActivity,
              public Maintenance,
              public PortalSessions,
              public Backlog,
              public Outbox {};

// What a store's factory hands back: the store, and the notifier that wakes
// this node when another one committed work (null for a single-node store).
// The notifier belongs to the store and lives as long as it.
struct OpenedStore {
  std::unique_ptr<Store> store;
  WorkNotifier* notifier = nullptr;
};

}  // namespace growhook
