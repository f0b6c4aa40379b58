// Time for the scheduler and the exec runner, behind a seam so tests can reason about ticks.
//
// Intervals are aligned to the wall clock (a 10 s plugin runs at :00, :10, :20 ...), so every host
// samples at the same instants and a chart's points line up across a fleet. Elapsed time for rates
// and timeouts comes from the monotonic clock, which NTP steps cannot move.
#pragma once

#include <cstdint>

namespace hw::collector {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMs() const = 0;  // unix epoch ms
  virtual int64_t MonoMs() const = 0;  // steady, arbitrary origin
};

// The system clocks. Thread-safe.
const Clock& RealClock();

// The first multiple of interval_ms strictly after now_ms.
inline int64_t NextAligned(int64_t now_ms, int64_t interval_ms) {
  return (now_ms / interval_ms + 1) * interval_ms;
}

}  // namespace hw::collector
