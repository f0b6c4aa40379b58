// Spool implementation: io::SegmentedLog keeps the records; this file adds the release watermark
// and the size budget. The durability model, since it decides where the fsyncs are:
//  - A process crash loses nothing that Append returned: each record goes to the kernel in one
//    writev before Append returns, and nothing is buffered in user space.
//  - A power loss keeps what the last Sync() covered. Sync() therefore fdatasyncs every segment
//    written since the previous Sync (not only the active one), the directory when segment files
//    came or went, and the released watermark. Only fsync_each_append syncs on the append path.
//
// Besides the segments and "meta", the directory holds "released": the Release watermark,
// [u64 upto][u32 crc32c of those 8 bytes], rewritten in place by one pwrite per Release. A torn or
// lost watermark only means acked records are read (and resent) again, which at-least-once allows;
// it never hides an unacked record. It also keeps next_index() above every released index when
// all segments are gone. The log flock()s the directory so that two processes cannot share a spool.
#include "common/spool/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "common/io/atomic_file.h"
#include "common/io/crc32c.h"
#include "common/io/file_io.h"

namespace hw::spool {
namespace {

using io::SegmentedLog;

constexpr char kMetaName[] = "meta";
constexpr char kMetaTmpName[] = "meta.tmp";  // WriteFileAtomic's temp name for kMetaName
constexpr char kReleasedName[] = "released";
constexpr size_t kReleasedBytes = 12;

}  // namespace

struct Spool::Impl {
  SpoolOptions options;
  std::unique_ptr<SegmentedLog> log;
  io::UniqueFd released_fd;
  uint64_t released = 0;        // Release watermark: indexes <= released are never read again
  SpoolStats stats;             // bytes is the log's; the rest kept here
  bool released_dirty = false;  // watermark rewritten since the last Sync()

  std::string PathOf(const char* name) const { return (options.dir / name).string(); }

  Status LoadReleased() {
    released_fd.Reset(::open(PathOf(kReleasedName).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!released_fd.valid()) return Status::IoError("open " + PathOf(kReleasedName), errno);
    char b[kReleasedBytes];
    size_t got = 0;
    if (int err = io::PreadFull(released_fd.get(), b, sizeof b, 0, &got); err != 0) {
      return Status::IoError("read " + PathOf(kReleasedName), err);
    }
    // Missing or torn: start from 0, i.e. resend whatever is still on disk.
    if (got == sizeof b && io::Crc32c(std::string_view(b, 8)) == io::GetFixed32(b + 8)) {
      released = io::GetFixed64(b);
    }
    return Status::Ok();
  }

  Status StoreReleased() {
    char b[kReleasedBytes];
    io::PutFixed64(b, released);
    io::PutFixed32(b + 8, io::Crc32c(std::string_view(b, 8)));
    ssize_t w;
    do {
      w = ::pwrite(released_fd.get(), b, sizeof b, 0);
    } while (w < 0 && errno == EINTR);
    if (w < 0) return Status::IoError("write " + PathOf(kReleasedName), errno);
    if (static_cast<size_t>(w) != sizeof b) {
      return Status::IoError("write " + PathOf(kReleasedName), ENOSPC);
    }
    released_dirty = true;
    return Status::Ok();
  }

  // Present records not yet released with index <= hi: how many, and their bytes with headers.
  void CountLive(uint64_t hi, uint64_t* records, uint64_t* bytes) const {
    if (hi > released) log->CountPresent(released + 1, hi, records, bytes);
  }

  Status Recover(const io::SegmentedLogRecovery& recovery) {
    HW_RETURN_IF_ERROR(LoadReleased());
    // A meta.tmp left by a crash inside WriteMeta is an unfinished replacement: meta still holds
    // the last complete one.
    ::unlink(PathOf(kMetaTmpName).c_str());
    stats.corrupt_records = recovery.corrupt_records;
    stats.truncated_bytes = recovery.truncated_bytes;
    uint64_t live_bytes = 0;
    CountLive(log->next_index() - 1, &stats.records, &live_bytes);
    // The watermark can be ahead of the files (data lost with power, or all of it released):
    // indexes <= released were handed out already and must not come back.
    if (log->next_index() <= released) return Roll(released + 1);
    return RemoveReleasedSegments();
  }

  // Seals the active segment and starts one at `first`.
  Status Roll(uint64_t first) {
    HW_RETURN_IF_ERROR(log->Roll(first));
    // A sealed segment that is fully released need not wait for the next Release.
    return RemoveReleasedSegments();
  }

  // Deletes the oldest segment (never the active one). dropping: it goes because the spool is
  // full, so its unreleased records are counted as dropped.
  Status RemoveOldest(bool dropping) {
    uint64_t live = 0;
    uint64_t live_bytes = 0;
    CountLive(log->segment(0).next - 1, &live, &live_bytes);
    HW_RETURN_IF_ERROR(log->RemoveOldestSegment().status());
    if (dropping) {
      stats.dropped_records += live;
      stats.dropped_bytes += live_bytes;
    }
    stats.records -= live;
    return Status::Ok();
  }

  Status RemoveReleasedSegments() {
    while (log->segment_count() > 1 && log->segment(0).next - 1 <= released) {
      HW_RETURN_IF_ERROR(RemoveOldest(/*dropping=*/false));
    }
    return Status::Ok();
  }

  // Drops oldest segments until rec_bytes more fit under max_bytes.
  Status MakeRoom(uint64_t rec_bytes) {
    while (log->bytes() + rec_bytes > options.max_bytes) {
      const uint32_t segments = log->segment_count();
      if (segments > 1) {
        HW_RETURN_IF_ERROR(RemoveOldest(/*dropping=*/true));
      } else if (log->segment(0).next > log->segment(0).first) {
        // Only the active segment is left and it is too big: seal it so that it can go.
        HW_RETURN_IF_ERROR(Roll(log->next_index()));
      } else {
        break;  // empty; rec_bytes <= max_bytes was checked
      }
    }
    return Status::Ok();
  }

  Result<uint64_t> Append(std::string_view bytes) {
    if (bytes.size() > options.max_record_bytes) {
      return Status::InvalidArgument("spool record of " + std::to_string(bytes.size()) +
                                     " bytes exceeds max_record_bytes " +
                                     std::to_string(options.max_record_bytes));
    }
    // The record, and the header of the segment the log may roll to for it.
    const uint64_t rec_bytes =
        SegmentedLog::kRecordHeaderBytes + bytes.size() + SegmentedLog::kSegmentHeaderBytes;
    if (rec_bytes > options.max_bytes) {
      return Status::InvalidArgument("spool record of " + std::to_string(bytes.size()) +
                                     " bytes cannot fit in max_bytes " +
                                     std::to_string(options.max_bytes));
    }
    HW_RETURN_IF_ERROR(MakeRoom(rec_bytes));
    HW_ASSIGN_OR_RETURN(uint64_t index, log->Append(&bytes, 1));
    ++stats.records;
    return index;
  }

  Status Release(uint64_t upto) {
    upto = std::min(upto, log->next_index() - 1);  // acking the future would hide later appends
    if (upto <= released) return Status::Ok();
    uint64_t gone = 0;
    uint64_t gone_bytes = 0;
    CountLive(upto, &gone, &gone_bytes);
    stats.records -= gone;
    released = upto;
    // Watermark first: should we die between the two, the segments are deleted at the next Open.
    HW_RETURN_IF_ERROR(StoreReleased());
    return RemoveReleasedSegments();
  }

  Status Read(uint64_t from, size_t max_records,
              const std::function<bool(uint64_t, std::string_view)>& fn) {
    std::vector<uint64_t> bad;
    Status st = log->Read(std::max(from, released + 1), max_records, SIZE_MAX, fn, nullptr, &bad);
    // Went bad on disk after Open: skipped, and counted like a corrupt record at Open.
    for (uint64_t index : bad) {
      log->MarkLost(index);
      ++stats.corrupt_records;
      --stats.records;
    }
    return st;
  }

  Result<Spool::SyncBatch> TakeSyncBatch() {
    Spool::SyncBatch batch;
    HW_RETURN_IF_ERROR(log->TakeSyncBatch(&batch));
    if (released_dirty) {
      HW_RETURN_IF_ERROR(batch.AddDup(released_fd.get(), PathOf(kReleasedName), true));
      released_dirty = false;
    }
    return batch;
  }

  void MarkUnsynced() {
    log->MarkUnsynced();
    released_dirty = true;
  }
};

Result<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("spool: dir is empty");
  const uint64_t min_bytes = SegmentedLog::kSegmentHeaderBytes + SegmentedLog::kRecordHeaderBytes;
  if (options.max_bytes < min_bytes) {
    return Status::InvalidArgument("spool: max_bytes must be at least " +
                                   std::to_string(min_bytes));
  }
  io::SegmentedLogOptions log_options;
  log_options.dir = options.dir;
  log_options.suffix = ".seg";
  log_options.what = "spool";
  log_options.legacy = io::LegacyFraming::kSpool;
  log_options.segment_bytes = options.segment_bytes;
  log_options.max_record_bytes = options.max_record_bytes;
  log_options.sync_each_append = options.fsync_each_append;
  log_options.keep_sealed_open = false;  // a producer may hold many segments through an outage
  io::SegmentedLogRecovery recovery;
  Result<std::unique_ptr<SegmentedLog>> log = SegmentedLog::Open(log_options, &recovery);
  if (!log.ok()) return log.status().WithContext("opening spool");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->log = std::move(log).value();
  Status recovered = impl->Recover(recovery);
  if (!recovered.ok()) return recovered.WithContext("opening spool");
  return std::unique_ptr<Spool>(new Spool(std::move(impl)));
}

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::~Spool() = default;

Result<uint64_t> Spool::Append(std::string_view bytes) { return impl_->Append(bytes); }

Status Spool::Read(uint64_t from, size_t max_records,
                   const std::function<bool(uint64_t index, std::string_view bytes)>& fn) {
  return impl_->Read(from, max_records, fn);
}

Status Spool::Release(uint64_t upto) { return impl_->Release(upto); }
uint64_t Spool::first_index() const {
  return impl_->log->FirstPresentAtOrAfter(impl_->released + 1);
}
uint64_t Spool::next_index() const { return impl_->log->next_index(); }
SpoolStats Spool::stats() const {
  SpoolStats s = impl_->stats;
  s.bytes = impl_->log->bytes();
  return s;
}
Status Spool::Sync() {
  Result<SyncBatch> batch = impl_->TakeSyncBatch();
  if (!batch.ok()) return batch.status();
  Status st = batch->Run();
  if (!st.ok()) impl_->MarkUnsynced();  // not known to be on disk: the next Sync tries again
  return st;
}
Result<Spool::SyncBatch> Spool::TakeSyncBatch() { return impl_->TakeSyncBatch(); }
void Spool::MarkUnsynced() { impl_->MarkUnsynced(); }

Result<std::string> Spool::ReadMeta() const {
  Result<std::string> meta = io::ReadWholeFile(impl_->options.dir / kMetaName);
  if (!meta.ok() && meta.status().code() == StatusCode::kNotFound) return std::string();
  return meta;
}

// meta.tmp, fsync, rename over meta, fsync the directory: a crash leaves the old or the new.
Status Spool::WriteMeta(std::string_view bytes) {
  return io::WriteFileAtomic(impl_->options.dir / kMetaName, bytes);
}

}  // namespace hw::spool
