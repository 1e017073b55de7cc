#include "store/sqlite_checkpointer.h"

#include <spdlog/spdlog.h>

#include "common/thread_name.h"
#include "store/sqlite_db.h"

namespace growhook::sqlite {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path, sqlite3* writer,
                                                          CheckpointOptions options) {
  auto own = Db::open(path, false);
  if (!own.ok()) return own.error();
  return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(*own), writer, options));
}

Checkpointer::Checkpointer(std::unique_ptr<Db> own, sqlite3* writer, CheckpointOptions options)
    : own_(std::move(own)), writer_(writer), options_(options) {
  // Replaces SQLite's automatic checkpoint, which is itself a WAL hook.
  sqlite3_wal_hook(writer_, &Checkpointer::on_commit, this);
  thread_ = std::thread([this] {
    name_this_thread("gh-checkpoint");
    run();
  });
}

Checkpointer::~Checkpointer() {
  // SQLite's own checkpoint again, at the same size, for whatever the
  // writer still commits.
  sqlite3_wal_autocheckpoint(writer_, options_.pages);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int Checkpointer::frames_since_last(int frames) {
  int last = last_log_.load(std::memory_order_relaxed);
  if (frames < last) {
    // The WAL was restarted (rewound to its start) since: count from there.
    last = 0;
    last_log_.store(0, std::memory_order_relaxed);
  }
  return frames - last;
}

// On the writer's thread, after each commit, with the WAL's size in frames.
// What counts is the frames written since the last checkpoint, not the size:
// a WAL that readers keep from being restarted stays above `pages` for long
// stretches, and waking at each commit then checkpointed 150 times a second
// at 500 commits a second (two fdatasyncs each: 0.25 ms of CPU an event).
int Checkpointer::on_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  const int written = c->frames_since_last(frames);
  if (written >= c->options_.force_pages) {
    // Behind: do it here, as SQLite's own checkpoint would have.
    int log = 0;
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, nullptr) == SQLITE_OK) {
      c->forced_++;
      c->last_log_.store(log, std::memory_order_relaxed);
    }
    return SQLITE_OK;
  }
  if (written >= c->options_.pages) {
    bool wake;
    {
      std::lock_guard lock(c->mu_);
      wake = !c->wanted_;
      c->wanted_ = true;
    }
    if (wake) c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return wanted_ || stopping_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    int log = 0;
    int rc = sqlite3_wal_checkpoint_v2(own_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, nullptr);
    if (rc == SQLITE_OK) {
      background_++;
      last_log_.store(log, std::memory_order_relaxed);
    } else if (rc != SQLITE_BUSY) {
      spdlog::warn("msg=\"WAL checkpoint failed; the WAL grows until one succeeds\" error=\"{}\"",
                   sqlite3_errmsg(own_->raw()));
    }
    lock.lock();
  }
}

}  // namespace growhook::sqlite
