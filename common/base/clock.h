// Time behind a seam, so code with timers (the collector's scheduler, the links' heartbeats and
// retries, logwatch's flushes, the broker's periodic work) can be unit-tested on a fake clock.
//
// Two readings, for two jobs. The wall clock stamps data and aligns intervals (a 10 s plugin runs
// at :00, :10, :20 ..., so every host samples at the same instants and a chart's points line up
// across a fleet). The monotonic clock measures elapsed time for rates, timeouts and deadlines,
// which NTP steps cannot move.
#pragma once

#include <atomic>
#include <cstdint>

namespace hw {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMs() const = 0;  // unix epoch ms
  virtual int64_t MonoMs() const = 0;  // steady, arbitrary origin
};

// The system clocks. Thread-safe.
const Clock& RealClock();

// A clock that moves only when told. Thread-safe: a test thread may advance it while the code
// under test reads it.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'700'000'000'000, int64_t mono_ms = 1'000'000)
      : wall_(wall_ms), mono_(mono_ms) {}
  int64_t WallMs() const override { return wall_.load(std::memory_order_relaxed); }
  int64_t MonoMs() const override { return mono_.load(std::memory_order_relaxed); }
  // Moves both readings forward.
  void Advance(int64_t ms) {
    wall_.fetch_add(ms, std::memory_order_relaxed);
    mono_.fetch_add(ms, std::memory_order_relaxed);
  }
  // Steps the wall clock alone, as NTP or an operator would.
  void SetWall(int64_t wall_ms) { wall_.store(wall_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> wall_;
  std::atomic<int64_t> mono_;
};

// A periodic job's "is it due?" on the monotonic clock, kept pure so that the caller passes the
// time (read from its injected Clock) and a test drives it with plain numbers. Due() is true once
// interval_ms has passed since it last was (or since the start), and then starts the next period
// at now_ms; `force` makes it true at once (a final flush) and restarts the period likewise.
class Every {
 public:
  Every(int64_t interval_ms, int64_t start_ms) : interval_ms_(interval_ms), last_ms_(start_ms) {}
  bool Due(int64_t now_ms, bool force = false) {
    if (!force && now_ms - last_ms_ < interval_ms_) return false;
    last_ms_ = now_ms;
    return true;
  }
  // For an interval that a reload may change; takes effect at the next Due().
  void set_interval_ms(int64_t interval_ms) { interval_ms_ = interval_ms; }

 private:
  int64_t interval_ms_;
  int64_t last_ms_;
};

// The first multiple of interval_ms strictly after now_ms.
inline int64_t NextAligned(int64_t now_ms, int64_t interval_ms) {
  return (now_ms / interval_ms + 1) * interval_ms;
}

}  // namespace hw
