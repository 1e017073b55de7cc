// Time is injected: domain and delivery code never read the system clock.
// Wall time is for timestamps shown to people and stored; monotonic time is
// for timeouts and durations.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace growhook {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t now_ms() const = 0;
  // Monotonic milliseconds from an arbitrary origin.
  virtual int64_t mono_ms() const = 0;
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
};

// A clock that moves only when a test moves it. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms), mono_(0) {}
  int64_t now_ms() const override { return now_.load(); }
  int64_t mono_ms() const override { return mono_.load(); }
  void advance_ms(int64_t d) {
    now_ += d;
    mono_ += d;
  }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> mono_;
};

}  // namespace growhook
