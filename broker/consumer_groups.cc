#include "broker/consumer_groups.h"

#include <algorithm>

namespace hw::broker {

using hostwatch::v1::Subscribe;

ConsumerGroups::ConsumerGroups(uint32_t partitions, AssignFn on_assign, uint64_t max_credit)
    : partitions_(partitions), on_assign_(std::move(on_assign)), max_credit_(max_credit) {}

GroupState& ConsumerGroups::GroupFor(const std::string& name, int64_t now_ms) {
  auto [it, inserted] = groups_.try_emplace(name);
  GroupState& g = it->second;
  if (inserted) {
    g.name = name;
    g.committed.assign(partitions_, 0);
    g.cursor.assign(partitions_, 0);
    g.last_delivered.assign(partitions_, 0);
    g.owner.assign(partitions_, "");
    g.last_active_ms = now_ms;
  }
  return g;
}

void ConsumerGroups::Restore(const std::string& group, const std::vector<uint64_t>& committed,
                             int64_t now_ms) {
  GroupState& g = GroupFor(group, now_ms);
  for (size_t p = 0; p < partitions_ && p < committed.size(); ++p) g.committed[p] = committed[p];
}

void ConsumerGroups::Subscribe(const std::string& member_id, const hostwatch::v1::Subscribe& sub,
                               const std::vector<PartitionRange>& ranges, int64_t now_ms) {
  // A member that subscribes again (after a broker or network hiccup) may switch groups: leave
  // first.
  if (auto old = members_.find(member_id);
      old != members_.end() && old->second.group != sub.group()) {
    GroupState& prev = GroupFor(old->second.group, now_ms);
    std::erase(prev.members, member_id);
    members_.erase(old);
    Rebalance(prev);
  }
  MemberState& m = members_[member_id];
  m.id = member_id;
  m.group = sub.group();
  m.topic_mask = 0;
  for (int t : sub.topics()) m.topic_mask |= 1u << t;
  m.credit = std::min<uint64_t>(sub.credit(), max_credit_);
  m.last_seen_ms = now_ms;

  GroupState& g = GroupFor(sub.group(), now_ms);
  g.last_active_ms = now_ms;
  if (sub.start() == Subscribe::EARLIEST) {
    for (uint32_t p = 0; p < partitions_; ++p) g.committed[p] = ranges[p].first - 1;
    g.dirty = true;
  } else if (sub.start() == Subscribe::LATEST) {
    for (uint32_t p = 0; p < partitions_; ++p)
      g.committed[p] = std::max(g.committed[p], ranges[p].next - 1);
    g.dirty = true;
  }
  if (std::find(g.members.begin(), g.members.end(), member_id) == g.members.end()) {
    g.members.push_back(member_id);
    std::sort(g.members.begin(), g.members.end());
  }
  // Resubscribing resets where this member's partitions resume, like any reassignment.
  for (uint32_t p = 0; p < partitions_; ++p) {
    if (g.owner[p] == member_id) g.owner[p].clear();
  }
  Rebalance(g);
}

void ConsumerGroups::Rebalance(GroupState& g) {
  ++g.generation;
  const size_t n = g.members.size();
  std::vector<std::vector<uint32_t>> assigned(n);
  for (uint32_t p = 0; p < partitions_; ++p) {
    const std::string next_owner = n == 0 ? std::string() : g.members[p % n];
    if (g.owner[p] != next_owner || next_owner.empty()) {
      // New owner (or none): resume after the last commit; redelivers anything uncommitted.
      g.cursor[p] = g.committed[p] + 1;
      g.last_delivered[p] = 0;
      g.owner[p] = next_owner;
    }
    if (n > 0) assigned[p % n].push_back(p);
  }
  for (size_t i = 0; i < n; ++i) {
    MemberState& m = members_[g.members[i]];
    m.partitions = assigned[i];
    hostwatch::v1::Assignment a;
    a.set_group(g.name);
    for (uint32_t p : assigned[i]) a.add_partitions(p);
    a.set_partition_count(partitions_);
    a.set_generation(g.generation);
    if (on_assign_) on_assign_(m, a);
  }
}

void ConsumerGroups::Credit(const std::string& member_id, uint32_t n, int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  it->second.credit = std::min<uint64_t>(it->second.credit + n, max_credit_);
  it->second.last_seen_ms = now_ms;
}

bool ConsumerGroups::Commit(const std::string& member_id, uint32_t partition, uint64_t offset,
                            const std::vector<PartitionRange>& ranges, int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end() || partition >= partitions_) return false;
  it->second.last_seen_ms = now_ms;
  GroupState& g = GroupFor(it->second.group, now_ms);
  if (g.owner[partition] != member_id) return false;
  // Never past what was delivered: a consumer cannot commit what it has not been sent.
  uint64_t limit = std::min<uint64_t>(g.cursor[partition] - 1, ranges[partition].next - 1);
  uint64_t c = std::min(offset, limit);
  // Records after the last delivery that were filtered out by topic are done too, or the group
  // would show lag it can never work off.
  if (g.last_delivered[partition] != 0 && offset >= g.last_delivered[partition]) c = limit;
  if (c > g.committed[partition]) {
    g.committed[partition] = c;
    g.dirty = true;
  }
  g.last_active_ms = now_ms;
  return true;
}

bool ConsumerGroups::Touch(const std::string& member_id, int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return false;
  it->second.last_seen_ms = now_ms;
  return true;
}

bool ConsumerGroups::Leave(const std::string& member_id) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return false;
  GroupState& g = GroupFor(it->second.group, it->second.last_seen_ms);  // exists: it has a member
  std::erase(g.members, member_id);
  for (uint32_t p = 0; p < partitions_; ++p) {
    if (g.owner[p] == member_id) g.owner[p].clear();
  }
  members_.erase(it);
  Rebalance(g);
  return true;
}

size_t ConsumerGroups::Expire(int64_t now_ms, std::chrono::milliseconds timeout) {
  std::vector<std::string> gone;
  for (const auto& [id, m] : members_) {
    if (now_ms - m.last_seen_ms > timeout.count()) gone.push_back(id);
  }
  for (const std::string& id : gone) {
    GroupState& g = GroupFor(members_[id].group, now_ms);
    std::erase(g.members, id);
    for (uint32_t p = 0; p < partitions_; ++p) {
      if (g.owner[p] == id) g.owner[p].clear();
    }
    members_.erase(id);
    Rebalance(g);
  }
  return gone.size();
}

std::vector<std::string> ConsumerGroups::ExpireGroups(int64_t now_ms,
                                                      std::chrono::milliseconds ttl) {
  std::vector<std::string> gone;
  for (auto it = groups_.begin(); it != groups_.end();) {
    GroupState& g = it->second;
    if (!g.members.empty()) g.last_active_ms = now_ms;  // a group in use is never idle
    if (g.members.empty() && now_ms - g.last_active_ms > ttl.count()) {
      gone.push_back(it->first);
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

uint64_t ConsumerGroups::ApplyRetention(const std::vector<PartitionRange>& ranges) {
  uint64_t skipped = 0;
  for (auto& [name, g] : groups_) {
    for (uint32_t p = 0; p < partitions_; ++p) {
      const uint64_t first = ranges[p].first;
      if (g.committed[p] + 1 < first) {
        skipped += first - (g.committed[p] + 1);
        g.committed[p] = first - 1;
        g.dirty = true;
      }
      if (g.cursor[p] < first) g.cursor[p] = first;
    }
  }
  return skipped;
}

std::vector<ConsumerGroups::Work> ConsumerGroups::PendingWork(
    const std::vector<PartitionRange>& ranges, uint64_t max_per_item) {
  std::vector<Work> work;
  if (members_.empty()) return work;
  std::vector<const MemberState*> ordered;
  ordered.reserve(members_.size());
  for (const auto& [id, m] : members_) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->id < b->id; });
  const size_t n = ordered.size();
  rr_ = (rr_ + 1) % n;
  for (size_t k = 0; k < n; ++k) {
    const MemberState& m = *ordered[(rr_ + k) % n];
    if (m.credit == 0) continue;
    const GroupState& g = groups_.at(m.group);
    uint64_t budget = m.credit;
    for (uint32_t p : m.partitions) {
      if (budget == 0) break;
      if (g.cursor[p] < ranges[p].next) {
        uint64_t max = std::min(budget, max_per_item);
        work.push_back({m.id, p, std::max(g.cursor[p], ranges[p].first), max, m.topic_mask});
        budget -= max;
      }
    }
  }
  return work;
}

void ConsumerGroups::Delivered(const std::string& member_id, uint32_t partition,
                               uint64_t next_cursor, uint64_t sent, uint64_t last_sent) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  MemberState& m = it->second;
  m.credit -= std::min(m.credit, sent);
  GroupState& g = groups_.at(m.group);
  if (g.owner[partition] != member_id) return;
  g.cursor[partition] = std::max(g.cursor[partition], next_cursor);
  if (last_sent != 0) g.last_delivered[partition] = last_sent;
}

}  // namespace hw::broker
