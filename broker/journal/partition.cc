// Journal partition (DESIGN.md §4); the contract is in partition.h.
//
// In memory, one Segment per file, oldest first. Each keeps its fd open (readers share it: pread is
// thread-safe) and a dense index positions[offset - base] -> file position of that record's header,
// or kMissing for an offset lost to corruption: 8 bytes per record, built at Open by scanning.
//
// Publication: the writer first writes a record's bytes, then, under mu, extends the segment's
// index and size, then stores next_offset. Readers find records only through the index, under a
// shared lock, so they never see a record whose bytes are not completely in the file. The bytes
// themselves are read after the lock is dropped (the shared_ptr keeps a segment's fd alive even if
// retention unlinks the file meanwhile).
//
// Recovery rule (Open). Each segment is scanned from its start; `expected` is the next offset it
// should hold and `limit` the next segment's base (no limit for the last segment).
//  1. A header is consistent when its offset == expected (< limit), its length <= max_record_bytes
//  and
//     the record fits in the file. Consistent header + matching CRC: the record is kept.
//  2. Consistent header + bad CRC, followed by the end of the file or by a header consistent for
//     expected + 1: the payload was damaged. That one offset is lost (corrupt_records) and the scan
//     moves on by the record's length.
//  3. Anything else means the header itself cannot be trusted (a garbage length, a wrong offset, or
//  a
//     damaged length that lands nowhere sensible). The scan moves forward byte by byte to the next
//     position holding a record with a matching CRC and an offset in [expected, limit) that could
//     fit in the bytes skipped (>= 16 per record); the offsets in between are lost
//     (corrupt_records). When nothing valid follows, a sealed segment keeps its trailing bytes
//     unread, and the offsets up to the next segment's base count as lost.
// The LAST segment follows the same rules, then is cut right after its last valid record: whatever
// follows it is a torn or corrupt tail (truncated_bytes), and the next append reuses those offsets.
// A damaged record in the last segment with valid records after it is skipped, not cut: cutting
// there would throw away records already acknowledged to producers, which is worse than one hole.
#include "broker/journal/partition.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include "common/base/mutex.h"
#include "common/spool/crc32c.h"
#include "common/spool/file_io.h"

namespace hw::broker {
namespace {

constexpr uint64_t kHeaderBytes = 16;
constexpr uint64_t kMissing = UINT64_MAX;  // index entry of an offset lost to corruption
// A Read fetches at most about this much per pread, so huge limits do not mean huge buffers.
constexpr uint64_t kMaxReadChunkBytes = 1u << 20;
#ifdef IOV_MAX
constexpr size_t kMaxIov = IOV_MAX;
#else
constexpr size_t kMaxIov = 1024;
#endif

struct Header {
  uint32_t length;
  uint32_t crc;
  uint64_t offset;
};

Header DecodeHeader(const char* p) {
  return {spool::GetFixed32(p), spool::GetFixed32(p + 4), spool::GetFixed64(p + 8)};
}

void EncodeHeader(char* out, std::string_view bytes, uint64_t offset) {
  spool::PutFixed32(out, static_cast<uint32_t>(bytes.size()));
  spool::PutFixed32(out + 4, spool::Crc32c(bytes));
  spool::PutFixed64(out + 8, offset);
}

std::string SegmentName(uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(base));
  return name;
}

bool ParseSegmentName(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return false;
  uint64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    const char c = name[static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (v == 0) return false;  // offsets start at 1
  *base = v;
  return true;
}

// Writes every iovec, resuming after short writes. Adjusts the iovecs it is given.
Status WriteAllV(int fd, iovec* iov, size_t iovcnt, const std::filesystem::path& path) {
  uint64_t written = 0;
  if (int err = spool::WritevFull(fd, iov, static_cast<int>(iovcnt), &written); err != 0) {
    return Status::IoError("writev " + path.string(), err);
  }
  return Status::Ok();
}

Status PreadAll(int fd, char* buf, size_t n, uint64_t pos, const std::filesystem::path& path) {
  size_t got = 0;
  if (int err = spool::PreadFull(fd, buf, n, pos, &got); err != 0) {
    return Status::IoError("pread " + path.string(), err);
  }
  if (got < n) {
    return Status::DataLoss(path.string() + ": ends before byte " + std::to_string(pos + n) +
                            " that the index points to");
  }
  return Status::Ok();
}

std::chrono::system_clock::time_point ToTimePoint(const timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

struct Segment {
  Segment(uint64_t base_offset, std::filesystem::path file, int file_fd)
      : base(base_offset), path(std::move(file)), fd(file_fd) {}
  ~Segment() { ::close(fd); }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const uint64_t base;  // offset of the first record, from the file name
  const std::filesystem::path path;
  const int fd;  // O_RDWR|O_APPEND if it was ever the active segment, else O_RDONLY

  // Guarded by Partition::Impl::mu; changed only by the writer thread, which may read them without
  // the lock. Not checked by the thread-safety analysis: GUARDED_BY can name only a mutex of the
  // object that holds the member, and a Segment does not know its partition.
  std::vector<uint64_t> positions;  // [offset - base] -> header position, or kMissing
  uint64_t size = 0;     // bytes of the file covered: published records (+ skipped garbage)
  uint64_t records = 0;  // entries of positions that are not kMissing
};

}  // namespace

struct Partition::Impl {
  ~Impl() {
    if (dir_fd >= 0) ::close(dir_fd);  // also drops the flock
  }

  // The writer's; they take mu themselves to change segments.
  Status Recover(PartitionRecovery* recovery) EXCLUDES(mu);
  Status ScanSegment(Segment* seg, uint64_t limit, bool last, PartitionRecovery* recovery);
  Status CreateSegment(uint64_t base) EXCLUDES(mu);
  Result<uint64_t> Append(const std::string_view* records, size_t count) EXCLUDES(mu);
  Status WriteChunk(Segment* seg, const std::string_view* records, size_t count) EXCLUDES(mu);
  Status Sync();
  Result<uint64_t> ApplyRetention(std::chrono::system_clock::time_point now) EXCLUDES(mu);
  // Any thread; takes mu shared, and calls fn without it.
  Status Read(uint64_t from, size_t max_records, size_t max_bytes,
              const std::function<bool(uint64_t, std::string_view)>& fn, uint64_t* resume_at) const
      EXCLUDES(mu);

  PartitionOptions options;
  std::string dir;  // options.dir as a string, for messages
  int dir_fd = -1;  // flock-ed so a second Open of the same directory fails; fsync-ed for new files

  mutable SharedMutex mu;
  // Changed only by the writer thread, under mu; that thread reads it through WriterSegments(),
  // without the lock. Oldest first; back() is the active segment. Never empty after Open.
  std::vector<std::shared_ptr<Segment>> segments GUARDED_BY(mu);

  // The writer thread's unlocked read of segments: no other thread changes them, so it cannot race
  // with a change. The analysis cannot tell threads apart, hence NO_THREAD_SAFETY_ANALYSIS here
  // (and only here): every other access to segments is checked to hold mu.
  const std::vector<std::shared_ptr<Segment>>& WriterSegments() const NO_THREAD_SAFETY_ANALYSIS {
    return segments;
  }

  // Published copies, readable from any thread without mu. next_offset is stored (release) after
  // the index covers the record, so a reader that sees it finds every record below it.
  std::atomic<uint64_t> first_offset{1};
  std::atomic<uint64_t> next_offset{1};
  std::atomic<uint64_t> total_bytes{0};

  // Writer thread only.
  std::vector<std::shared_ptr<Segment>> unsynced;  // sealed since the last Sync, with unsynced data
  bool active_dirty = false;                       // the active segment has unsynced data
  bool dir_dirty = false;                          // files were created or removed since Sync
  // Set when a failed append could not be undone (the file may hold a partial record): appends are
  // refused until the partition is reopened, which recovers the tail.
  Status broken;
  std::vector<std::array<char, kHeaderBytes>> headers;  // AppendBatch scratch, reused across calls
  std::vector<iovec> iov;                               // likewise
};

Partition::Partition(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Partition::~Partition() = default;

Result<std::unique_ptr<Partition>> Partition::Open(const PartitionOptions& options,
                                                   PartitionRecovery* recovery) {
  if (options.segment_bytes == 0) return Status::InvalidArgument("segment_bytes must be > 0");
  PartitionRecovery ignored;
  if (recovery == nullptr) recovery = &ignored;
  *recovery = PartitionRecovery{};

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->dir = options.dir.string();
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IoError("create " + impl->dir, ec.value());
  impl->dir_fd = ::open(impl->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (impl->dir_fd < 0) return Status::IoError("open " + impl->dir, errno);
  // Two writers on one partition would interleave records; the lock dies with the process.
  if (::flock(impl->dir_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::FailedPrecondition("journal partition " + impl->dir +
                                        " is already open (by this or another process)");
    }
    return Status::IoError("flock " + impl->dir, errno);
  }
  HW_RETURN_IF_ERROR(impl->Recover(recovery));
  return std::unique_ptr<Partition>(new Partition(std::move(impl)));
}

Status Partition::Impl::Recover(PartitionRecovery* recovery) {
  std::vector<uint64_t> bases;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(options.dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    uint64_t base = 0;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && ParseSegmentName(it->path().filename().string(), &base)) {
      bases.push_back(base);
    }
  }
  if (ec) return Status::IoError("list " + dir, ec.value());
  std::sort(bases.begin(), bases.end());

  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    const std::filesystem::path path = options.dir / SegmentName(bases[i]);
    const int fd =
        ::open(path.c_str(), last ? O_RDWR | O_APPEND | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IoError("open " + path.string(), errno);
    auto seg = std::make_shared<Segment>(bases[i], path, fd);
    HW_RETURN_IF_ERROR(ScanSegment(seg.get(), last ? kMissing : bases[i + 1], last, recovery));
    recovery->records += seg->records;
    total_bytes += seg->size;
    WriterMutexLock lock(&mu);  // no reader exists yet, but changes to segments are made under mu
    segments.push_back(std::move(seg));
  }
  if (WriterSegments().empty()) HW_RETURN_IF_ERROR(CreateSegment(1));
  if (::fsync(dir_fd) != 0) return Status::IoError("fsync " + dir, errno);
  dir_dirty = false;

  const Segment& active = *WriterSegments().back();
  first_offset.store(WriterSegments().front()->base);
  next_offset.store(active.base + active.positions.size());
  return Status::Ok();
}

Status Partition::Impl::ScanSegment(Segment* seg, uint64_t limit, bool last,
                                    PartitionRecovery* recovery) {
  struct stat st {};
  if (::fstat(seg->fd, &st) != 0) return Status::IoError("stat " + seg->path.string(), errno);
  const auto n = static_cast<uint64_t>(st.st_size);
  if (n == 0) {
    if (!last && limit > seg->base) recovery->corrupt_records += limit - seg->base;
    return Status::Ok();
  }
  void* map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, seg->fd, 0);
  if (map == MAP_FAILED) return Status::IoError("mmap " + seg->path.string(), errno);
  ::madvise(map, n, MADV_SEQUENTIAL);
  const char* data = static_cast<const char*>(map);
  const uint64_t max_record = options.max_record_bytes;

  // A header at p with an offset in [lo, hi) and a record that fits in the file.
  auto consistent = [&](uint64_t p, uint64_t lo, uint64_t hi, Header* h) {
    if (n - p < kHeaderBytes) return false;
    *h = DecodeHeader(data + p);
    return h->offset >= lo && h->offset < hi && h->length <= max_record &&
           h->length <= n - p - kHeaderBytes;
  };
  auto crc_ok = [&](uint64_t p, const Header& h) {
    return spool::Crc32c(data + p + kHeaderBytes, size_t{h.length}) == h.crc;
  };

  std::vector<uint64_t>& positions = seg->positions;
  uint64_t pos = 0;
  uint64_t expected = seg->base;
  uint64_t corrupt = 0;
  // The state right after the last valid record: where the last segment is cut.
  uint64_t valid_end = 0;
  size_t valid_positions = 0;
  uint64_t valid_corrupt = 0;
  while (pos < n) {
    Header h{};
    if (consistent(pos, expected, std::min(expected + 1, limit), &h)) {
      const uint64_t next = pos + kHeaderBytes + h.length;
      if (crc_ok(pos, h)) {  // rule 1
        positions.push_back(pos);
        ++seg->records;
        ++expected;
        pos = next;
        valid_end = pos;
        valid_positions = positions.size();
        valid_corrupt = corrupt;
        continue;
      }
      Header following{};
      if (next == n || consistent(next, expected + 1, std::min(expected + 2, limit), &following)) {
        positions.push_back(kMissing);  // rule 2
        ++corrupt;
        ++expected;
        pos = next;
        continue;
      }
    }
    // Rule 3: resynchronise on the next record that proves itself with its CRC.
    uint64_t found = kMissing;
    Header found_header{};
    for (uint64_t p = pos + 1; n - p >= kHeaderBytes; ++p) {
      const uint64_t max_lost = (p - pos) / kHeaderBytes;
      if (consistent(p, expected, std::min(expected + max_lost + 1, limit), &found_header) &&
          crc_ok(p, found_header)) {
        found = p;
        break;
      }
    }
    if (found == kMissing) break;
    for (; expected < found_header.offset; ++expected) {
      positions.push_back(kMissing);
      ++corrupt;
    }
    pos = found;  // taken by rule 1 on the next turn
  }
  ::munmap(map, n);

  if (!last) {
    // Offsets below the next segment's base that this one does not hold are lost too.
    if (limit > expected) corrupt += limit - expected;
    recovery->corrupt_records += corrupt;
    seg->size = n;
    return Status::Ok();
  }
  positions.resize(valid_positions);
  recovery->corrupt_records += valid_corrupt;
  seg->size = valid_end;
  if (valid_end < n) {
    recovery->truncated_bytes += n - valid_end;
    if (::ftruncate(seg->fd, static_cast<off_t>(valid_end)) != 0) {
      return Status::IoError("truncate " + seg->path.string(), errno);
    }
    if (::fdatasync(seg->fd) != 0) return Status::IoError("fdatasync " + seg->path.string(), errno);
  }
  return Status::Ok();
}

Status Partition::Impl::CreateSegment(uint64_t base) {
  const std::filesystem::path path = options.dir / SegmentName(base);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("create " + path.string(), errno);
  auto seg = std::make_shared<Segment>(base, path, fd);
  {
    WriterMutexLock lock(&mu);
    segments.push_back(std::move(seg));
  }
  dir_dirty = true;
  return Status::Ok();
}

Result<uint64_t> Partition::Append(std::string_view bytes) { return impl_->Append(&bytes, 1); }

Result<uint64_t> Partition::AppendBatch(const std::vector<std::string_view>& records) {
  return impl_->Append(records.data(), records.size());
}

Result<uint64_t> Partition::Impl::Append(const std::string_view* records, size_t count) {
  if (!broken.ok()) return broken;
  // Validate the whole batch first, so an invalid record appends nothing.
  for (size_t i = 0; i < count; ++i) {
    if (records[i].size() > options.max_record_bytes) {
      return Status::InvalidArgument("record of " + std::to_string(records[i].size()) +
                                     " bytes exceeds max_record_bytes " +
                                     std::to_string(options.max_record_bytes));
    }
  }
  const uint64_t first = next_offset.load(std::memory_order_relaxed);
  size_t i = 0;
  while (i < count) {
    Segment* seg = WriterSegments().back().get();
    // Roll before a record that would take a non-empty segment past segment_bytes; a record bigger
    // than a segment gets a segment of its own.
    if (seg->size > 0 && seg->size + kHeaderBytes + records[i].size() > options.segment_bytes) {
      if (active_dirty) unsynced.push_back(WriterSegments().back());
      active_dirty = false;
      HW_RETURN_IF_ERROR(CreateSegment(next_offset.load(std::memory_order_relaxed)));
      seg = WriterSegments().back().get();
    }
    // As many of the following records as fit in this segment (at least one) go in one chunk.
    size_t j = i;
    uint64_t chunk_bytes = 0;
    do {
      chunk_bytes += kHeaderBytes + records[j].size();
      ++j;
    } while (j < count &&
             seg->size + chunk_bytes + kHeaderBytes + records[j].size() <= options.segment_bytes);
    // On error, the chunks before this one stay appended: next_offset() tells how far it got.
    HW_RETURN_IF_ERROR(WriteChunk(seg, records + i, j - i));
    i = j;
  }
  return first;
}

Status Partition::Impl::WriteChunk(Segment* seg, const std::string_view* records, size_t count) {
  const uint64_t first = next_offset.load(std::memory_order_relaxed);
  if (headers.size() < count) headers.resize(count);
  iov.clear();
  for (size_t k = 0; k < count; ++k) {
    EncodeHeader(headers[k].data(), records[k], first + k);
    iov.push_back({headers[k].data(), kHeaderBytes});
    iov.push_back({const_cast<char*>(records[k].data()), records[k].size()});
  }
  Status written;
  for (size_t done = 0; done < iov.size() && written.ok();) {
    const size_t n = std::min(kMaxIov, iov.size() - done);
    written = WriteAllV(seg->fd, iov.data() + done, n, seg->path);
    done += n;
  }
  if (!written.ok()) {
    // Cut the partial chunk so the file ends on a whole record again; none of it was published.
    if (::ftruncate(seg->fd, static_cast<off_t>(seg->size)) != 0) {
      broken = Status::IoError("truncate " + seg->path.string() + " after a failed append", errno)
                   .WithContext("partition needs reopening");
    }
    return written;
  }

  uint64_t pos = seg->size;
  {
    WriterMutexLock lock(&mu);
    for (size_t k = 0; k < count; ++k) {
      seg->positions.push_back(pos);
      pos += kHeaderBytes + records[k].size();
    }
    total_bytes.fetch_add(pos - seg->size, std::memory_order_relaxed);
    seg->size = pos;
    seg->records += count;
  }
  next_offset.store(first + count, std::memory_order_release);
  active_dirty = true;
  return Status::Ok();
}

Status Partition::Sync() { return impl_->Sync(); }

Status Partition::Impl::Sync() {
  while (!unsynced.empty()) {
    const Segment& seg = *unsynced.back();
    if (::fdatasync(seg.fd) != 0) return Status::IoError("fdatasync " + seg.path.string(), errno);
    unsynced.pop_back();
  }
  if (active_dirty) {
    const Segment& seg = *WriterSegments().back();
    if (::fdatasync(seg.fd) != 0) return Status::IoError("fdatasync " + seg.path.string(), errno);
    active_dirty = false;
  }
  if (dir_dirty) {
    if (::fsync(dir_fd) != 0) return Status::IoError("fsync " + dir, errno);
    dir_dirty = false;
  }
  return Status::Ok();
}

Result<uint64_t> Partition::ApplyRetention(std::chrono::system_clock::time_point now) {
  return impl_->ApplyRetention(now);
}

// Only a prefix of the segments goes (oldest first, stopping at the first one that is neither over
// the byte budget nor too old), so the kept records stay one contiguous range from first_offset().
Result<uint64_t> Partition::Impl::ApplyRetention(std::chrono::system_clock::time_point now) {
  const auto oldest_kept = now - options.retention_age;
  uint64_t removed = 0;
  while (WriterSegments().size() > 1) {  // the active segment is never removed
    const std::shared_ptr<Segment> seg = WriterSegments().front();
    bool remove = total_bytes.load(std::memory_order_relaxed) > options.retention_bytes;
    if (!remove) {
      // The mtime is the time of the segment's last write, hence of its newest record.
      struct stat st {};
      if (::fstat(seg->fd, &st) != 0) return Status::IoError("stat " + seg->path.string(), errno);
      remove = ToTimePoint(st.st_mtim) < oldest_kept;
    }
    if (!remove) break;
    // Readers that already hold the segment keep reading through its fd.
    if (::unlink(seg->path.c_str()) != 0 && errno != ENOENT) {
      return Status::IoError("remove " + seg->path.string(), errno);
    }
    {
      // Under the same lock as the segment list, so a reader that saw the new list never sees the
      // old first_offset().
      WriterMutexLock lock(&mu);
      segments.erase(segments.begin());
      first_offset.store(segments.front()->base, std::memory_order_release);
    }
    total_bytes.fetch_sub(seg->size, std::memory_order_relaxed);
    unsynced.erase(std::remove(unsynced.begin(), unsynced.end(), seg), unsynced.end());
    removed += seg->records;
    dir_dirty = true;
  }
  return removed;
}

Status Partition::Read(uint64_t from, size_t max_records, size_t max_bytes,
                       const std::function<bool(uint64_t offset, std::string_view bytes)>& fn,
                       uint64_t* resume_at) const {
  uint64_t ignored = 0;
  return impl_->Read(from, max_records, max_bytes, fn, resume_at != nullptr ? resume_at : &ignored);
}

// Each turn picks, under the shared lock, a run of indexed records in one segment (bounded by the
// remaining limits and kMaxReadChunkBytes), then preads it in one call and delivers it unlocked.
Status Partition::Impl::Read(uint64_t from, size_t max_records, size_t max_bytes,
                             const std::function<bool(uint64_t, std::string_view)>& fn,
                             uint64_t* resume_at) const {
  size_t delivered = 0;
  uint64_t delivered_bytes = 0;
  uint64_t next = from;
  *resume_at = from;
  std::vector<uint64_t> slice;  // positions of offsets slice_base, slice_base + 1, ...
  std::unique_ptr<char[]> buf;
  uint64_t buf_size = 0;
  while (delivered < max_records) {
    std::shared_ptr<Segment> seg;
    uint64_t slice_base = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    slice.clear();
    {
      ReaderMutexLock lock(&mu);
      // Retention removed what this call was about to read: stop here rather than jump, so the
      // caller sees `next` fall below first_offset() on its next call and counts the skip (a
      // consumer group must never lose records silently). Only the first turn may start above
      // `from`, as the contract says.
      if (delivered > 0 && segments.front()->base > next) {
        *resume_at = next;
        return Status::Ok();
      }
      next = std::max(next, segments.front()->base);
      auto it = std::upper_bound(
          segments.begin(), segments.end(), next,
          [](uint64_t offset, const std::shared_ptr<Segment>& s) { return offset < s->base; });
      --it;  // the segment holding next: the last whose base <= next
      // The first indexed record at or after next, possibly in a later segment.
      uint64_t idx = next - (*it)->base;
      for (;;) {
        const std::vector<uint64_t>& positions = (*it)->positions;
        while (idx < positions.size() && positions[idx] == kMissing) ++idx;
        if (idx < positions.size()) break;
        if (++it == segments.end()) {  // caught up
          *resume_at = std::max(next, segments.back()->base + segments.back()->positions.size());
          return Status::Ok();
        }
        idx = 0;
      }
      seg = *it;
      const std::vector<uint64_t>& positions = seg->positions;
      slice_base = seg->base + idx;
      start = positions[idx];
      // Sizes from the index include headers, so the run may stop a little short of max_bytes; the
      // next turn continues with it.
      const uint64_t budget = std::min<uint64_t>(max_bytes - delivered_bytes, kMaxReadChunkBytes);
      size_t present = 0;
      size_t k = idx;
      for (; k < positions.size() && present < max_records - delivered; ++k) {
        if (positions[k] == kMissing) {
          slice.push_back(kMissing);
          continue;
        }
        if (present > 0 && positions[k] - start >= budget) break;
        slice.push_back(positions[k]);
        ++present;
      }
      while (k < positions.size() && positions[k] == kMissing) ++k;
      end = k < positions.size() ? positions[k] : seg->size;
    }

    const uint64_t len = end - start;
    if (len > buf_size) {
      buf.reset(new char[len]);
      buf_size = len;
    }
    HW_RETURN_IF_ERROR(PreadAll(seg->fd, buf.get(), len, start, seg->path));
    for (size_t k = 0; k < slice.size(); ++k) {
      if (slice[k] == kMissing) continue;
      const uint64_t offset = slice_base + k;
      const uint64_t at = slice[k] - start;
      Header h{};
      if (len - at >= kHeaderBytes) h = DecodeHeader(buf.get() + at);
      // Verified at Open or written by us: a mismatch means the file changed underneath.
      if (len - at < kHeaderBytes || h.offset != offset || h.length > len - at - kHeaderBytes ||
          spool::Crc32c(buf.get() + at + kHeaderBytes, size_t{h.length}) != h.crc) {
        return Status::DataLoss(seg->path.string() + ": record " + std::to_string(offset) +
                                " at byte " + std::to_string(slice[k]) +
                                " no longer matches the index");
      }
      *resume_at = offset + 1;
      if (!fn(offset, std::string_view(buf.get() + at + kHeaderBytes, h.length))) {
        return Status::Ok();
      }
      ++delivered;
      delivered_bytes += h.length;
      if (delivered >= max_records || delivered_bytes >= max_bytes) return Status::Ok();
    }
    next = slice_base + slice.size();
    *resume_at = next;
  }
  return Status::Ok();
}

uint64_t Partition::first_offset() const {
  return impl_->first_offset.load(std::memory_order_acquire);
}
uint64_t Partition::next_offset() const {
  return impl_->next_offset.load(std::memory_order_acquire);
}
uint64_t Partition::bytes() const { return impl_->total_bytes.load(std::memory_order_relaxed); }
uint32_t Partition::segments() const {
  ReaderMutexLock lock(&impl_->mu);
  return static_cast<uint32_t>(impl_->segments.size());
}

}  // namespace hw::broker
