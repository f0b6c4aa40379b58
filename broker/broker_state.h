// State the broker's threads share: the journal partitions, counters, and the producer table the
// frontend publishes for Stats. Everything here is safe to touch from the frontend and backend
// threads as documented per member.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/consumer_groups.h"
#include "broker/journal/partition.h"
#include "common/base/mutex.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::broker {

struct Journal {
  // The vector never changes after Open; each Partition allows one writer (frontend thread) and
  // concurrent readers (backend thread).
  std::vector<std::unique_ptr<Partition>> partitions;

  std::vector<PartitionRange> Ranges() const {
    std::vector<PartitionRange> r(partitions.size());
    for (size_t i = 0; i < partitions.size(); ++i) {
      r[i].first = partitions[i]->first_offset();
      r[i].next = partitions[i]->next_offset();
    }
    return r;
  }
  uint64_t Bytes() const {
    uint64_t b = 0;
    for (const auto& p : partitions) b += p->bytes();
    return b;
  }
};

// The offset basis of the broker's placement hash. It is NOT FNV's (14695981039346656037): the
// first broker wrote FNV's basis with its last digit missing. Placement decides which partition
// folder in data_dir holds each source's history, so a different basis would move existing sources
// to other partitions and split their ordered history; it stays as it was.
inline constexpr uint64_t kBrokerPlacementOffsetBasis = 1469598103934665603ull;

// Which partition a source's envelopes go to: FNV-1a 64 of the source from
// kBrokerPlacementOffsetBasis, modulo partitions, so every broker (and every restart) agrees, and
// each source stays ordered in one partition.
uint32_t PartitionForSource(std::string_view source, uint32_t partitions);

struct BrokerCounters {
  std::atomic<uint64_t> appended{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> skipped{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> sources_expired{0};
  std::atomic<uint64_t> sources_evicted{0};
  std::atomic<uint64_t> groups_expired{0};
  std::atomic<uint64_t> oversize{0};
  std::atomic<uint64_t> revoked_disconnects{0};
  uint64_t recovered_truncated_bytes = 0;  // set before the threads start
  uint64_t recovered_corrupt_records = 0;
  int64_t started_ms = 0;

  void Reject(const std::string& reason) EXCLUDES(reasons_mu) {
    rejected.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&reasons_mu);
    ++rejected_by_reason[reason];
  }
  std::map<std::string, uint64_t> Reasons() const EXCLUDES(reasons_mu) {
    MutexLock lock(&reasons_mu);
    return rejected_by_reason;
  }

 private:
  mutable Mutex reasons_mu;
  std::map<std::string, uint64_t> rejected_by_reason GUARDED_BY(reasons_mu);
};

// The frontend's view of producers, copied out about once a second for Stats.
class ProducerBoard {
 public:
  void Publish(std::vector<hostwatch::v1::ProducerStats> producers) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    producers_ = std::move(producers);
  }
  // Adds producers new since the last Publish: a batch that brings new sources costs what it
  // adds, not a copy of the whole table (which made each new source cost O(sources)).
  void Append(std::vector<hostwatch::v1::ProducerStats> added) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (auto& p : added) producers_.push_back(std::move(p));
  }
  std::vector<hostwatch::v1::ProducerStats> Get() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return producers_;
  }

 private:
  mutable Mutex mu_;
  std::vector<hostwatch::v1::ProducerStats> producers_ GUARDED_BY(mu_);
};

}  // namespace hw::broker
