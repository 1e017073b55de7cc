// Checkpoints of a SQLite database in WAL mode, off the writing threads.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its
// threshold: that commit copies thousands of pages back into the database and
// syncs it, and the thread that made it (the delivery loop, the ingestion
// committer) waits. Here commits only append to the WAL: the writer's WAL
// hook wakes a thread of our own, which checkpoints (PASSIVE: it never blocks
// the writer or the readers) on a connection of its own, once `pages` frames
// were written since the last checkpoint. If that thread falls behind, a
// commit that finds force_pages frames written since checkpoints itself, as
// before, so the WAL stays bounded.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace growhook::sqlite {

class Db;

// Both counted in WAL frames written since the last checkpoint (or since the
// WAL was restarted), not in the WAL's size.
struct CheckpointOptions {
  int pages = 4'000;         // frames that wake the checkpoint thread
  int force_pages = 16'000;  // frames at which the writer checkpoints itself
};

class Checkpointer {
 public:
  // Opens its own connection to path and installs the WAL hook on writer
  // (which must outlive it, and be used by one thread at a time).
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, sqlite3* writer,
                                                     CheckpointOptions options = {});
  // Gives the writer SQLite's own checkpoint back (at `pages`), stops the
  // thread. Call before closing the writer.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Checkpoints made by the thread, and by writers that found the WAL full.
  uint64_t background_checkpoints() const { return background_.load(); }
  uint64_t forced_checkpoints() const { return forced_.load(); }

 private:
  Checkpointer(std::unique_ptr<Db> own, sqlite3* writer, CheckpointOptions options);
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  // The frames written since the last checkpoint, given the WAL's size in
  // frames now.
  int frames_since_last(int frames);
  void run();

  std::unique_ptr<Db> own_;
  sqlite3* writer_;
  const CheckpointOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  // The WAL's size in frames when the last checkpoint ran (set by whichever
  // thread made it; 0 after a restart of the WAL).
  std::atomic<int> last_log_{0};
  std::atomic<uint64_t> background_{0};
  std::atomic<uint64_t> forced_{0};
  std::thread thread_;
};

}  // namespace growhook::sqlite
