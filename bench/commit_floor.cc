// The floor under the everyday path: what one durable commit an event costs
// this machine in CPU, with nothing of growhook around it. At a paced rate
// (500 a second by default, one event a commit, as single-event posts
// arrive), CPU (user + system, getrusage) a commit of:
//   - the pacing loop alone (subtracted from the others),
//   - a 4 KiB pwrite appended to a file and fdatasync'd (the disk's floor),
//   - SQLite: one event row (the events table and its indexes, a ~1.5 KB
//     body) in a transaction, WAL, synchronous=FULL (ingestion's commit:
//     nothing acknowledged is lost), and the same with synchronous=NORMAL
//     (a relaxed transaction: a lease or an outcome).
//
//   build/commit_floor DIR [COMMITS] [PER_SECOND]
// prints "<what> <µs> us_cpu_a_commit" lines. The tenants benchmark's CPU an
// event (docs/performance.md) is compared with these.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "common/ids.h"
#include "domain/event.h"
#include "raw_events.h"

namespace {

double cpu_s() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Runs op `n` times at `per_second`; CPU seconds per run of op and pacing.
template <typename Op>
double paced(int n, int per_second, Op op) {
  const auto step = std::chrono::nanoseconds(1'000'000'000 / per_second);
  auto next = std::chrono::steady_clock::now();
  double c0 = cpu_s();
  for (int i = 0; i < n; ++i) {
    op(i);
    next += step;
    std::this_thread::sleep_until(next);
  }
  return (cpu_s() - c0) / n;
}

bool ok(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return true;
  std::fprintf(stderr, "commit_floor: %s: %s\n", sql, err ? err : "?");
  sqlite3_free(err);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/growhook-floor";
  const int n = argc > 2 ? std::atoi(argv[2]) : 2'500;
  const int rate = argc > 3 ? std::atoi(argv[3]) : 500;
  if (n <= 0 || rate <= 0) {
    std::fprintf(stderr, "usage: commit_floor DIR [COMMITS>0] [PER_SECOND>0]\n");
    return 2;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  const double idle = paced(n, rate, [](int) {});
  std::printf("pacing_loop %.1f us_cpu_a_commit (subtracted below)\n", idle * 1e6);

  int fd = ::open((dir + "/append.bin").c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (fd < 0) {
    std::perror("commit_floor: open");
    return 1;
  }
  std::string page(4096, 'x');
  const double raw = paced(n, rate, [&](int i) {
    if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i) * 4096) < 0 || ::fdatasync(fd) != 0) {
      std::perror("commit_floor: pwrite/fdatasync");
      std::exit(1);
    }
  });
  ::close(fd);
  std::printf("pwrite_4KiB_append_fdatasync %.1f us_cpu_a_commit\n", (raw - idle) * 1e6);

  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/floor.db").c_str(), &db) != SQLITE_OK ||
      !ok(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=4000;") ||
      !ok(db, growhook::bench::kRawEventsSchema)) {
    return 1;
  }
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, growhook::bench::kRawEventsInsert, -1, &ins, nullptr);
  const std::string account = "acc_0190f3a2b4c5d6e7f8a9b0c1";
  const std::string data = growhook::sample_contact_json();
  long seq = 0;
  for (const char* mode : {"FULL", "NORMAL"}) {
    if (!ok(db, (std::string("PRAGMA synchronous=") + mode).c_str())) return 1;
    const double c = paced(n, rate, [&](int) {
      std::string id = growhook::new_id("evt", 1'700'000'000'000 + seq++);
      std::string body = growhook::event_json(id, growhook::EventType::kSubscribed, "2024-09-26T00:08:18.161Z", data);
      if (!ok(db, "BEGIN IMMEDIATE")) std::exit(1);
      growhook::bench::bind_raw_event(ins, account, id, body);
      if (sqlite3_step(ins) != SQLITE_DONE) {
        std::fprintf(stderr, "commit_floor: insert: %s\n", sqlite3_errmsg(db));
        std::exit(1);
      }
      sqlite3_reset(ins);
      if (!ok(db, "COMMIT")) std::exit(1);
    });
    std::printf("sqlite_one_event_commit_synchronous_%s %.1f us_cpu_a_commit\n", mode, (c - idle) * 1e6);
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
}
