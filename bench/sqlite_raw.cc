// The raw SQLite limit that ingestion is measured against: the same event
// rows (same table, same indexes, same ~1.5 KB bodies) inserted in
// 1000-row transactions with WAL and synchronous=FULL, one fsync a commit.
//
//   build/sqlite_raw DIR [SECONDS] [EVENT_FILE]   → "raw_sqlite_rows_per_s N"
// EVENT_FILE holds one ingestion event; its canonical data set is the row
// body, so the rows are byte for byte those the ingest benchmark stores.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/ids.h"
#include "domain/event.h"
#include "raw_events.h"

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/growhook-raw";
  double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/raw.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=4000;", nullptr,
               nullptr, nullptr);
  sqlite3_exec(db, growhook::bench::kRawEventsSchema, nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, growhook::bench::kRawEventsInsert, -1, &ins, nullptr);
  const std::string account = "acc_0190f3a2b4c5d6e7f8a9b0c1";
  auto start = std::chrono::steady_clock::now();
  long rows = 0;
  std::string data = growhook::sample_contact_json();
  if (argc > 3) {
    std::ifstream f(argv[3]);
    std::stringstream ss;
    ss << f.rdbuf();
    auto parsed = growhook::parse_ingest_body(ss.str());
    if (!parsed.issues.empty() || parsed.events.empty()) {
      std::fprintf(stderr, "sqlite_raw: %s is not a valid event\n", argv[3]);
      return 2;
    }
    data = parsed.events[0].data_json;
  }
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < 1000; ++i) {
      std::string id = growhook::new_id("evt", 1'700'000'000'000 + rows);
      std::string body = growhook::event_json(id, growhook::EventType::kSubscribed, "2024-09-26T00:08:18.161Z", data);
      growhook::bench::bind_raw_event(ins, account, id, body);
      sqlite3_step(ins);
      sqlite3_reset(ins);
      ++rows;
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("raw_sqlite_rows_per_s %.0f\n", static_cast<double>(rows) / elapsed);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
}
