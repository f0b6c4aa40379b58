// Commit tracking for out-of-order completion (a Commit is cumulative: docs/wire_format.md §5).
//
// A consumer hands deliveries to its sink in offset order per (broker, partition), but the sink may
// finish them in any order (a carbon destination settles later than another, an SMTP send retries).
// The broker's commit is cumulative, so only the contiguous finished prefix of each partition may
// be committed: committing offset o says "everything up to o is done".
//
// Rules:
//  - Delivered(b, p, o, bytes) registers an outstanding delivery. Offsets of one (b, p) must grow;
//    one that does not (a redelivery after a rebalance) is recorded again only if not outstanding.
//  - Finished(b, p, o) marks it done and returns its bytes (0 when unknown: finished twice, or
//    forgotten by Drop).
//  - TakeReady() returns, per (b, p), the highest offset o such that every delivery registered at
//    or below o is finished, if that offset was not returned before; and forgets those deliveries.
//  - Drop(b, p) forgets a partition (it moved to another member): its deliveries are no longer
//    outstanding and will be repeated by the new owner.
//
// Pure; not thread-safe (the consumer kit's link thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace hw::consumer {

struct CommitPoint {
  size_t broker = 0;
  uint32_t partition = 0;
  uint64_t offset = 0;
  bool operator==(const CommitPoint&) const = default;
};

class CommitTracker {
 public:
  void Delivered(size_t broker, uint32_t partition, uint64_t offset, uint64_t bytes);
  uint64_t Finished(size_t broker, uint32_t partition, uint64_t offset);
  std::vector<CommitPoint> TakeReady();
  void Drop(size_t broker, uint32_t partition);

  size_t outstanding() const;  // deliveries not yet finished
  uint64_t outstanding_bytes() const { return outstanding_bytes_; }

 private:
  struct Entry {
    uint64_t bytes = 0;
    bool finished = false;
  };
  struct Partition {
    std::map<uint64_t, Entry> entries;  // offset -> state, unfinished or above an unfinished one
    uint64_t ready = 0;                 // highest finished prefix not yet taken (0: none)
    size_t unfinished = 0;
  };
  using Key = std::pair<size_t, uint32_t>;
  std::map<Key, Partition> parts_;
  uint64_t outstanding_bytes_ = 0;
};

}  // namespace hw::consumer
