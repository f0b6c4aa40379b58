// The consumer link's commit point for one partition of one broker (docs/wire_format.md §5
// "Commit"): what may be committed, given what the caller has finished and what the link finished
// itself. (common/consumer/commit_tracker.h is the caller's side of the same question, for sinks
// that finish deliveries out of order.)
//
// Rules:
//   - Kept(o): a delivery the caller has (or will get); outstanding until the caller commits o or
//     beyond.
//   - DoneByLink(o): a delivery the link finished itself (a duplicate, or malformed).
//   - CallerCommitted(o): the caller's commit is cumulative: everything up to o is done.
//   - Target(): the highest offset that may be committed: the caller's commit, raised over offsets
//     the link finished below the first outstanding one (never over an outstanding one).
//   - Due() is Target() when it moved past what was last sent, else 0; Sent(t) records a Commit
//     sent and forgets the link's offsets up to t (the target never falls below a commit sent).
//     Resubscribed() makes the next Due() repeat the target: the broker resumes after its committed
//     offsets, and a restarted one may hold older ones.
//
// Offsets start at 1 (0 means "nothing"). Pure; not thread-safe (the consumer link's thread).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <set>

namespace hw::transport {

class PartitionCommits {
 public:
  void Kept(uint64_t offset) {
    if (offset > caller_done_) outstanding_.insert(offset);
  }
  void DoneByLink(uint64_t offset) { link_done_.insert(offset); }
  // False when it moves nothing (offset at or below an earlier commit).
  bool CallerCommitted(uint64_t offset) {
    if (offset <= caller_done_) return false;
    caller_done_ = offset;
    outstanding_.erase(outstanding_.begin(), outstanding_.upper_bound(offset));
    return true;
  }

  uint64_t Target() const {
    const uint64_t barrier =
        outstanding_.empty() ? std::numeric_limits<uint64_t>::max() : *outstanding_.begin();
    uint64_t t = std::max(caller_done_, committed_);
    auto it = link_done_.lower_bound(barrier);
    if (it != link_done_.begin()) t = std::max(t, *std::prev(it));
    return t;
  }
  uint64_t Due() const {
    const uint64_t t = Target();
    return t > last_sent_ ? t : 0;
  }
  void Sent(uint64_t target) {
    last_sent_ = target;
    committed_ = std::max(committed_, target);
    link_done_.erase(link_done_.begin(), link_done_.upper_bound(target));
  }
  void Resubscribed() { last_sent_ = 0; }

  size_t outstanding() const { return outstanding_.size(); }
  size_t link_done() const { return link_done_.size(); }

 private:
  std::set<uint64_t> outstanding_;  // kept for the caller, not yet committed by it
  std::set<uint64_t> link_done_;    // duplicates and malformed: done by the link itself
  uint64_t caller_done_ = 0;        // the caller's cumulative commit
  uint64_t last_sent_ = 0;          // the last Commit sent in this subscription
  uint64_t committed_ = 0;          // the highest Commit ever sent: done, whoever finished it
};

}  // namespace hw::transport
