// One segmented record log: what the producer spool (common/spool) and the broker's journal
// partitions (broker/journal) keep on disk. This file owns the format, the recovery scan and the
// segment files; the spool and the journal add only their own policy (release watermark, size
// budget, retention).
//
// Rules:
//   Indexes   Records are numbered 1, 2, 3, ... (0 means "none"). Append gives each record the next
//             index; an index that Append returned is never given to another record, except those
//             of a torn tail cut at Open (they were never durable).
//   Files     "<first index, 20 digits><suffix>" in one directory: the name is the index of the
//             segment's first record, and a segment holds at most the indexes below the next name.
//             Appends go to the last (active) segment; it rolls to a new file past segment_bytes.
//   Format 2  A segment starts with the 8 bytes "HWSG" 02 00 00 00, then records
//                 [u32 length][u32 masked crc][u64 index][bytes]                 (little-endian)
//             crc = crc32c(index as 8 bytes, then bytes); masked = rotate right 15, + 0xa282ead8
//             (leveldb's mask). A run of zero bytes is never a record: index 0 is invalid, and the
//             mask keeps a zero CRC field from matching zero bytes.
//   Format 1  Segments written before format 2 have no segment header (their first four bytes, a
//             record length, can never spell "HWSG": that is over 1 GiB). Spool: [u32 length]
//             [u32 crc32c(bytes)][bytes]; journal: [u32 length][u32 crc32c(bytes)][u64 index]
//             [bytes]. They are read and recovered by the same rules, never appended to: when the
//             active segment at Open is format 1 (with records), the next append starts a new
//             segment. A format 1 spool header of zeros (an empty record) ends the scan as a torn
//             tail: hostwatch never spooled an empty record, and zeros are what a crash leaves.
//   Recovery  Open scans every segment from its start; `expected` is the next index it should hold
//             and `limit` the next segment's first index (none for the last segment).
//              1. A header is consistent when its index == expected (< limit), its length <=
//                 max_record_bytes and the record fits in the file. Consistent + CRC matches: kept.
//              2. Consistent + bad CRC, followed by the end of the file or by a header consistent
//                 for expected + 1: the payload was damaged; that index is lost (corrupt_records)
//                 and the scan moves on by the record's length.
//              3. Anything else: the header cannot be trusted. The scan moves byte by byte to the
//                 next record whose CRC matches, with an index in [expected, limit) that fits the
//                 bytes skipped (>= 16 per lost record); the indexes in between are lost. Format 1
//                 spool records carry no index to resynchronise on: their scan ends there. When
//                 nothing valid follows, a sealed segment keeps its trailing bytes unread and the
//                 indexes up to the next segment's first count as lost.
//             The last segment is then cut right after its last valid record (truncated_bytes): a
//             torn write. A damaged record with valid records after it is skipped, not cut, since
//             those later records may have been acknowledged. A last segment left with no records
//             is rewritten as an empty format 2 segment.
//   Deletion  Whole segments only, oldest first, never the active one.
//   Reading   Read delivers only records the index of segments covers, so it never sees a
//             partial append; it re-checks each record's header and CRC (the file may have
//             changed).
//
// Thread-safety: one writer thread calls everything; Read, first_index, next_index, bytes and
// segment_count may also be called from other threads at the same time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/mutex.h"
#include "common/io/file_io.h"
#include "common/io/sync_batch.h"
#include "common/status/status.h"

namespace hw::io {

// Format 1's record layout, for segments found without a header.
enum class LegacyFraming {
  kSpool,    // [u32 length][u32 crc32c][bytes]
  kJournal,  // [u32 length][u32 crc32c][u64 index][bytes]
};

struct SegmentedLogOptions {
  std::filesystem::path dir;  // created if missing, and flock()ed: one SegmentedLog per directory
  std::string suffix;         // of segment file names: ".seg" (spool), ".log" (journal)
  std::string what;           // for messages: "spool", "journal partition"
  LegacyFraming legacy = LegacyFraming::kJournal;
  uint64_t segment_bytes = 64ull << 20;  // a non-empty segment rolls before a record takes it past
  uint32_t max_record_bytes = 64u << 20;
  bool sync_each_append = false;  // fdatasync every append (and the directory when files change)
  bool keep_sealed_open = true;   // keep an fd on every segment (for concurrent readers), or only
                                  // on the active one (few fds; files are opened when read)
};

struct SegmentedLogRecovery {
  uint64_t truncated_bytes = 0;  // torn or corrupt tail cut from the last segment
  uint64_t corrupt_records = 0;  // indexes lost to corruption (see the recovery rules)
  uint64_t records = 0;          // intact records found
};

class SegmentedLog {
 public:
  static constexpr uint64_t kSegmentHeaderBytes = 8;  // format 2: "HWSG" 02 00 00 00
  static constexpr uint64_t kRecordHeaderBytes = 16;  // format 2: length, masked crc, index

  static Result<std::unique_ptr<SegmentedLog>> Open(const SegmentedLogOptions& options,
                                                    SegmentedLogRecovery* recovery);
  ~SegmentedLog();

  // Appends count records in as few writes as it can and returns the first one's index. Invalid
  // input appends nothing. On a write error the records of earlier chunks stay (next_index() tells
  // how far it got); a partial chunk is cut, or if that fails, left behind a roll to a new segment.
  Result<uint64_t> Append(const std::string_view* records, size_t count);
  // Seals the active segment and starts one whose first index is `first` (>= next_index(); the
  // indexes skipped are never used).
  Status Roll(uint64_t first);

  // Deletes the oldest segment; refused (FailedPrecondition) when it is the active one. Readers
  // that already hold it finish reading through their fd.
  struct Removed {
    uint64_t first = 0, next = 0;  // its indexes were [first, next)
    uint64_t records = 0;          // present records it held
    uint64_t bytes = 0;
  };
  Result<Removed> RemoveOldestSegment();

  // Calls fn(index, bytes) for present records with index >= from, in order, until fn returns false
  // or max_records or about max_bytes were delivered. Indexes below first_index() start there.
  // *resume_at (when given): where a following Read continues without a gap. A record whose bytes
  // no longer match is DataLoss, unless bad is given: then it is skipped and its index added to
  // *bad (the writer may then MarkLost it). bytes is valid only during fn.
  Status Read(uint64_t from, size_t max_records, size_t max_bytes,
              const std::function<bool(uint64_t index, std::string_view bytes)>& fn,
              uint64_t* resume_at = nullptr, std::vector<uint64_t>* bad = nullptr) const;
  void MarkLost(uint64_t index);  // writer: the record is not read again

  uint64_t first_index() const;  // the oldest segment's first
  uint64_t next_index() const;   // of the next append
  uint64_t bytes() const;        // all segments' files, headers and unread garbage included
  uint32_t segment_count() const;

  // The writer's view of one segment (0 = oldest).
  struct SegmentInfo {
    uint64_t first = 0;
    uint64_t next = 0;  // past its last indexed slot (present or lost)
    uint64_t bytes = 0;
  };
  SegmentInfo segment(size_t i) const;
  // Present records with index in [lo, hi], and their bytes with headers.
  void CountPresent(uint64_t lo, uint64_t hi, uint64_t* records, uint64_t* bytes) const;
  // The first present index >= from, or next_index().
  uint64_t FirstPresentAtOrAfter(uint64_t from) const;
  // Time of the segment's last write, hence of its newest record.
  Result<std::chrono::system_clock::time_point> SegmentMtime(size_t i) const;

  // fdatasync of every segment written since the last sync, fsync of the directory when files
  // came or went. TakeSyncBatch gathers the same without running it, counting it as done; call
  // MarkUnsynced when the batch failed.
  Status Sync();
  Status TakeSyncBatch(SyncBatch* batch);
  void MarkUnsynced();

 private:
  struct Impl;
  explicit SegmentedLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::io
