#include "collector/counter_rates.h"

#include <vector>

namespace hw::collector {

std::optional<uint64_t> CounterDelta(uint64_t prev, uint64_t cur) {
  if (cur >= prev) return cur - prev;
  constexpr uint64_t kHalf32 = 1ull << 31;
  constexpr uint64_t kWrap32 = 1ull << 32;
  constexpr uint64_t kMaxWrapIncrease = 1ull << 30;
  if (prev >= kHalf32 && prev < kWrap32 && cur < kHalf32) {
    const uint64_t increase = (kWrap32 - prev) + cur;
    if (increase < kMaxWrapIncrease) return increase;
  }
  return std::nullopt;
}

CounterRates::Entry* CounterRates::Touch(std::string_view key, bool* fresh) {
  auto it = series_.find(std::string(key));
  *fresh = it == series_.end();
  if (*fresh) it = series_.emplace(std::string(key), Entry{}).first;
  return &it->second;
}

std::optional<double> CounterRates::Rate(std::string_view key, uint64_t value, int64_t mono_ms) {
  bool fresh = false;
  Entry* e = Touch(key, &fresh);
  std::optional<double> rate;
  if (!fresh && mono_ms > e->mono_ms) {
    if (std::optional<uint64_t> d = CounterDelta(e->value, value)) {
      rate = static_cast<double>(*d) * 1000.0 / static_cast<double>(mono_ms - e->mono_ms);
    }
  }
  e->value = value;
  e->mono_ms = mono_ms;
  e->generation = generation_;
  return rate;
}

std::optional<uint64_t> CounterRates::Delta(std::string_view key, uint64_t value) {
  bool fresh = false;
  Entry* e = Touch(key, &fresh);
  std::optional<uint64_t> d;
  if (!fresh) d = CounterDelta(e->value, value);
  e->value = value;
  e->generation = generation_;
  return d;
}

void CounterRates::Sweep() {
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.generation != generation_) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
  ++generation_;
}

}  // namespace hw::collector
