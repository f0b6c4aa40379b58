#include "broker/consumer_requests.h"

#include <string>

#include "common/naming/naming.h"

namespace hw::broker {

using hostwatch::v1::ConsumerRequest;

Result<ConsumerRequest> DecodeConsumerRequest(std::string_view bytes, uint32_t partitions) {
  ConsumerRequest req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("request does not parse");
  }
  switch (req.request_case()) {
    case ConsumerRequest::kSubscribe: {
      const hostwatch::v1::Subscribe& sub = req.subscribe();
      if (!naming::IsSafeName(sub.group(), 128)) {
        return Status::InvalidArgument("group must be 1-128 of [A-Za-z0-9_.-]");
      }
      for (int t : sub.topics()) {
        // proto3 enums are open: any int32 arrives here, and a topic becomes a bit position.
        if (!hostwatch::v1::Topic_IsValid(t)) {
          return Status::InvalidArgument("unknown topic " + std::to_string(t));
        }
      }
      if (!hostwatch::v1::Subscribe::Start_IsValid(sub.start())) {
        return Status::InvalidArgument("unknown start " + std::to_string(sub.start()));
      }
      break;
    }
    case ConsumerRequest::kCommit:
      if (req.commit().partition() >= partitions) {
        return Status::InvalidArgument("commit for partition " +
                                       std::to_string(req.commit().partition()) + " of " +
                                       std::to_string(partitions));
      }
      break;
    case ConsumerRequest::REQUEST_NOT_SET:
      return Status::InvalidArgument("empty request");
    default:
      break;
  }
  return req;
}

}  // namespace hw::broker
