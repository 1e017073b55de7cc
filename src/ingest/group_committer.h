// Group commit for ingestion: requests from many HTTP connections wait in a
// bounded queue; one thread takes everything queued and commits it in one
// transaction (one fsync for all of them), then answers each.
//
// Parsing and validation happen before submit(), on the HTTP threads, so
// that both cores work: one parses while the other writes.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "store/event_log.h"

namespace growhook {

class GroupCommitter {
 public:
  using Done = std::function<void(Result<AppendOutcome>)>;

  struct Options {
    size_t max_queued_requests = 8192;  // beyond: submit() refuses (503)
    size_t max_events_per_commit = 20'000;
  };

  // on_commit runs on the committer thread after each successful commit
  // that stored something (delivery uses it to wake up at once).
  GroupCommitter(EventLog& log, Options options, std::function<void()> on_commit);
  ~GroupCommitter();

  // Queues a request. Returns false, without calling done, when the queue is
  // full or the committer is stopping. done runs on the committer thread.
  bool submit(AppendRequest request, Done done);

  // Commits what is queued, then stops the thread. Idempotent.
  void stop();

  size_t queued() const;
  uint64_t commits() const { return commits_; }

 private:
  struct Item {
    AppendRequest request;
    Done done;
  };
  void run();

  EventLog& log_;
  Options options_;
  std::function<void()> on_commit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> commits_{0};
  std::thread thread_;
};

}  // namespace growhook
