#include "common/consumer/backoff.h"

#include <algorithm>
#include <memory>
#include <random>

namespace hw::consumer {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, Random random)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      base_(initial_),
      random_(std::move(random)) {
  if (!random_) {
    random_ = [rng = std::make_shared<std::mt19937_64>(std::random_device{}())] {
      return (*rng)();
    };
  }
}

std::chrono::milliseconds Backoff::Next() {
  const int64_t base = base_.count();
  const int64_t half = base / 2;
  const int64_t span = base - half + 1;  // [half, base]
  const int64_t delay = half + static_cast<int64_t>(random_() % static_cast<uint64_t>(span));
  base_ = std::min(max_, base_ * 2);
  ++failures_;
  return std::chrono::milliseconds(std::max<int64_t>(1, delay));
}

void Backoff::Reset() {
  base_ = initial_;
  failures_ = 0;
}

}  // namespace hw::consumer
