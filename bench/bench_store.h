// What the store benchmarks share: a store opened from the command line's
// "DIR | postgresql://URL" (a fresh SQLite folder, or PostgreSQL with the
// keys of GROWHOOK_SECRETS_KEYS in an empty database), SQL run on a closed
// SQLite store (to drop an index for an A/B run), and the outcome of an
// attempt of a claimed batch.
#pragma once

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace growhook::bench {

inline Result<std::unique_ptr<Store>> open_store(const std::string& where) {
  if (where.rfind("postgres", 0) == 0) {
    // PostgreSQL needs the keys its secrets are sealed with.
    const char* keys = std::getenv("GROWHOOK_SECRETS_KEYS");
    auto s = open_postgres_store(where, 4, keys ? keys : "");
    if (!s.ok()) return s.error();
    return std::move(s->store);
  }
  std::filesystem::remove_all(where);
  return open_sqlite_store(where);
}

// Webhook wh_<i> of account acc_1, to a loopback port nothing listens on.
inline Webhook bench_webhook(int i, int batch_max_events = 100) {
  Webhook w;
  w.id = "wh_" + std::to_string(i);
  w.account_id = "acc_1";
  w.name = "crm " + std::to_string(i);
  w.url = "http://127.0.0.1:9/hook";
  w.batch_max_events = batch_max_events;
  w.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  return w;
}

// Runs sql on the SQLite store of folder dir while no store has it open.
inline void exec_on_sqlite_folder(const std::string& dir, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/growhook.db").c_str(), &db);
  sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

// The attempt at t of claimed batch c, by owner "bench", with its new state.
inline AttemptOutcome outcome_of(const ClaimedBatch& c, int64_t t, int status, BatchState state) {
  AttemptOutcome o;
  o.batch_id = c.batch.id;
  o.webhook_id = c.webhook.id;
  o.owner = "bench";
  o.attempt_number = c.next_attempt_number;
  const bool ok = status >= 200 && status < 300;
  o.attempt = {t, status, 1, ok ? "" : "HTTP " + std::to_string(status), "ok"};
  o.new_state = state;
  return o;
}

}  // namespace growhook::bench
