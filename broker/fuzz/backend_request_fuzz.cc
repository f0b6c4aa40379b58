// libFuzzer target: the backend's request decoding (DecodeConsumerRequest) and the consumer groups
// it drives. The input is a sequence of requests, each [member byte][length byte][bytes], applied
// to one ConsumerGroups as the backend would, with deliveries played in between. Checks what must
// hold whatever the peers send: a partition has at most one owner in a group, a member never holds
// more credit than max_credit, deliveries never exceed credit, and nothing reads past the journal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/consumer_groups.h"
#include "broker/consumer_requests.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "invariant broken: %s\n", what);
    abort();
  }
}

constexpr uint32_t kPartitions = 4;
constexpr uint64_t kMaxCredit = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hw::broker;
  ConsumerGroups groups(kPartitions, nullptr, kMaxCredit);
  std::vector<PartitionRange> ranges(kPartitions, PartitionRange{3, 40});
  int64_t now = 3'600'000;  // monotonic ms
  size_t i = 0;
  while (i + 2 <= size) {
    const std::string member = "m" + std::to_string(data[i] % 6);
    const size_t len = data[i + 1];
    i += 2;
    const std::string_view bytes(reinterpret_cast<const char*>(data + i), std::min(len, size - i));
    i += bytes.size();
    now += 1000;
    hw::Result<hostwatch::v1::ConsumerRequest> req = DecodeConsumerRequest(bytes, kPartitions);
    if (!req.ok()) continue;
    switch (req->request_case()) {
      case hostwatch::v1::ConsumerRequest::kSubscribe:
        groups.Subscribe(member, req->subscribe(), ranges, now);
        break;
      case hostwatch::v1::ConsumerRequest::kCredit:
        groups.Credit(member, req->credit().n(), now);
        break;
      case hostwatch::v1::ConsumerRequest::kCommit:
        groups.Commit(member, req->commit().partition(), req->commit().offset(), ranges, now);
        break;
      case hostwatch::v1::ConsumerRequest::kHeartbeat:
        groups.Touch(member, now);
        break;
      case hostwatch::v1::ConsumerRequest::kLeave:
        groups.Leave(member);
        break;
      default:
        break;
    }
    // Play the backend: deliver what is pending (half of it, to leave cursors mid-way).
    for (const auto& w : groups.PendingWork(ranges, 7)) {
      Check(w.partition < kPartitions, "work partition exists");
      Check(w.from >= ranges[w.partition].first && w.from < ranges[w.partition].next,
            "work within the journal");
      Check(w.max <= groups.members().at(w.member_id).credit, "never more than credit");
      const uint64_t n = std::max<uint64_t>(1, w.max / 2);
      const uint64_t end = std::min(ranges[w.partition].next, w.from + n);
      groups.Delivered(w.member_id, w.partition, end, end - w.from, end - 1);
    }
    if (data[i - 1] % 5 == 0) groups.Expire(now, std::chrono::seconds(3));
    if (data[i - 1] % 7 == 0) (void)groups.ExpireGroups(now, std::chrono::seconds(2));
    for (const auto& [id, m] : groups.members()) {
      Check(m.credit <= kMaxCredit, "credit clamped");
      Check(groups.groups().contains(m.group), "a member's group exists");
    }
    for (const auto& [name, g] : groups.groups()) {
      Check(g.owner.size() == kPartitions, "owner per partition");
      for (uint32_t p = 0; p < kPartitions; ++p) {
        if (g.owner[p].empty()) continue;
        auto m = groups.members().find(g.owner[p]);
        Check(m != groups.members().end() && m->second.group == name, "owner is a member");
        Check(g.committed[p] < ranges[p].next, "commit within the journal");
      }
    }
  }
  return 0;
}
