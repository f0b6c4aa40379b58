#include "broker/broker_state.h"

#include <chrono>

namespace hw::broker {

uint32_t PartitionForSource(std::string_view source, uint32_t partitions) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : source) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % partitions);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace hw::broker
