#include "broker/broker_state.h"

#include "common/strings/fnv1a.h"

namespace hw::broker {

uint32_t PartitionForSource(std::string_view source, uint32_t partitions) {
  return static_cast<uint32_t>(strings::Fnv1a64(source, kBrokerPlacementOffsetBasis) % partitions);
}

}  // namespace hw::broker
