// Reconnect backoff with jitter, the same for every consumer: 100 ms doubling to 30 s.
//
// Each delay is drawn uniformly from [base/2, base] where base doubles from `initial` to `max`
// with every failure ("equal jitter"): never zero, so a dead backend is not hammered, and spread,
// so a fleet of consumers that lost the same Redis does not reconnect in lockstep. Reset() after
// a success starts again from `initial`.
//
// Pure apart from the random source, which tests inject. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace hw::consumer {

class Backoff {
 public:
  using Random = std::function<uint64_t()>;  // uniform over uint64_t
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                   std::chrono::milliseconds max = std::chrono::seconds(30),
                   Random random = nullptr);

  // The delay before the next attempt; doubles the base for the one after.
  std::chrono::milliseconds Next();
  void Reset();
  // Consecutive failures since the last Reset().
  uint32_t failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_, max_, base_;
  Random random_;
  uint32_t failures_ = 0;
};

}  // namespace hw::consumer
