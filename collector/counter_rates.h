// Per-second rates from monotonic kernel counters, computed in the collector (collector/README.md).
//
// The rules, which fixture tests pin down:
//  - The first value of a series yields no rate (there is nothing to subtract).
//  - A counter that goes down is either a 32-bit counter that wrapped (old kernels and some drivers
//    keep 32-bit interface counters) or a reset (an interface re-created, a module reloaded). A
//    wrap is accepted only when it is unambiguous: the old value was in the upper half of the
//    32-bit range, the new one is in the lower half, and the implied increase is below 2^30. Any
//    other decrease is a reset: no rate for that interval, the new value becomes the base. One
//    missing point is better than a huge or negative one on a chart and in an alert.
//  - Series not seen in a collection are forgotten (Sweep), so a vanished interface or process
//    does not hold memory and its return starts fresh.
//
// Not thread-safe: each plugin owns its tracker and uses it on the scheduler thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hw::collector {

// The increase from prev to cur under the rules above; nullopt for a reset.
std::optional<uint64_t> CounterDelta(uint64_t prev, uint64_t cur);

class CounterRates {
 public:
  // Records value for key at mono_ms and returns the per-second rate since the previous value, or
  // nullopt (first sight, reset, or no time elapsed).
  std::optional<double> Rate(std::string_view key, uint64_t value, int64_t mono_ms);
  // Like Rate but returns the raw increase (for ratios such as CPU jiffies or disk busy time).
  std::optional<uint64_t> Delta(std::string_view key, uint64_t value);
  // Call once per collection, after all Rate/Delta calls: forgets keys not touched since the
  // previous Sweep.
  void Sweep();
  size_t size() const { return series_.size(); }

 private:
  struct Entry {
    uint64_t value = 0;
    int64_t mono_ms = 0;
    uint64_t generation = 0;
  };
  Entry* Touch(std::string_view key, bool* fresh);

  std::unordered_map<std::string, Entry> series_;
  uint64_t generation_ = 1;
};

}  // namespace hw::collector
