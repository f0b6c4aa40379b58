// The producer spool (docs/wire_format.md §4 and §6): every envelope is appended here before it is
// sent, and dropped only once the broker acked it, so a producer restart or a broker outage loses
// nothing.
//
// On disk: a directory of segment files "<first index, 20 digits>.seg" kept by io::SegmentedLog
// (common/io/segmented_log.h: framing, CRC, recovery, deletion of whole segments), plus "meta"
// (opaque bytes the owner stores atomically, e.g. the epoch and logwatch offsets) and "released"
// (the Release watermark). A record's index is its SegmentedLog index.
//
// Thread-safety: none; one owner thread (the producer link's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/io/segmented_log.h"
#include "common/status/status.h"

namespace hw::spool {

struct SpoolOptions {
  std::filesystem::path dir;              // created if missing
  uint64_t max_bytes = 256ull << 20;      // link.spool_max_bytes; the oldest records go past this
  uint64_t segment_bytes = 8ull << 20;    // a segment is closed past this size
  uint32_t max_record_bytes = 64u << 20;  // larger lengths at recovery are corruption, not records
  bool fsync_each_append = false;  // producers fsync on Sync(); the broker is the durable copy
};

struct SpoolStats {
  uint64_t records = 0;          // kept now
  uint64_t bytes = 0;            // on disk now, all segments
  uint64_t dropped_records = 0;  // oldest records removed because the spool was full (since Open)
  uint64_t dropped_bytes = 0;
  uint64_t corrupt_records = 0;  // CRC mismatches skipped (at Open, or found later by Read)
  uint64_t truncated_bytes = 0;  // torn tail cut at Open
};

class Spool {
 public:
  // Opens or creates the spool and recovers it by SegmentedLog's rules: a torn tail (a partial
  // record at the end of the last segment) is truncated; a record whose CRC fails is skipped and
  // counted (its index is then absent: Read skips it), and so are the indexes a damaged header
  // hides.
  static Result<std::unique_ptr<Spool>> Open(const SpoolOptions& options);
  ~Spool();

  // Appends one record and returns its index. Indexes start at 1 for a new spool, grow by one per
  // record and are never reused, also across restarts. When the spool would exceed max_bytes, whole
  // oldest segments are dropped first (counted in stats; never the segment being written).
  Result<uint64_t> Append(std::string_view bytes);

  // Calls fn for records with index >= from in index order, at most max_records of them. fn returns
  // false to stop early. Indexes of dropped or corrupt records are skipped. bytes is valid only
  // during the call, and fn must not call into this Spool.
  Status Read(uint64_t from, size_t max_records,
              const std::function<bool(uint64_t index, std::string_view bytes)>& fn);

  // Everything with index <= upto is done (acked): whole segments below it are deleted. Records of
  // a partly released segment stay on disk but are never read again.
  Status Release(uint64_t upto);

  // Index of the oldest record still readable (== next_index() when empty), and of the next append.
  uint64_t first_index() const;
  uint64_t next_index() const;
  SpoolStats stats() const;

  // fsync of the active segment (and the directory after segment changes).
  Status Sync();

  // Sync in two steps, for an owner that guards the spool with a lock that other threads need
  // (the producer link's Publish): TakeSyncBatch, under that lock, opens everything Sync would
  // flush and counts it as synced; SyncBatch::Run does the flushes without the lock. When Run
  // fails, call MarkUnsynced (under the lock again) so that the next Sync flushes everything.
  using SyncBatch = io::SyncBatch;
  Result<SyncBatch> TakeSyncBatch();
  void MarkUnsynced();

  // Owner's metadata, replaced atomically (write temp, fsync, rename). Empty when never written.
  Result<std::string> ReadMeta() const;
  Status WriteMeta(std::string_view bytes);

 private:
  struct Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::spool
