#include "common/consumer/commit_tracker.h"

namespace hw::consumer {

void CommitTracker::Delivered(size_t broker, uint32_t partition, uint64_t offset, uint64_t bytes) {
  Partition& p = parts_[{broker, partition}];
  auto [it, inserted] = p.entries.try_emplace(offset, Entry{bytes, false});
  if (!inserted) {
    if (!it->second.finished) return;  // already outstanding: the sink will finish it once
    it->second = Entry{bytes, false};  // finished but not yet taken: do it again
  }
  ++p.unfinished;
  outstanding_bytes_ += bytes;
}

uint64_t CommitTracker::Finished(size_t broker, uint32_t partition, uint64_t offset) {
  auto pit = parts_.find({broker, partition});
  if (pit == parts_.end()) return 0;
  Partition& p = pit->second;
  auto it = p.entries.find(offset);
  if (it == p.entries.end() || it->second.finished) return 0;
  it->second.finished = true;
  --p.unfinished;
  outstanding_bytes_ -= it->second.bytes;
  const uint64_t bytes = it->second.bytes;
  // Advance the finished prefix.
  while (!p.entries.empty() && p.entries.begin()->second.finished) {
    p.ready = p.entries.begin()->first;
    p.entries.erase(p.entries.begin());
  }
  return bytes;
}

std::vector<CommitPoint> CommitTracker::TakeReady() {
  std::vector<CommitPoint> out;
  for (auto it = parts_.begin(); it != parts_.end();) {
    Partition& p = it->second;
    if (p.ready != 0) {
      out.push_back({it->first.first, it->first.second, p.ready});
      p.ready = 0;
    }
    if (p.entries.empty() && p.ready == 0) {
      it = parts_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void CommitTracker::Drop(size_t broker, uint32_t partition) {
  auto it = parts_.find({broker, partition});
  if (it == parts_.end()) return;
  for (const auto& [offset, e] : it->second.entries) {
    if (!e.finished) outstanding_bytes_ -= e.bytes;
  }
  parts_.erase(it);
}

size_t CommitTracker::outstanding() const {
  size_t n = 0;
  for (const auto& [key, p] : parts_) n += p.unfinished;
  return n;
}

}  // namespace hw::consumer
