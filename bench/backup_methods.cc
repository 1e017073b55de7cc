// The three ways to copy a live SQLite store that `growhook backup` chose
// between, run against a store that another process is writing
// (bench/backup_bench.py starts the node and the load):
//
//   build/backup_methods one-step    SRC DST        sqlite3_backup_step(-1): what growhook backup does
//   build/backup_methods steps       SRC DST PAGES SLEEP_MS CAP_S
//                                                   sqlite3_backup_step(PAGES), SLEEP_MS between steps
//   build/backup_methods held-steps  SRC DST PAGES SLEEP_MS
//                                                   the same steps inside one read transaction of
//                                                   the source, held from the first step to the last
//   build/backup_methods vacuum-into SRC DST        VACUUM INTO
//
// Prints "method=… ms=… done=0|1 restarts=N bytes=N": restarts counts the
// times a stepped copy began again because another process wrote between
// two steps; a stepped copy still not done after CAP_S seconds is given up.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

sqlite3* open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), sqlite3_errmsg(db));
    std::exit(1);
  }
  sqlite3_busy_timeout(db, 10'000);
  return db;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: backup_methods one-step|steps|vacuum-into SRC DST [PAGES SLEEP_MS CAP_S]\n");
    return 2;
  }
  const std::string method = argv[1], src_path = argv[2], dst_path = argv[3];
  std::filesystem::remove(dst_path);
  sqlite3* src = open(src_path);
  const auto start = Clock::now();
  bool done = false;
  long restarts = 0;
  if (method == "vacuum-into") {
    std::string sql = "VACUUM INTO '" + dst_path + "'";
    done = sqlite3_exec(src, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  } else {
    sqlite3* dst = open(dst_path);
    if (method == "held-steps") {
      // The snapshot stays the one of this read: no step sees another
      // process's commit, so nothing restarts.
      sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", nullptr, nullptr, nullptr);
    }
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    const int pages = method != "one-step" && argc > 4 ? std::atoi(argv[4]) : -1;
    const int sleep_ms = argc > 5 ? std::atoi(argv[5]) : 0;
    const double cap_s = argc > 6 ? std::atof(argv[6]) : 60;
    int last_remaining = -1;
    while (true) {
      int rc = sqlite3_backup_step(b, pages);
      if (rc == SQLITE_DONE) {
        done = true;
        break;
      }
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      int remaining = sqlite3_backup_remaining(b);
      if (last_remaining >= 0 && remaining > last_remaining) ++restarts;
      last_remaining = remaining;
      if (std::chrono::duration<double>(Clock::now() - start).count() > cap_s) break;
      if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    }
    sqlite3_backup_finish(b);
    if (method == "held-steps") sqlite3_exec(src, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close_v2(dst);
  }
  const long ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  sqlite3_close_v2(src);
  std::error_code ec;
  auto bytes = std::filesystem::file_size(dst_path, ec);
  std::printf("method=%s ms=%ld done=%d restarts=%ld bytes=%llu\n", method.c_str(), ms, done ? 1 : 0, restarts,
              static_cast<unsigned long long>(ec ? 0 : bytes));
  return done ? 0 : 1;
}
