// Spool implementation. The durability model, since it decides where the fsyncs are:
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
// all segments are gone. The directory is flock()ed so that two processes cannot share a spool.
#include "common/spool/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include "common/spool/atomic_file.h"
#include "common/spool/crc32c.h"
#include "common/spool/file_io.h"

namespace hw::spool {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kHeaderBytes = 8;             // [u32 length][u32 crc32c]
constexpr uint64_t kAbsent = 1ull << 63;         // flag in Segment::offsets: the slot's CRC failed
constexpr size_t kScanChunkBytes = 1 << 20;      // recovery reads segments in chunks this big
constexpr uint64_t kReadBatchBytes = 256 << 10;  // Read fetches runs of records up to this size
constexpr char kMetaName[] = "meta";
constexpr char kMetaTmpName[] = "meta.tmp";  // WriteFileAtomic's temp name for kMetaName
constexpr char kReleasedName[] = "released";
constexpr size_t kReleasedBytes = 12;

// "<first index, 20 digits>.seg" without allocating: segments roll on the append path.
struct SegmentName {
  explicit SegmentName(uint64_t first) {
    std::snprintf(str, sizeof str, "%020llu.seg", static_cast<unsigned long long>(first));
  }
  char str[32];
};

// Index 0 is never a record (indexes start at 1), so a "0….seg" file is not ours either.
bool ParseSegmentName(const std::string& name, uint64_t* first) {
  if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, name[i] - '0', &v)) {
      return false;
    }
  }
  *first = v;
  return v != 0;
}

}  // namespace

struct Spool::Impl {
  struct Segment {
    uint64_t first = 0;             // index of slot 0, the file name
    std::vector<uint64_t> offsets;  // per slot: file offset of its header, | kAbsent if corrupt
    uint64_t end = 0;               // end of the last slot's record (== file size when active)
    uint64_t file_bytes = 0;        // on disk; a sealed segment's unparseable tail is included
    bool synced = true;             // false: written since the last Sync()

    uint64_t next() const { return first + offsets.size(); }
    uint64_t Offset(size_t slot) const { return offsets[slot] & ~kAbsent; }
    bool Present(size_t slot) const { return (offsets[slot] & kAbsent) == 0; }
    uint64_t RecordEnd(size_t slot) const {
      return slot + 1 < offsets.size() ? Offset(slot + 1) : end;
    }
  };

  SpoolOptions options;
  UniqueFd dir_fd;
  UniqueFd released_fd;
  UniqueFd active_fd;            // segments.back(), O_APPEND
  UniqueFd read_fd;              // one cached fd on a sealed segment, for Read
  uint64_t read_fd_first = 0;    // which segment read_fd is on
  std::deque<Segment> segments;  // oldest first; back() is the active one; never empty after Open
  uint64_t next_index = 1;
  uint64_t released = 0;  // Release watermark: indexes <= released are never read again
  SpoolStats stats;
  bool dir_dirty = false;       // segment files created or removed since the last Sync()
  bool released_dirty = false;  // watermark rewritten since the last Sync()
  bool must_roll = false;       // the active segment ends in a torn record we could not cut
  std::string buf;              // scan and read buffer, reused so reads do not allocate

  std::string PathOf(const char* name) const { return (options.dir / name).string(); }

  // Present records with index in [lo, hi] within s: how many, and their bytes with headers.
  static void CountPresent(const Segment& s, uint64_t lo, uint64_t hi, uint64_t* records,
                           uint64_t* bytes) {
    lo = std::max(lo, s.first);
    hi = std::min(hi, s.next() - 1);
    for (uint64_t i = lo; i <= hi; ++i) {
      size_t slot = i - s.first;
      if (!s.Present(slot)) continue;
      ++*records;
      *bytes += s.RecordEnd(slot) - s.Offset(slot);
    }
  }

  Status LoadReleased() {
    released_fd.Reset(::openat(dir_fd.get(), kReleasedName, O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!released_fd.valid()) return Status::IoError("open " + PathOf(kReleasedName), errno);
    char b[kReleasedBytes];
    size_t got = 0;
    if (int err = PreadFull(released_fd.get(), b, sizeof b, 0, &got); err != 0) {
      return Status::IoError("read " + PathOf(kReleasedName), err);
    }
    // Missing or torn: start from 0, i.e. resend whatever is still on disk.
    if (got == sizeof b && Crc32c(std::string_view(b, 8)) == GetFixed32(b + 8))
      released = GetFixed64(b);
    return Status::Ok();
  }

  Status StoreReleased() {
    char b[kReleasedBytes];
    PutFixed64(b, released);
    PutFixed32(b + 8, Crc32c(std::string_view(b, 8)));
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

  // Makes [pos, pos + n) of the file available in buf; the caller checked it is inside the file.
  Status Fill(int fd, uint64_t pos, uint64_t n, uint64_t file_size, uint64_t* buf_start,
              uint64_t* buf_len, const std::string& what) {
    if (pos >= *buf_start && pos + n <= *buf_start + *buf_len) return Status::Ok();
    size_t want = std::max<size_t>(kScanChunkBytes, n);
    want = static_cast<size_t>(std::min<uint64_t>(want, file_size - pos));
    if (buf.size() < want) buf.resize(want);
    size_t got = 0;
    if (int err = PreadFull(fd, buf.data(), want, pos, &got); err != 0) {
      return Status::IoError("read " + what, err);
    }
    if (got < n) return Status::DataLoss(what + " shrank while being read");
    *buf_start = pos;
    *buf_len = got;
    return Status::Ok();
  }

  // Parses s's records into s->offsets, at most max_slots of them, and sets s->end to where the
  // parse stopped: before a torn or implausible header, or at the end of the file.
  Status Scan(int fd, uint64_t file_size, uint64_t max_slots, Segment* s, const std::string& what) {
    uint64_t pos = 0;
    uint64_t buf_start = 0;
    uint64_t buf_len = 0;
    while (pos < file_size && s->offsets.size() < max_slots) {
      if (file_size - pos < kHeaderBytes) break;
      HW_RETURN_IF_ERROR(Fill(fd, pos, kHeaderBytes, file_size, &buf_start, &buf_len, what));
      const char* h = buf.data() + (pos - buf_start);
      uint32_t len = GetFixed32(h);
      uint32_t crc = GetFixed32(h + 4);
      if (len > options.max_record_bytes || len > file_size - pos - kHeaderBytes) break;
      HW_RETURN_IF_ERROR(Fill(fd, pos, kHeaderBytes + len, file_size, &buf_start, &buf_len, what));
      const char* payload = buf.data() + (pos - buf_start) + kHeaderBytes;
      if (Crc32c(std::string_view(payload, len)) == crc) {
        s->offsets.push_back(pos);
      } else {
        // The length looked right, so the next record most likely starts after this one.
        s->offsets.push_back(pos | kAbsent);
        ++stats.corrupt_records;
      }
      pos += kHeaderBytes + len;
    }
    s->end = pos;
    return Status::Ok();
  }

  Status Recover() {
    HW_RETURN_IF_ERROR(LoadReleased());
    // A meta.tmp left by a crash inside WriteMeta is an unfinished replacement: meta still holds
    // the last complete one.
    ::unlinkat(dir_fd.get(), kMetaTmpName, 0);

    std::vector<uint64_t> firsts;
    std::error_code ec;
    for (fs::directory_iterator it(options.dir, ec), end; !ec && it != end; it.increment(ec)) {
      uint64_t first = 0;
      if (ParseSegmentName(it->path().filename().string(), &first)) firsts.push_back(first);
    }
    if (ec) return Status::IoError("list " + options.dir.string(), ec.value());
    std::sort(firsts.begin(), firsts.end());

    for (size_t i = 0; i < firsts.size(); ++i) {
      const bool last = i + 1 == firsts.size();
      SegmentName name(firsts[i]);
      const std::string what = PathOf(name.str);
      UniqueFd fd(
          ::openat(dir_fd.get(), name.str, (last ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC));
      if (!fd.valid()) return Status::IoError("open " + what, errno);
      struct stat st;
      if (::fstat(fd.get(), &st) != 0) return Status::IoError("stat " + what, errno);
      const auto size = static_cast<uint64_t>(st.st_size);

      Segment s;
      s.first = firsts[i];
      // A sealed segment cannot hold more slots than the next file name leaves room for.
      const uint64_t max_slots =
          last ? std::numeric_limits<uint64_t>::max() : firsts[i + 1] - firsts[i];
      HW_RETURN_IF_ERROR(Scan(fd.get(), size, max_slots, &s, what));
      s.file_bytes = size;
      if (s.end < size) {
        if (last) {
          // A torn tail: the crash hit an append. Cut it so the next append starts clean.
          if (::ftruncate(fd.get(), static_cast<off_t>(s.end)) != 0) {
            return Status::IoError("truncate " + what, errno);
          }
          stats.truncated_bytes += size - s.end;
          s.file_bytes = s.end;
        } else {
          // Sealed segments are left as they are; the next file name still gives the indexes.
          ++stats.corrupt_records;
        }
      }
      uint64_t live_bytes = 0;
      CountPresent(s, released + 1, s.next() - 1, &stats.records, &live_bytes);
      stats.bytes += s.file_bytes;
      if (last) active_fd = std::move(fd);
      segments.push_back(std::move(s));
    }
    if (buf.size() > 4 * kScanChunkBytes) std::string().swap(buf);

    next_index = segments.empty() ? 1 : segments.back().next();
    // The watermark can be ahead of the files (data lost with power, or all of it released):
    // indexes <= released were handed out already and must not come back.
    if (segments.empty() || next_index <= released) {
      next_index = std::max(next_index, released + 1);
      HW_RETURN_IF_ERROR(Roll());
    }
    return RemoveReleasedSegments();
  }

  // Seals the active segment and starts "<next_index>.seg".
  Status Roll() {
    SegmentName name(next_index);
    UniqueFd fd(
        ::openat(dir_fd.get(), name.str, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644));
    if (!fd.valid()) return Status::IoError("create " + PathOf(name.str), errno);
    active_fd = std::move(fd);
    Segment s;
    s.first = next_index;
    segments.push_back(std::move(s));
    dir_dirty = true;
    must_roll = false;
    if (options.fsync_each_append && ::fsync(dir_fd.get()) != 0) {
      return Status::IoError("fsync " + options.dir.string(), errno);
    }
    if (options.fsync_each_append) dir_dirty = false;
    // A sealed segment that is fully released need not wait for the next Release.
    return RemoveReleasedSegments();
  }

  // Deletes the oldest segment (never the active one). dropping: it goes because the spool is
  // full, so its unreleased records are counted as dropped.
  Status RemoveOldest(bool dropping) {
    Segment& s = segments.front();
    uint64_t live = 0;
    uint64_t live_bytes = 0;
    if (released + 1 < s.next()) CountPresent(s, released + 1, s.next() - 1, &live, &live_bytes);
    SegmentName name(s.first);
    if (::unlinkat(dir_fd.get(), name.str, 0) != 0 && errno != ENOENT) {
      return Status::IoError("remove " + PathOf(name.str), errno);
    }
    if (dropping) {
      stats.dropped_records += live;
      stats.dropped_bytes += live_bytes;
    }
    stats.records -= live;
    stats.bytes -= s.file_bytes;
    if (read_fd_first == s.first) read_fd.Reset();
    segments.pop_front();
    dir_dirty = true;
    return Status::Ok();
  }

  Status RemoveReleasedSegments() {
    while (segments.size() > 1 && segments.front().next() - 1 <= released) {
      HW_RETURN_IF_ERROR(RemoveOldest(/*dropping=*/false));
    }
    return Status::Ok();
  }

  // Drops oldest segments until a record of rec_bytes fits under max_bytes.
  Status MakeRoom(uint64_t rec_bytes) {
    while (stats.bytes + rec_bytes > options.max_bytes) {
      if (segments.size() > 1) {
        HW_RETURN_IF_ERROR(RemoveOldest(/*dropping=*/true));
      } else if (!segments.back().offsets.empty()) {
        // Only the active segment is left and it is too big: seal it so that it can go.
        HW_RETURN_IF_ERROR(Roll());
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
    const uint64_t rec_bytes = kHeaderBytes + bytes.size();
    if (rec_bytes > options.max_bytes) {
      return Status::InvalidArgument("spool record of " + std::to_string(bytes.size()) +
                                     " bytes cannot fit in max_bytes " +
                                     std::to_string(options.max_bytes));
    }
    if (must_roll ||
        (segments.back().end > 0 && segments.back().end + rec_bytes > options.segment_bytes)) {
      HW_RETURN_IF_ERROR(Roll());
    }
    HW_RETURN_IF_ERROR(MakeRoom(rec_bytes));

    Segment& s = segments.back();
    char header[kHeaderBytes];
    PutFixed32(header, static_cast<uint32_t>(bytes.size()));
    PutFixed32(header + 4, Crc32c(bytes));
    iovec iov[2] = {{header, sizeof header}, {const_cast<char*>(bytes.data()), bytes.size()}};
    uint64_t written = 0;
    if (int err = WritevFull(active_fd.get(), iov, 2, &written); err != 0) {
      if (written > 0 && ::ftruncate(active_fd.get(), static_cast<off_t>(s.end)) != 0) {
        // The partial record stays. Give it a slot (absent) so its index is not reused, and put
        // the next record in a fresh segment: appending after a torn record would misparse.
        s.offsets.push_back(s.end | kAbsent);
        s.end += written;
        s.file_bytes += written;
        stats.bytes += written;
        ++next_index;
        must_roll = true;
      }
      return Status::IoError("write " + PathOf(SegmentName(s.first).str), err);
    }
    s.offsets.push_back(s.end);
    s.end += rec_bytes;
    s.file_bytes += rec_bytes;
    s.synced = false;
    stats.bytes += rec_bytes;
    ++stats.records;
    const uint64_t index = next_index++;
    if (options.fsync_each_append) {
      if (::fdatasync(active_fd.get()) != 0) {
        return Status::IoError("fdatasync " + PathOf(SegmentName(s.first).str), errno);
      }
      s.synced = true;
    }
    return index;
  }

  Status Release(uint64_t upto) {
    upto = std::min(upto, next_index - 1);  // acking the future would hide later appends
    if (upto <= released) return Status::Ok();
    uint64_t gone = 0;
    uint64_t gone_bytes = 0;
    for (const Segment& s : segments) {
      if (s.first > upto) break;
      if (s.next() > released + 1) CountPresent(s, released + 1, upto, &gone, &gone_bytes);
    }
    stats.records -= gone;
    released = upto;
    // Watermark first: should we die between the two, the segments are deleted at the next Open.
    HW_RETURN_IF_ERROR(StoreReleased());
    return RemoveReleasedSegments();
  }

  // An fd to read segment s from (the active fd, or the cached one for a sealed segment).
  Result<int> ReadFd(const Segment& s) {
    if (&s == &segments.back()) return active_fd.get();
    if (!read_fd.valid() || read_fd_first != s.first) {
      SegmentName name(s.first);
      read_fd.Reset(::openat(dir_fd.get(), name.str, O_RDONLY | O_CLOEXEC));
      if (!read_fd.valid()) return Status::IoError("open " + PathOf(name.str), errno);
      read_fd_first = s.first;
    }
    return read_fd.get();
  }

  Status Read(uint64_t from, size_t max_records,
              const std::function<bool(uint64_t, std::string_view)>& fn) {
    uint64_t index = std::max(from, released + 1);
    // The segment holding index: the last one whose first index is <= index.
    auto it = std::upper_bound(segments.begin(), segments.end(), index,
                               [](uint64_t i, const Segment& s) { return i < s.first; });
    if (it != segments.begin()) --it;
    size_t delivered = 0;
    for (; it != segments.end() && delivered < max_records; ++it) {
      Segment& s = *it;
      size_t slot = index > s.first ? index - s.first : 0;
      const size_t slots = s.offsets.size();
      if (slot >= slots) continue;
      HW_ASSIGN_OR_RETURN(int fd, ReadFd(s));
      while (slot < slots && delivered < max_records) {
        while (slot < slots && !s.Present(slot)) ++slot;
        if (slot == slots) break;
        // One pread for a run of records: [slot, stop) within kReadBatchBytes (at least one).
        const uint64_t begin = s.Offset(slot);
        size_t stop = slot + 1;
        size_t wanted = 1;
        while (stop < slots && wanted < max_records - delivered &&
               s.RecordEnd(stop) - begin <= kReadBatchBytes) {
          wanted += s.Present(stop) ? 1 : 0;
          ++stop;
        }
        const uint64_t span = s.RecordEnd(stop - 1) - begin;
        if (buf.size() < span) buf.resize(span);
        size_t got = 0;
        if (int err = PreadFull(fd, buf.data(), span, begin, &got); err != 0) {
          return Status::IoError("read " + PathOf(SegmentName(s.first).str), err);
        }
        if (got < span) {
          return Status::DataLoss(PathOf(SegmentName(s.first).str) +
                                  " is shorter than when the spool was opened");
        }
        for (size_t i = slot; i < stop; ++i) {
          if (!s.Present(i)) continue;
          const char* h = buf.data() + (s.Offset(i) - begin);
          const uint64_t len = s.RecordEnd(i) - s.Offset(i) - kHeaderBytes;
          std::string_view payload(h + kHeaderBytes, len);
          if (GetFixed32(h) != len || GetFixed32(h + 4) != Crc32c(payload)) {
            // Went bad on disk after Open: skip and count it like a corrupt record at Open.
            s.offsets[i] |= kAbsent;
            ++stats.corrupt_records;
            --stats.records;
            continue;
          }
          ++delivered;
          if (!fn(s.first + i, payload) || delivered == max_records) return Status::Ok();
        }
        slot = stop;
      }
    }
    return Status::Ok();
  }

  uint64_t FirstIndex() const {
    for (const Segment& s : segments) {
      for (uint64_t i = std::max(s.first, released + 1); i < s.next(); ++i) {
        if (s.Present(i - s.first)) return i;
      }
    }
    return next_index;
  }

  Result<Spool::SyncBatch> TakeSyncBatch() {
    Spool::SyncBatch batch;
    auto add = [&](int fd, std::string path, bool data_only) -> Status {
      // A duplicate: the segment may be sealed (its fd closed) before the batch runs.
      UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
      if (!dup.valid()) return Status::IoError("dup " + path, errno);
      batch.files_.push_back({std::move(dup), std::move(path), data_only});
      return Status::Ok();
    };
    for (Segment& s : segments) {
      if (s.synced) continue;
      SegmentName name(s.first);
      if (&s == &segments.back()) {
        HW_RETURN_IF_ERROR(add(active_fd.get(), PathOf(name.str), true));
      } else {
        UniqueFd fd(::openat(dir_fd.get(), name.str, O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) return Status::IoError("open " + PathOf(name.str), errno);
        batch.files_.push_back({std::move(fd), PathOf(name.str), true});
      }
      s.synced = true;
    }
    if (released_dirty) {
      HW_RETURN_IF_ERROR(add(released_fd.get(), PathOf(kReleasedName), true));
      released_dirty = false;
    }
    if (dir_dirty) {
      HW_RETURN_IF_ERROR(add(dir_fd.get(), options.dir.string(), false));
      dir_dirty = false;
    }
    return batch;
  }

  void MarkUnsynced() {
    for (Segment& s : segments) s.synced = false;
    released_dirty = true;
    dir_dirty = true;
  }

  Result<std::string> ReadMeta() const {
    Result<std::string> meta = ReadWholeFile(options.dir / kMetaName);
    if (!meta.ok() && meta.status().code() == StatusCode::kNotFound) return std::string();
    return meta;
  }

  // meta.tmp, fsync, rename over meta, fsync the directory: a crash leaves the old or the new.
  Status WriteMeta(std::string_view bytes) {
    return WriteFileAtomic(options.dir / kMetaName, bytes);
  }
};

Result<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("spool: dir is empty");
  if (options.max_bytes < kHeaderBytes) {
    return Status::InvalidArgument("spool: max_bytes must be at least " +
                                   std::to_string(kHeaderBytes));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::IoError("create " + options.dir.string(), ec.value());
  impl->dir_fd.Reset(::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->dir_fd.valid()) return Status::IoError("open " + options.dir.string(), errno);
  if (::flock(impl->dir_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::FailedPrecondition("spool " + options.dir.string() +
                                        " is in use by another Spool");
    }
    return Status::IoError("lock " + options.dir.string(), errno);
  }
  Status recovered = impl->Recover();
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
uint64_t Spool::first_index() const { return impl_->FirstIndex(); }
uint64_t Spool::next_index() const { return impl_->next_index; }
SpoolStats Spool::stats() const { return impl_->stats; }
Status Spool::Sync() {
  Result<SyncBatch> batch = impl_->TakeSyncBatch();
  if (!batch.ok()) return batch.status();
  Status st = batch->Run();
  if (!st.ok()) impl_->MarkUnsynced();  // not known to be on disk: the next Sync tries again
  return st;
}
Result<Spool::SyncBatch> Spool::TakeSyncBatch() { return impl_->TakeSyncBatch(); }
void Spool::MarkUnsynced() { impl_->MarkUnsynced(); }

Status Spool::SyncBatch::Run() {
  for (const File& f : files_) {
    if ((f.data_only ? ::fdatasync(f.fd.get()) : ::fsync(f.fd.get())) != 0) {
      return Status::IoError((f.data_only ? "fdatasync " : "fsync ") + f.path, errno);
    }
  }
  return Status::Ok();
}
Result<std::string> Spool::ReadMeta() const { return impl_->ReadMeta(); }
Status Spool::WriteMeta(std::string_view bytes) { return impl_->WriteMeta(bytes); }

}  // namespace hw::spool
