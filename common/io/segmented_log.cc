// Segmented log; the rules are in segmented_log.h.
//
// In memory, one Segment per file, oldest first, each with a dense index positions[index - first]
// -> file position of that record's header (flagged kLost for an index lost to corruption): 8 bytes
// per record, built at Open by scanning.
//
// Publication: the writer first writes a record's bytes, then, under mu, extends the segment's
// index and size, then stores next_index. Readers find records only through the index, under a
// shared lock, so they never see a record whose bytes are not completely in the file. The bytes are
// read after the lock is dropped (the shared_ptr keeps a segment's fd alive even if the writer
// unlinks the file meanwhile).
#include "common/io/segmented_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/io/segment_format.h"

namespace hw::io {
namespace {

namespace fs = std::filesystem;

using namespace segment_format;  // NOLINT: this file is the format's one user
static_assert(kSegmentHeaderBytes == SegmentedLog::kSegmentHeaderBytes);
static_assert(kRecordHeaderBytes == SegmentedLog::kRecordHeaderBytes);
// A Read fetches at most about this much per pread, so huge limits do not mean huge buffers.
constexpr uint64_t kMaxReadChunkBytes = 1u << 20;
#ifdef IOV_MAX
constexpr size_t kMaxIov = IOV_MAX;
#else
constexpr size_t kMaxIov = 1024;
#endif

std::chrono::system_clock::time_point ToTimePoint(const timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

struct Segment {
  Segment(uint64_t first_index, fs::path file, UniqueFd file_fd)
      : first(first_index), path(std::move(file)), fd(std::move(file_fd)) {}

  const uint64_t first;  // from the file name
  const fs::path path;
  // O_RDWR|O_APPEND if it was ever the active segment, else O_RDONLY. Closed when sealed unless
  // keep_sealed_open (whose readers may be on other threads: then it never changes).
  UniqueFd fd;
  Format format = Format::k2;

  // Guarded by Impl::mu; changed only by the writer thread, which may read them without the lock.
  // Not checked by the analysis: GUARDED_BY can name only a mutex of the object holding the member.
  std::vector<uint64_t> positions;  // [index - first] -> header position, | kLost
  uint64_t end = 0;                 // past the last slot's record
  uint64_t size = 0;                // bytes of the file counted (a sealed one's unread tail too)
  uint64_t records = 0;             // slots not lost

  bool synced = true;  // writer only: false when written since the last sync

  uint64_t next() const { return first + positions.size(); }
  uint64_t Pos(size_t k) const { return positions[k] & ~kLost; }
  bool Present(size_t k) const { return (positions[k] & kLost) == 0; }
  uint64_t RecordEnd(size_t k) const { return k + 1 < positions.size() ? Pos(k + 1) : end; }
};

}  // namespace

struct SegmentedLog::Impl {
  Status Recover(SegmentedLogRecovery* recovery) EXCLUDES(mu);
  Status ScanFile(Segment* seg, uint64_t limit, bool last, SegmentedLogRecovery* recovery);
  Status Create(uint64_t first) EXCLUDES(mu);
  Status WriteChunk(Segment* seg, const std::string_view* records, size_t count) EXCLUDES(mu);
  Result<int> ReadFd(const Segment& seg, UniqueFd* opened) const;

  SegmentedLogOptions options;
  std::string dir;  // options.dir as a string, for messages
  UniqueFd dir_fd;  // flock-ed; fsync-ed when files come or go

  mutable SharedMutex mu;
  // Oldest first; back() is the active segment. Never empty after Open. Changed only by the writer
  // thread, under mu; that thread reads it through W() without the lock.
  std::vector<std::shared_ptr<Segment>> segments GUARDED_BY(mu);
  // The writer thread's unlocked read: no other thread changes segments, so it cannot race with a
  // change. The analysis cannot tell threads apart, hence NO_THREAD_SAFETY_ANALYSIS here (only).
  const std::vector<std::shared_ptr<Segment>>& W() const NO_THREAD_SAFETY_ANALYSIS {
    return segments;
  }

  // Published copies for any thread. next_index is stored (release) after the index covers the
  // record, so a reader that sees it finds every record below it.
  std::atomic<uint64_t> first_index{1};
  std::atomic<uint64_t> next_index{1};
  std::atomic<uint64_t> total_bytes{0};

  // Writer only.
  bool dir_dirty = false;
  bool must_roll = false;  // the active segment is format 1, or ends in a partial record
  std::vector<std::array<char, kRecordHeaderBytes>> headers;  // Append scratch, reused
  std::vector<iovec> iov;                                     // likewise
};

Result<std::unique_ptr<SegmentedLog>> SegmentedLog::Open(const SegmentedLogOptions& options,
                                                         SegmentedLogRecovery* recovery) {
  if (options.segment_bytes == 0) return Status::InvalidArgument("segment_bytes must be > 0");
  SegmentedLogRecovery ignored;
  if (recovery == nullptr) recovery = &ignored;
  *recovery = SegmentedLogRecovery{};
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->dir = options.dir.string();
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::IoError("create " + impl->dir, ec.value());
  impl->dir_fd.Reset(::open(impl->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->dir_fd.valid()) return Status::IoError("open " + impl->dir, errno);
  // Two writers on one log would interleave records; the lock dies with the process.
  if (::flock(impl->dir_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::FailedPrecondition(options.what + " " + impl->dir +
                                        " is already open (by this or another process)");
    }
    return Status::IoError("flock " + impl->dir, errno);
  }
  HW_RETURN_IF_ERROR(impl->Recover(recovery));
  return std::unique_ptr<SegmentedLog>(new SegmentedLog(std::move(impl)));
}

SegmentedLog::SegmentedLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SegmentedLog::~SegmentedLog() = default;

Status SegmentedLog::Impl::Recover(SegmentedLogRecovery* recovery) {
  std::vector<uint64_t> firsts;
  std::error_code ec;
  for (fs::directory_iterator it(options.dir, ec), end; !ec && it != end; it.increment(ec)) {
    uint64_t first = 0;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) &&
        ParseSegmentName(it->path().filename().string(), options.suffix, &first)) {
      firsts.push_back(first);
    }
  }
  if (ec) return Status::IoError("list " + dir, ec.value());
  std::sort(firsts.begin(), firsts.end());

  for (size_t i = 0; i < firsts.size(); ++i) {
    const bool last = i + 1 == firsts.size();
    fs::path path = options.dir / SegmentName(firsts[i], options.suffix);
    UniqueFd fd(::open(path.c_str(), (last ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC));
    if (!fd.valid()) return Status::IoError("open " + path.string(), errno);
    auto seg = std::make_shared<Segment>(firsts[i], std::move(path), std::move(fd));
    HW_RETURN_IF_ERROR(ScanFile(seg.get(), last ? kNoLimit : firsts[i + 1], last, recovery));
    if (!last && !options.keep_sealed_open) seg->fd.Reset();
    recovery->records += seg->records;
    total_bytes.fetch_add(seg->size, std::memory_order_relaxed);
    WriterMutexLock lock(&mu);
    segments.push_back(std::move(seg));
  }
  if (firsts.empty()) {
    HW_RETURN_IF_ERROR(Create(1));
  } else {
    first_index.store(W().front()->first, std::memory_order_release);
    next_index.store(W().back()->next(), std::memory_order_release);
  }
  return Status::Ok();
}

Status SegmentedLog::Impl::ScanFile(Segment* seg, uint64_t limit, bool last,
                                    SegmentedLogRecovery* recovery) {
  struct stat st {};
  if (::fstat(seg->fd.get(), &st) != 0) return Status::IoError("stat " + seg->path.string(), errno);
  const auto n = static_cast<uint64_t>(st.st_size);
  void* map = nullptr;
  if (n > 0) {
    map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, seg->fd.get(), 0);
    if (map == MAP_FAILED) return Status::IoError("mmap " + seg->path.string(), errno);
    ::madvise(map, n, MADV_SEQUENTIAL);
  }
  const Format legacy =
      options.legacy == LegacyFraming::kSpool ? Format::kSpool1 : Format::kJournal1;
  Scan s = ScanSegment(static_cast<const char*>(map), n, seg->first, limit, legacy,
                       options.max_record_bytes);
  if (map != nullptr) ::munmap(map, n);

  seg->format = s.format;
  if (!last) {
    // Indexes below the next segment's first that this one does not hold are lost too.
    if (limit > s.expected) s.corrupt += limit - s.expected;
    recovery->corrupt_records += s.corrupt;
    seg->positions = std::move(s.positions);
    seg->records = s.records;
    seg->end = s.end;
    seg->size = n;
    return Status::Ok();
  }
  s.positions.resize(s.valid_positions);
  seg->positions = std::move(s.positions);
  seg->records = s.valid_records;
  recovery->corrupt_records += s.valid_corrupt;
  // Appends go to format 2 only: an empty format 1 segment (or a torn header) is rewritten.
  const bool rewrite = s.torn_header || (s.format != Format::k2 && s.valid_positions == 0);
  uint64_t valid_end = rewrite ? 0 : s.valid_end;
  if (valid_end < n) {
    recovery->truncated_bytes += n - valid_end;
    if (::ftruncate(seg->fd.get(), static_cast<off_t>(valid_end)) != 0) {
      return Status::IoError("truncate " + seg->path.string(), errno);
    }
  }
  if (rewrite) {
    iovec v{const_cast<char*>(kMagic), kSegmentHeaderBytes};
    uint64_t written = 0;
    if (int err = WritevFull(seg->fd.get(), &v, 1, &written); err != 0) {
      return Status::IoError("write " + seg->path.string(), err);
    }
    seg->format = Format::k2;
    valid_end = kSegmentHeaderBytes;
  }
  if ((valid_end < n || rewrite) && ::fdatasync(seg->fd.get()) != 0) {
    return Status::IoError("fdatasync " + seg->path.string(), errno);
  }
  seg->end = seg->size = valid_end;
  must_roll = seg->format != Format::k2;
  return Status::Ok();
}

Status SegmentedLog::Impl::Create(uint64_t first) {
  fs::path path = options.dir / SegmentName(first, options.suffix);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::IoError("create " + path.string(), errno);
  iovec v{const_cast<char*>(kMagic), kSegmentHeaderBytes};
  uint64_t written = 0;
  if (int err = WritevFull(fd.get(), &v, 1, &written); err != 0) {
    ::unlink(path.c_str());  // an empty or torn file would be recovered too, but need not be
    return Status::IoError("write " + path.string(), err);
  }
  auto seg = std::make_shared<Segment>(first, std::move(path), std::move(fd));
  seg->end = seg->size = kSegmentHeaderBytes;
  seg->synced = false;
  if (!W().empty() && !options.keep_sealed_open) W().back()->fd.Reset();
  {
    WriterMutexLock lock(&mu);
    segments.push_back(std::move(seg));
    if (segments.size() == 1) first_index.store(first, std::memory_order_release);
  }
  total_bytes.fetch_add(kSegmentHeaderBytes, std::memory_order_relaxed);
  next_index.store(first, std::memory_order_release);
  dir_dirty = true;
  must_roll = false;
  if (options.sync_each_append) {
    if (::fsync(dir_fd.get()) != 0) return Status::IoError("fsync " + dir, errno);
    dir_dirty = false;
  }
  return Status::Ok();
}

Status SegmentedLog::Roll(uint64_t first) {
  if (first < next_index()) {
    return Status::InvalidArgument("roll to " + std::to_string(first) + " below next index " +
                                   std::to_string(next_index()));
  }
  return impl_->Create(first);
}

Result<uint64_t> SegmentedLog::Append(const std::string_view* records, size_t count) {
  Impl& m = *impl_;
  // Validate the whole batch first, so an invalid record appends nothing.
  for (size_t i = 0; i < count; ++i) {
    if (records[i].size() > m.options.max_record_bytes) {
      return Status::InvalidArgument(
          m.options.what + " record of " + std::to_string(records[i].size()) +
          " bytes exceeds max_record_bytes " + std::to_string(m.options.max_record_bytes));
    }
  }
  if (m.must_roll) HW_RETURN_IF_ERROR(m.Create(next_index()));
  const uint64_t first = next_index();
  constexpr uint64_t kHeader = kRecordHeaderBytes;
  size_t i = 0;
  while (i < count) {
    Segment* seg = m.W().back().get();
    // Roll before a record that would take a non-empty segment's records past segment_bytes; a
    // record bigger than that gets a segment of its own. The segment header is not counted.
    uint64_t used = seg->size - kSegmentHeaderBytes;
    if (!seg->positions.empty() && used + kHeader + records[i].size() > m.options.segment_bytes) {
      HW_RETURN_IF_ERROR(m.Create(next_index()));
      seg = m.W().back().get();
      used = 0;
    }
    // As many of the following records as fit in this segment (at least one) go in one chunk.
    size_t j = i;
    uint64_t chunk_bytes = 0;
    do {
      chunk_bytes += kHeader + records[j].size();
      ++j;
    } while (j < count &&
             used + chunk_bytes + kHeader + records[j].size() <= m.options.segment_bytes);
    HW_RETURN_IF_ERROR(m.WriteChunk(seg, records + i, j - i));
    i = j;
  }
  return first;
}

Status SegmentedLog::Impl::WriteChunk(Segment* seg, const std::string_view* records, size_t count) {
  const uint64_t first = next_index.load(std::memory_order_relaxed);
  if (headers.size() < count) headers.resize(count);
  iov.clear();
  for (size_t k = 0; k < count; ++k) {
    EncodeHeader(headers[k].data(), records[k], first + k);
    iov.push_back({headers[k].data(), kRecordHeaderBytes});
    iov.push_back({const_cast<char*>(records[k].data()), records[k].size()});
  }
  uint64_t written = 0;
  int err = 0;
  for (size_t done = 0; done < iov.size() && err == 0;) {
    const size_t n = std::min(kMaxIov, iov.size() - done);
    uint64_t w = 0;
    err = WritevFull(seg->fd.get(), iov.data() + done, static_cast<int>(n), &w);
    written += w;
    done += n;
  }
  if (err != 0) {
    // Cut the partial chunk so the file ends on a whole record again; none of it was published.
    // When that fails too, the partial bytes stay behind a new segment (recovery skips them).
    if (written > 0 && ::ftruncate(seg->fd.get(), static_cast<off_t>(seg->size)) != 0) {
      WriterMutexLock lock(&mu);
      seg->size += written;
      total_bytes.fetch_add(written, std::memory_order_relaxed);
      must_roll = true;
    }
    return Status::IoError("write " + seg->path.string(), err);
  }
  uint64_t pos = seg->size;
  {
    WriterMutexLock lock(&mu);
    for (size_t k = 0; k < count; ++k) {
      seg->positions.push_back(pos);
      pos += kRecordHeaderBytes + records[k].size();
    }
    total_bytes.fetch_add(pos - seg->size, std::memory_order_relaxed);
    seg->size = seg->end = pos;
    seg->records += count;
  }
  next_index.store(first + count, std::memory_order_release);
  seg->synced = false;
  if (options.sync_each_append) {
    if (::fdatasync(seg->fd.get()) != 0) {
      return Status::IoError("fdatasync " + seg->path.string(), errno);
    }
    seg->synced = true;
  }
  return Status::Ok();
}

Result<SegmentedLog::Removed> SegmentedLog::RemoveOldestSegment() {
  Impl& m = *impl_;
  if (m.W().size() <= 1) {
    return Status::FailedPrecondition("the active segment of " + m.dir + " cannot be removed");
  }
  const std::shared_ptr<Segment> seg = m.W().front();
  if (::unlink(seg->path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("remove " + seg->path.string(), errno);
  }
  {
    // Under the same lock as the segment list, so a reader that saw the new list never sees the
    // old first_index().
    WriterMutexLock lock(&m.mu);
    m.segments.erase(m.segments.begin());
    m.first_index.store(m.segments.front()->first, std::memory_order_release);
  }
  m.total_bytes.fetch_sub(seg->size, std::memory_order_relaxed);
  m.dir_dirty = true;
  return Removed{seg->first, seg->next(), seg->records, seg->size};
}

Result<int> SegmentedLog::Impl::ReadFd(const Segment& seg, UniqueFd* opened) const {
  if (seg.fd.valid()) return seg.fd.get();
  opened->Reset(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!opened->valid()) return Status::IoError("open " + seg.path.string(), errno);
  return opened->get();
}

// Each turn picks, under the shared lock, a run of indexed records in one segment (bounded by the
// remaining limits and kMaxReadChunkBytes), then preads it in one call and delivers it unlocked.
Status SegmentedLog::Read(uint64_t from, size_t max_records, size_t max_bytes,
                          const std::function<bool(uint64_t, std::string_view)>& fn,
                          uint64_t* resume_at, std::vector<uint64_t>* bad) const {
  const Impl& m = *impl_;
  uint64_t ignored = 0;
  if (resume_at == nullptr) resume_at = &ignored;
  size_t delivered = 0;
  uint64_t delivered_bytes = 0;
  uint64_t next = from;
  *resume_at = from;
  std::vector<uint64_t> slice;  // positions of indexes slice_first, slice_first + 1, ...
  std::string buf;
  while (delivered < max_records) {
    std::shared_ptr<Segment> seg;
    uint64_t slice_first = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    slice.clear();
    {
      ReaderMutexLock lock(&m.mu);
      // The writer removed what this call was about to read: stop here rather than jump, so the
      // caller sees `next` fall below first_index() on its next call and can count the skip. Only
      // the first turn may start above `from`, as the contract says.
      if (delivered > 0 && m.segments.front()->first > next) {
        *resume_at = next;
        return Status::Ok();
      }
      next = std::max(next, m.segments.front()->first);
      auto it = std::upper_bound(
          m.segments.begin(), m.segments.end(), next,
          [](uint64_t index, const std::shared_ptr<Segment>& s) { return index < s->first; });
      --it;  // the segment holding next: the last whose first <= next
      // The first present record at or after next, possibly in a later segment.
      uint64_t k = next - (*it)->first;
      for (;;) {
        const Segment& s = **it;
        while (k < s.positions.size() && !s.Present(k)) ++k;
        if (k < s.positions.size()) break;
        if (++it == m.segments.end()) {  // caught up
          *resume_at = std::max(next, m.segments.back()->next());
          return Status::Ok();
        }
        k = 0;
      }
      seg = *it;
      slice_first = seg->first + k;
      start = seg->Pos(k);
      // Sizes include headers, so the run may stop a little short of max_bytes; the next turn
      // continues with it.
      const uint64_t budget = std::min<uint64_t>(max_bytes - delivered_bytes, kMaxReadChunkBytes);
      size_t present = 0;
      for (; k < seg->positions.size() && present < max_records - delivered; ++k) {
        if (!seg->Present(k)) {
          slice.push_back(kLost);
          continue;
        }
        if (present > 0 && seg->Pos(k) - start >= budget) break;
        slice.push_back(seg->Pos(k));
        ++present;
      }
      end = k < seg->positions.size() ? seg->Pos(k) : seg->end;
    }

    UniqueFd opened;
    HW_ASSIGN_OR_RETURN(int fd, m.ReadFd(*seg, &opened));
    const uint64_t len = end - start;
    if (buf.size() < len) buf.resize(len);
    size_t got = 0;
    if (int err = PreadFull(fd, buf.data(), len, start, &got); err != 0) {
      return Status::IoError("read " + seg->path.string(), err);
    }
    if (got < len) {
      return Status::DataLoss(seg->path.string() + ": ends before byte " +
                              std::to_string(start + len) + " that the index points to");
    }
    const uint64_t hb = HeaderBytes(seg->format);
    for (size_t k = 0; k < slice.size(); ++k) {
      if (slice[k] == kLost) continue;
      const uint64_t index = slice_first + k;
      const uint64_t at = slice[k] - start;
      const char* record = buf.data() + at;
      Header h{};
      if (len - at >= hb) h = DecodeHeader(seg->format, record, index);
      // Verified at Open or written by us: a mismatch means the file changed underneath.
      if (len - at < hb || h.index != index || h.length > len - at - hb ||
          !CrcMatches(seg->format, record, h)) {
        if (bad == nullptr) {
          return Status::DataLoss(seg->path.string() + ": record " + std::to_string(index) +
                                  " at byte " + std::to_string(slice[k]) +
                                  " no longer matches the index");
        }
        bad->push_back(index);
        *resume_at = index + 1;
        continue;
      }
      *resume_at = index + 1;
      if (!fn(index, std::string_view(record + hb, h.length))) return Status::Ok();
      ++delivered;
      delivered_bytes += h.length;
      if (delivered >= max_records || delivered_bytes >= max_bytes) return Status::Ok();
    }
    next = slice_first + slice.size();
    *resume_at = next;
  }
  return Status::Ok();
}

void SegmentedLog::MarkLost(uint64_t index) {
  Impl& m = *impl_;
  for (const auto& seg : m.W()) {
    if (index < seg->first || index >= seg->next()) continue;
    const size_t k = index - seg->first;
    if (!seg->Present(k)) return;
    WriterMutexLock lock(&m.mu);
    seg->positions[k] |= kLost;
    --seg->records;
    return;
  }
}

uint64_t SegmentedLog::first_index() const {
  return impl_->first_index.load(std::memory_order_acquire);
}
uint64_t SegmentedLog::next_index() const {
  return impl_->next_index.load(std::memory_order_acquire);
}
uint64_t SegmentedLog::bytes() const { return impl_->total_bytes.load(std::memory_order_relaxed); }
uint32_t SegmentedLog::segment_count() const {
  ReaderMutexLock lock(&impl_->mu);
  return static_cast<uint32_t>(impl_->segments.size());
}

SegmentedLog::SegmentInfo SegmentedLog::segment(size_t i) const {
  const Segment& s = *impl_->W()[i];
  return {s.first, s.next(), s.size};
}

void SegmentedLog::CountPresent(uint64_t lo, uint64_t hi, uint64_t* records,
                                uint64_t* bytes) const {
  for (const auto& seg : impl_->W()) {
    if (seg->first > hi) break;
    if (seg->next() <= lo) continue;
    const uint64_t top = std::min(hi, seg->next() - 1);
    for (uint64_t i = std::max(lo, seg->first); i <= top; ++i) {
      const size_t k = i - seg->first;
      if (!seg->Present(k)) continue;
      ++*records;
      *bytes += seg->RecordEnd(k) - seg->Pos(k);
    }
  }
}

uint64_t SegmentedLog::FirstPresentAtOrAfter(uint64_t from) const {
  for (const auto& seg : impl_->W()) {
    for (uint64_t i = std::max(from, seg->first); i < seg->next(); ++i) {
      if (seg->Present(i - seg->first)) return i;
    }
  }
  return next_index();
}

Result<std::chrono::system_clock::time_point> SegmentedLog::SegmentMtime(size_t i) const {
  const Segment& s = *impl_->W()[i];
  struct stat st {};
  const int r = s.fd.valid() ? ::fstat(s.fd.get(), &st) : ::stat(s.path.c_str(), &st);
  if (r != 0) return Status::IoError("stat " + s.path.string(), errno);
  return ToTimePoint(st.st_mtim);
}

Status SegmentedLog::Sync() {
  SyncBatch batch;
  HW_RETURN_IF_ERROR(TakeSyncBatch(&batch));
  Status st = batch.Run();
  if (!st.ok()) MarkUnsynced();  // not known to be on disk: the next Sync tries again
  return st;
}

Status SegmentedLog::TakeSyncBatch(SyncBatch* batch) {
  Impl& m = *impl_;
  for (const auto& seg : m.W()) {
    if (seg->synced) continue;
    if (seg->fd.valid()) {
      HW_RETURN_IF_ERROR(batch->AddDup(seg->fd.get(), seg->path.string(), true));
    } else {
      UniqueFd fd(::open(seg->path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return Status::IoError("open " + seg->path.string(), errno);
      batch->Add(std::move(fd), seg->path.string(), true);
    }
    seg->synced = true;
  }
  if (m.dir_dirty) {
    HW_RETURN_IF_ERROR(batch->AddDup(m.dir_fd.get(), m.dir, false));
    m.dir_dirty = false;
  }
  return Status::Ok();
}

void SegmentedLog::MarkUnsynced() {
  for (const auto& seg : impl_->W()) seg->synced = false;
  impl_->dir_dirty = true;
}

}  // namespace hw::io
