// Time is injected: domain and delivery code never read the system clock
// and never sleep by themselves. Wall time is for timestamps shown to
// people and stored; monotonic time is for timeouts and durations; and a
// thread that waits "until woken or until t" waits through the clock too,
// so that a test's FakeClock decides when t has come.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <vector>

namespace growhook {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t now_ms() const = 0;
  // Monotonic milliseconds from an arbitrary origin.
  virtual int64_t mono_ms() const = 0;
  // Waits on cv, lock held on entry and on return (as
  // condition_variable::wait_for), until pred() holds or timeout_ms of this
  // clock's monotonic time have passed. Returns pred(). Whoever makes pred()
  // true notifies cv, as with any condition variable.
  virtual bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t timeout_ms,
                        const std::function<bool()>& pred) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t mono_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t timeout_ms,
                const std::function<bool()>& pred) const override {
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), pred);
  }
};

// A clock that moves only when a test moves it. Thread-safe.
//
// A thread waiting on it (wait_for) sleeps until it is woken through its
// condition variable or until advance_ms moves the time to its deadline: no
// real time passes in between, so a test steps a loop through its schedule
// (retries, idle polls, rests) by advancing the clock, and knows when the
// loop is done with a step because it waits again (waits_begun).
// With advance_on_wait(true), a wait that is not over at once moves the time
// to its deadline itself: for code run on the test's own thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms), mono_(0) {}
  int64_t now_ms() const override { return now_.load(); }
  int64_t mono_ms() const override { return mono_.load(); }

  bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t timeout_ms,
                const std::function<bool()>& pred) const override {
    const int64_t deadline_mono_ms = mono_ms() + timeout_ms;
    Sleeper s{lock.mutex(), &cv, deadline_mono_ms};
    bool advance_itself;
    {
      std::lock_guard g(mu_);
      ++waits_;
      advance_itself = advance_on_wait_;
      if (!advance_itself) sleepers_.push_back(&s);
    }
    changed_.notify_all();
    if (advance_itself) {
      if (!pred() && mono_ms() < deadline_mono_ms) move_time(deadline_mono_ms - mono_ms());
      return pred();
    }
    while (!pred() && mono_ms() < deadline_mono_ms) cv.wait(lock);
    // Unhooked with the caller's lock released: advance_ms may be waiting
    // for it to wake this very sleeper.
    lock.unlock();
    {
      std::unique_lock g(mu_);
      changed_.wait(g, [&] { return s.notifying == 0; });
      sleepers_.remove(&s);
    }
    changed_.notify_all();
    lock.lock();
    return pred();
  }

  // Moves the time on, and ends the waits whose deadline it reaches.
  // Returns how many it ended.
  int advance_ms(int64_t d) { return move_time(d); }

  void advance_on_wait(bool on) {
    std::lock_guard g(mu_);
    advance_on_wait_ = on;
  }

  // How many waits have begun on this clock, in all.
  int64_t waits_begun() const {
    std::lock_guard g(mu_);
    return waits_;
  }
  // Blocks until at least n waits have begun (a loop has come back to
  // sleep), for at most 10 s of real time. False on the timeout.
  bool await_waits(int64_t n) const {
    std::unique_lock g(mu_);
    return changed_.wait_for(g, std::chrono::seconds(10), [&] { return waits_ >= n; });
  }
  // Blocks until at least n threads sleep on this clock and no advance has
  // ended their sleep, for at most 10 s of real time. False on the timeout.
  bool await_sleepers(int n = 1) const {
    std::unique_lock g(mu_);
    return changed_.wait_for(g, std::chrono::seconds(10), [&] {
      return std::count_if(sleepers_.begin(), sleepers_.end(), [](const Sleeper* s) { return !s->released; }) >= n;
    });
  }

 private:
  struct Sleeper {
    std::mutex* mu;
    std::condition_variable* cv;
    int64_t deadline;
    bool released = false;  // an advance ended it (guarded by mu_)
    int notifying = 0;      // advances notifying it right now (guarded by mu_)
  };

  int move_time(int64_t d) const {
    now_ += d;
    mono_ += d;
    std::vector<Sleeper*> due;
    {
      std::lock_guard g(mu_);
      for (Sleeper* s : sleepers_) {
        if (s->released || s->deadline > mono_.load()) continue;
        s->released = true;
        s->notifying++;
        due.push_back(s);
      }
    }
    for (Sleeper* s : due) {
      // Taking the sleeper's own lock once means it is inside cv.wait (or
      // has not checked the time yet): the notification cannot be lost.
      { std::lock_guard l(*s->mu); }
      s->cv->notify_all();
      {
        std::lock_guard g(mu_);
        s->notifying--;
      }
      changed_.notify_all();
    }
    return static_cast<int>(due.size());
  }

  mutable std::atomic<int64_t> now_;
  mutable std::atomic<int64_t> mono_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  mutable std::list<Sleeper*> sleepers_;
  mutable int64_t waits_ = 0;     // guarded by mu_
  bool advance_on_wait_ = false;  // guarded by mu_
};

}  // namespace growhook
