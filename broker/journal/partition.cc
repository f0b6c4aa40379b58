// Journal partition (docs/broker.md); the contract is in partition.h. io::SegmentedLog does the
// work (format, recovery, reads concurrent with the writer); this adds retention.
#include "broker/journal/partition.h"

#include <utility>

#include "common/io/segmented_log.h"

namespace hw::broker {

struct Partition::Impl {
  PartitionOptions options;
  std::unique_ptr<io::SegmentedLog> log;
};

Partition::Partition(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Partition::~Partition() = default;

Result<std::unique_ptr<Partition>> Partition::Open(const PartitionOptions& options,
                                                   PartitionRecovery* recovery) {
  io::SegmentedLogOptions log_options;
  log_options.dir = options.dir;
  log_options.suffix = ".log";
  log_options.what = "journal partition";
  log_options.legacy = io::LegacyFraming::kJournal;
  log_options.segment_bytes = options.segment_bytes;
  log_options.max_record_bytes = options.max_record_bytes;
  log_options.keep_sealed_open = true;  // consumer reads run on other threads
  io::SegmentedLogRecovery found;
  HW_ASSIGN_OR_RETURN(std::unique_ptr<io::SegmentedLog> log,
                      io::SegmentedLog::Open(log_options, &found));
  if (recovery != nullptr) {
    recovery->truncated_bytes = found.truncated_bytes;
    recovery->corrupt_records = found.corrupt_records;
    recovery->records = found.records;
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->log = std::move(log);
  return std::unique_ptr<Partition>(new Partition(std::move(impl)));
}

Result<uint64_t> Partition::Append(std::string_view bytes) { return impl_->log->Append(&bytes, 1); }

Result<uint64_t> Partition::AppendBatch(const std::vector<std::string_view>& records) {
  return impl_->log->Append(records.data(), records.size());
}

Status Partition::Sync() { return impl_->log->Sync(); }

// Only a prefix of the segments goes (oldest first, stopping at the first one that is neither over
// the byte budget nor too old), so the kept records stay one contiguous range from first_offset().
Result<uint64_t> Partition::ApplyRetention(std::chrono::system_clock::time_point now) {
  io::SegmentedLog& log = *impl_->log;
  const auto oldest_kept = now - impl_->options.retention_age;
  uint64_t removed = 0;
  while (log.segment_count() > 1) {  // the active segment is never removed
    bool remove = log.bytes() > impl_->options.retention_bytes;
    if (!remove) {
      HW_ASSIGN_OR_RETURN(std::chrono::system_clock::time_point written, log.SegmentMtime(0));
      remove = written < oldest_kept;
    }
    if (!remove) break;
    HW_ASSIGN_OR_RETURN(io::SegmentedLog::Removed gone, log.RemoveOldestSegment());
    removed += gone.records;
  }
  return removed;
}

Status Partition::Read(uint64_t from, size_t max_records, size_t max_bytes,
                       const std::function<bool(uint64_t offset, std::string_view bytes)>& fn,
                       uint64_t* resume_at) const {
  return impl_->log->Read(from, max_records, max_bytes, fn, resume_at);
}

uint64_t Partition::first_offset() const { return impl_->log->first_index(); }
uint64_t Partition::next_offset() const { return impl_->log->next_index(); }
uint64_t Partition::bytes() const { return impl_->log->bytes(); }
uint32_t Partition::segments() const { return impl_->log->segment_count(); }

}  // namespace hw::broker
