// The store's share of a delivery turn, without the network: a backlog of
// one-event batches drained through WorkQueue::record_and_claim the way the
// engine does (each turn records the outcomes of the batches the turn before
// claimed, all delivered, and claims as many again), timed on one thread.
// What delivery of batch size 1 costs the engine thread in SQLite, measured
// apart from libcurl, the receiver and the scheduler.
//
//   build/store_turns [EVENTS=20000] [PER_TURN=50] [DIR]  → "store_turn_us_per_batch X"
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/ids.h"
#include "domain/event.h"
#include "store/sqlite_store.h"

using namespace growhook;

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::atoi(argv[1]) : 20'000;
  const int per_turn = argc > 2 ? std::atoi(argv[2]) : 50;
  const std::string dir = argc > 3 ? argv[3] : "/tmp/growhook-store-turns";
  std::filesystem::remove_all(dir);
  auto opened = open_sqlite_store(dir);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  Store& store = **opened;
  const int64_t now = 1'700'000'000'000;
  if (!store.create_account({"acc_1", "shop", now}, "hash").ok()) return 1;
  Webhook w;
  w.id = "wh_1";
  w.account_id = "acc_1";
  w.name = "crm";
  w.url = "http://127.0.0.1:9/hook";
  w.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  w.batch_max_events = 1;
  if (!store.create_webhook(w).ok()) return 1;
  for (int done = 0; done < events;) {
    AppendRequest r{"acc_1", {}, now};
    for (int i = 0; i < 1000 && done < events; ++i, ++done) {
      IncomingEvent e;
      e.occurred_at = "2024-09-26T00:08:18.161Z";
      e.data_json = sample_contact_json();
      set_event_id(e, "evt_" + std::to_string(done));
      r.events.push_back(std::move(e));
    }
    if (!store.append_events(std::span<const AppendRequest>(&r, 1))[0].ok()) return 1;
  }

  // Experiments: SQL run on the database (another connection) before the
  // drain, e.g. STORE_TURNS_SQL="DROP INDEX batches_by_state_updated".
  if (const char* sql = std::getenv("STORE_TURNS_SQL")) {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/growhook.db").c_str(), &db);
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) std::fprintf(stderr, "%s\n", err);
    sqlite3_close(db);
  }

  ClaimRequest req;
  req.owner = "bench";
  req.lease_ms = 60'000;
  req.per_webhook_in_flight = per_turn;
  req.max_batches = per_turn;
  req.max_batch_bytes = 1 << 20;
  std::vector<AttemptOutcome> outcomes;
  int batches = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t t = now;; ++t) {
    req.now_ms = t;
    auto claimed = store.record_and_claim(outcomes, req);
    if (!claimed.ok()) {
      std::fprintf(stderr, "%s\n", claimed.error().message.c_str());
      return 1;
    }
    outcomes.clear();
    if (claimed->empty()) break;
    for (const auto& c : *claimed) {
      AttemptOutcome o;
      o.batch_id = c.batch.id;
      o.webhook_id = c.webhook.id;
      o.owner = "bench";
      o.attempt_number = c.next_attempt_number;
      o.attempt = {t, 200, 1, "", "ok"};
      o.new_state = BatchState::kDelivered;
      outcomes.push_back(std::move(o));
    }
    batches += static_cast<int>(claimed->size());
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("batches %d\nstore_turn_us_per_batch %.2f\n", batches, us / batches);
  std::filesystem::remove_all(dir);
  return batches == events ? 0 : 1;
}
