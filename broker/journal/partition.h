// One journal partition of the broker (docs/broker.md, Data directory and Retention): an
// append-only log of envelopes in segment files "<first offset, 20 digits>.log", kept by
// io::SegmentedLog (common/io/segmented_log.h: the record format, the recovery rules and
// whole-segment deletion). A record's offset is its index there: offsets start at 1 and grow by one
// per record (0 means "nothing", e.g. no committed offset).
//
// Thread-safety: Append/Sync/ApplyRetention from one writer thread; Read may run concurrently from
// other threads (it reads published data only: offsets < next_offset() as last seen).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/status/status.h"

namespace hw::broker {

struct PartitionOptions {
  std::filesystem::path dir;  // created if missing
  uint64_t segment_bytes = 64ull << 20;
  uint64_t retention_bytes = 10ull << 30;
  std::chrono::milliseconds retention_age = std::chrono::hours(24 * 7);
  uint32_t max_record_bytes = 256u << 20;
};

struct PartitionRecovery {
  uint64_t truncated_bytes = 0;  // torn or corrupt tail cut from the last segment
  uint64_t corrupt_records = 0;  // offsets lost to CRC mismatches or bad headers, skipped
  uint64_t records = 0;          // intact records found
};

class Partition {
 public:
  // Opens or creates, then recovers by SegmentedLog's rules: the last segment is cut after its last
  // valid record; elsewhere a record whose CRC fails is skipped and counted, and reading goes on at
  // the next record whose header is consistent (its offset follows). Every intact record stays
  // readable.
  static Result<std::unique_ptr<Partition>> Open(const PartitionOptions& options,
                                                 PartitionRecovery* recovery);
  ~Partition();

  // Appends and returns the record's offset. Rolls to a new segment past segment_bytes.
  Result<uint64_t> Append(std::string_view bytes);
  // Appends several records with one write; returns the first offset.
  Result<uint64_t> AppendBatch(const std::vector<std::string_view>& records);
  Status Sync();

  // Calls fn(offset, bytes) for records with offset >= from, in order, until fn returns false, or
  // max_records or about max_bytes have been delivered. Offsets below first_offset() start at
  // first_offset(). Missing (corrupt) offsets are skipped.
  // *resume_at (when given) is where a following Read continues without a gap: past every record
  // delivered, and past corrupt offsets it skipped; the end of the partition when caught up. A
  // record for which fn returned false counts as delivered.
  Status Read(uint64_t from, size_t max_records, size_t max_bytes,
              const std::function<bool(uint64_t offset, std::string_view bytes)>& fn,
              uint64_t* resume_at = nullptr) const;

  uint64_t first_offset() const;  // oldest kept (== next_offset() when empty)
  uint64_t next_offset() const;
  uint64_t bytes() const;
  uint32_t segments() const;

  // Deletes whole sealed segments past retention_bytes (oldest first) or whose newest record is
  // older than retention_age (by file mtime). Returns the number of records removed.
  Result<uint64_t> ApplyRetention(std::chrono::system_clock::time_point now);

 private:
  struct Impl;
  explicit Partition(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::broker
