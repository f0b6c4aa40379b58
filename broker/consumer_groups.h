// Consumer groups (docs/broker.md, "Consumer groups"): who owns which partition, where each group
// is, how much credit each member has. Pure logic with no sockets, so the rules are unit-tested;
// backend.cc drives it from the backend ROUTER socket and persists commits through OffsetStore.
//
// Rules:
//  - Each partition of a group belongs to at most one member: members sorted by id, partition p
//    goes to member p % n. Every join, leave or expiry rebalances the group and re-sends every
//    member its Assignment (the generation grows).
//  - Delivery for a partition resumes at committed + 1 whenever it is (re)assigned, so uncommitted
//    records are redelivered (at-least-once); the consumer's (source, epoch, seq) dedup absorbs
//    them.
//  - start EARLIEST on Subscribe rewinds the group to the oldest kept record; LATEST skips to
//    the end; COMMITTED keeps the group's place (EARLIEST when it has none).
//  - Never more deliveries than credit granted.
//  - Commit is cumulative and only taken from the partition's current owner (a late commit from a
//    member that lost the partition in a rebalance is ignored).
//  - A member never holds more than max_credit: more granted is clamped (bounds what the broker
//    queues for a consumer that never reads, together with the backend's ZMQ_SNDHWM).
//  - A group with no members and no commit for group_ttl is forgotten (ExpireGroups); a restart
//    starts its clock again.
//  - A group behind retention is moved to the oldest kept record; the skipped count is returned
//    so it is logged and published, never silent.
//  - Time is the caller's: every call that stamps or expires takes now_ms from the monotonic clock
//    (hw::Clock::MonoMs), so tests drive expiry with plain numbers.
//
// Thread-safety: none; owned by the backend thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "hostwatch/v1/link.pb.h"

namespace hw::broker {

// What the groups need to know about the journal: the readable range of each partition.
struct PartitionRange {
  uint64_t first = 1;  // oldest kept offset
  uint64_t next = 1;   // the next append's offset
};

struct MemberState {
  std::string id;  // the ROUTER routing id
  std::string group;
  uint32_t topic_mask = 0;  // bit (1 << Topic); 0: every topic
  uint64_t credit = 0;
  int64_t last_seen_ms = 0;          // monotonic (hw::Clock::MonoMs)
  std::vector<uint32_t> partitions;  // assigned now
};

struct GroupState {
  std::string name;
  std::vector<uint64_t> committed;       // per partition; 0: nothing committed
  std::vector<uint64_t> cursor;          // per partition: next offset to deliver
  std::vector<uint64_t> last_delivered;  // per partition: 0 when nothing delivered since assignment
  std::vector<std::string> owner;        // per partition: member id or empty
  std::vector<std::string> members;      // sorted ids
  uint64_t generation = 0;
  bool dirty = false;          // committed changed since the last save
  int64_t last_active_ms = 0;  // monotonic: last Subscribe, commit, member seen or restore
};

class ConsumerGroups {
 public:
  using AssignFn = std::function<void(const MemberState&, const hostwatch::v1::Assignment&)>;

  ConsumerGroups(uint32_t partitions, AssignFn on_assign, uint64_t max_credit = 1u << 30);

  // Committed offsets loaded at start (group -> per partition).
  // now_ms starts the group's idle time (group_ttl).
  void Restore(const std::string& group, const std::vector<uint64_t>& committed, int64_t now_ms);

  // A Subscribe: joins (or rejoins) the member and rebalances its group.
  void Subscribe(const std::string& member_id, const hostwatch::v1::Subscribe& sub,
                 const std::vector<PartitionRange>& ranges, int64_t now_ms);
  void Credit(const std::string& member_id, uint32_t n, int64_t now_ms);
  // False when the member does not own the partition (the commit is ignored).
  bool Commit(const std::string& member_id, uint32_t partition, uint64_t offset,
              const std::vector<PartitionRange>& ranges, int64_t now_ms);
  // Any message from a member (heartbeat or else) keeps it alive. False when the member is unknown.
  bool Touch(const std::string& member_id, int64_t now_ms);
  // A member that stops cleanly; false when unknown.
  bool Leave(const std::string& member_id);
  // Drops members silent for longer than timeout; rebalances their groups. Returns how many left.
  size_t Expire(int64_t now_ms, std::chrono::milliseconds timeout);

  // Forgets groups that have had no member and no commit for longer than ttl; returns their names
  // (the caller removes their offsets files).
  std::vector<std::string> ExpireGroups(int64_t now_ms, std::chrono::milliseconds ttl);

  // Moves every group cursor that fell behind retention to the oldest kept record. Returns the
  // number of records skipped (summed over groups) and logs nothing itself.
  uint64_t ApplyRetention(const std::vector<PartitionRange>& ranges);

  // Work to do: for member m, partition p, deliver from `from` at most `max` records.
  struct Work {
    std::string member_id;
    uint32_t partition;
    uint64_t from;
    uint64_t max;
    uint32_t topic_mask;
  };
  // One work item per member with credit and a partition with unread records, round-robin.
  std::vector<Work> PendingWork(const std::vector<PartitionRange>& ranges, uint64_t max_per_item);
  // After delivering (or skipping as filtered) records of a work item: the cursor moves to
  // next_cursor; `sent` deliveries used credit; last_sent is the last delivered offset (0 if none).
  void Delivered(const std::string& member_id, uint32_t partition, uint64_t next_cursor,
                 uint64_t sent, uint64_t last_sent);

  const std::map<std::string, GroupState>& groups() const { return groups_; }
  std::map<std::string, GroupState>& mutable_groups() { return groups_; }
  const std::unordered_map<std::string, MemberState>& members() const { return members_; }

 private:
  void Rebalance(GroupState& g);
  // The group of that name, created (idle since now_ms) when it does not exist.
  GroupState& GroupFor(const std::string& name, int64_t now_ms);

  uint32_t partitions_;
  AssignFn on_assign_;
  uint64_t max_credit_;
  std::map<std::string, GroupState> groups_;
  std::unordered_map<std::string, MemberState> members_;
  size_t rr_ = 0;  // round-robin start for PendingWork
};

}  // namespace hw::broker
