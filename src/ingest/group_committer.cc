#include "ingest/group_committer.h"

#include <vector>

#include "common/thread_name.h"

namespace growhook {

GroupCommitter::GroupCommitter(EventLog& log, Options options, std::function<void()> on_commit)
    : log_(log), options_(options), on_commit_(std::move(on_commit)) {
  thread_ = std::thread([this] {
    name_this_thread("gh-ingest");
    run();
  });
}

GroupCommitter::~GroupCommitter() { stop(); }

bool GroupCommitter::submit(AppendRequest request, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued_requests) return false;
    queue_.push_back({std::move(request), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

void GroupCommitter::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      if (!thread_.joinable()) return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t GroupCommitter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void GroupCommitter::run() {
  std::vector<Item> items;
  std::vector<AppendRequest> requests;
  for (;;) {
    items.clear();
    requests.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is committed
      size_t events = 0;
      while (!queue_.empty() && (items.empty() || events + queue_.front().request.events.size() <=
                                                      options_.max_events_per_commit)) {
        events += queue_.front().request.events.size();
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    requests.reserve(items.size());
    for (auto& it : items) requests.push_back(std::move(it.request));
    auto results = log_.append_events(requests);
    bool stored = false;
    for (auto& r : results) stored |= r.ok() && r->stored > 0;
    commits_++;
    if (stored && on_commit_) on_commit_();
    for (size_t i = 0; i < items.size(); ++i) items[i].done(std::move(results[i]));
  }
}

}  // namespace growhook
