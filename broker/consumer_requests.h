// Decoding of the backend's consumer requests (docs/wire_format.md §5), apart from the socket so
// that every check runs before a request can touch the groups, and so that it can be fuzzed.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status/status.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::broker {

// Parses one request frame and checks what the groups would otherwise take on trust: a Subscribe's
// group is 1-128 of [A-Za-z0-9_.-] (it names a file under data_dir/groups), its topics and start
// are known values (a topic is a bit position), a Commit names an existing partition, and a request
// is set. The error is the text the consumer is sent.
Result<hostwatch::v1::ConsumerRequest> DecodeConsumerRequest(std::string_view bytes,
                                                             uint32_t partitions);

}  // namespace hw::broker
