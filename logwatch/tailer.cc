#include "logwatch/tailer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/daemon/logging.h"
#include "common/strings/fnv1a.h"

namespace hw::logwatch {
namespace {

namespace fs = std::filesystem;

// One pread. Larger than any line we deliver (max_line_bytes is at most 64 KiB), and small enough
// that the events one chunk produces stay far below the broker's 4 MiB message limit.
constexpr size_t kChunkBytes = 256 << 10;

// File fingerprints are kept in the offsets file: FNV-1a with FNV's own basis, as before.
uint64_t Fnv1a(const char* p, size_t n) { return strings::Fnv1a64(std::string_view(p, n)); }

ssize_t PreadAll(int fd, char* buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

// "<path>: <call>: <strerror>"; errno is read first, before building the message can change it.
Status IoErrorOf(const std::string& path, const char* call) {
  const int err = errno;
  return Status::IoError(path + ": " + call, err);
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::vector<std::string> Expand(const std::string& pattern) {
  if (!HasGlob(pattern)) return {pattern};
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

int OpenRead(const std::string& path) { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }

// The file in path's directory with this (dev, ino) and fingerprint: a rotated file we were
// following when we stopped. -1 when gone (deleted or compressed meanwhile).
int FindByIdentity(const FileState& st) {
  std::error_code ec;
  const fs::path dir = fs::path(st.path).parent_path();
  for (fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat sb;
    if (::stat(it->path().c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (sb.st_dev != st.dev || sb.st_ino != st.ino) continue;
    int fd = OpenRead(it->path());
    if (fd < 0) continue;
    uint32_t len = 0;
    uint64_t hash = 0;
    if (Fingerprint(fd, static_cast<uint64_t>(sb.st_size), &len, &hash).ok() && len >= st.fp_len) {
      // Compare on the stored length: the file may have grown since.
      std::string head(st.fp_len, '\0');
      if (PreadAll(fd, head.data(), st.fp_len, 0) == static_cast<ssize_t>(st.fp_len) &&
          Fnv1a(head.data(), head.size()) == st.fp_hash) {
        return fd;
      }
    }
    ::close(fd);
  }
  return -1;
}

}  // namespace

Status Fingerprint(int fd, uint64_t size, uint32_t* len, uint64_t* hash) {
  char buf[kFingerprintBytes];
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size, kFingerprintBytes));
  const ssize_t got = PreadAll(fd, buf, want, 0);
  if (got < 0) return Status::IoError("read the first bytes", errno);
  *len = static_cast<uint32_t>(got);
  *hash = Fnv1a(buf, static_cast<size_t>(got));
  return Status::Ok();
}

Tailer::Tailer(std::vector<WatchSpec> specs, uint64_t max_line_bytes,
               std::chrono::milliseconds rotate_wait, LineHandler* handler, const Clock* clock)
    : specs_(std::move(specs)),
      max_line_bytes_(max_line_bytes),
      rotate_wait_(rotate_wait),
      handler_(handler),
      clock_(clock != nullptr ? *clock : RealClock()) {}

Tailer::~Tailer() = default;

void Tailer::Init() {
  inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_.valid()) {
    spdlog::warn("inotify unavailable ({}); following files by stat every poll",
                 std::strerror(errno));
  }
}

void Tailer::Watch(const std::string& dir) {
  if (!inotify_.valid() || watches_.count(dir)) return;
  const int wd = ::inotify_add_watch(
      inotify_.get(), dir.c_str(),
      IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB);
  if (wd >= 0) watches_[dir] = wd;
}

Result<TailedFile*> Tailer::Open(const std::string& path, size_t spec, int fd, uint64_t offset,
                                 bool draining) {
  io::UniqueFd owned(fd);
  struct stat sb;
  if (::fstat(fd, &sb) != 0) return IoErrorOf(path, "fstat");
  auto f = std::make_unique<TailedFile>();
  f->id = next_id_++;
  f->fd = std::move(owned);
  f->spec = spec;
  f->state.path = path;
  f->state.dev = sb.st_dev;
  f->state.ino = sb.st_ino;
  f->size = static_cast<uint64_t>(sb.st_size);
  f->state.offset = std::min(offset, f->size);
  f->unchecked_offset = f->state.offset;
  f->state.draining = draining;
  f->last_growth_ms = clock_.MonoMs();
  // Unreadable now: the first read reports it; meanwhile an empty fingerprint matches any content.
  if (!Fingerprint(fd, f->size, &f->state.fp_len, &f->state.fp_hash).ok()) {
    f->state.fp_len = 0;
    f->state.fp_hash = Fnv1a(nullptr, 0);
  }
  known_paths_.insert(path);
  Watch(fs::path(path).parent_path().string());
  TailedFile* raw = f.get();
  files_.push_back(std::move(f));
  handler_->OnOpen(*raw);
  return raw;
}

void Tailer::Restore(const std::vector<FileState>& saved,
                     const std::function<void(TailedFile&, const FileState&)>& restored) {
  for (const FileState& st : saved) {
    size_t spec = specs_.size();
    for (size_t i = 0; i < specs_.size() && spec == specs_.size(); ++i) {
      for (const std::string& p : Expand(specs_[i].pattern)) {
        if (p == st.path) spec = i;
      }
      if (!HasGlob(specs_[i].pattern) && specs_[i].pattern == st.path) spec = i;
    }
    if (spec == specs_.size()) {
      // A file the new config no longer watches, unless a glob still matches a rotated name.
      for (size_t i = 0; i < specs_.size(); ++i) {
        if (::fnmatch(specs_[i].pattern.c_str(), st.path.c_str(), 0) == 0) spec = i;
      }
      if (spec == specs_.size()) continue;
    }
    known_paths_.insert(st.path);
    const int fd = FindByIdentity(st);
    if (fd < 0) {
      spdlog::warn(
          "{}: the file followed before the restart (inode {}) is gone; what it held "
          "after offset {} is lost",
          st.path, st.ino, st.offset);
      continue;
    }
    struct stat sb;
    const bool at_path =
        ::stat(st.path.c_str(), &sb) == 0 && sb.st_dev == st.dev && sb.st_ino == st.ino;
    Result<TailedFile*> opened = Open(st.path, spec, fd, 0, st.draining || !at_path);
    if (!opened.ok()) {
      spdlog::warn("{}; what it held after offset {} is lost", opened.status().ToString(),
                   st.offset);
      continue;
    }
    TailedFile* f = *opened;
    uint64_t start = st.offset;
    for (const auto& [rule, off] : st.pending) start = std::min(start, off);
    if (f->size < start) {
      spdlog::warn("{}: truncated while we were stopped; reading it again from 0", st.path);
      ++stats_.truncations;
      continue;
    }
    f->state.offset = start;
    f->unchecked_offset = start;
    f->state.skipping = st.pending.empty() ? st.skipping : false;
    restored(*f, st);
  }
}

void Tailer::Discover(bool startup) {
  for (size_t spec = 0; spec < specs_.size(); ++spec) {
    const WatchSpec& w = specs_[spec];
    const std::string dir = fs::path(w.pattern).parent_path().string();
    if (!HasGlob(dir)) Watch(dir.empty() ? "." : dir);
    for (const std::string& path : Expand(w.pattern)) {
      struct stat sb;
      if (::stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
      TailedFile* active = nullptr;
      bool other_spec = false;
      for (auto& f : files_) {
        if (f->state.path != path || f->state.draining) continue;
        if (f->spec != spec) other_spec = true;
        active = f.get();
      }
      if (other_spec) continue;  // the first file entry that names a path owns it
      if (active != nullptr && active->state.dev == sb.st_dev && active->state.ino == sb.st_ino) {
        continue;
      }
      const bool seen_before = known_paths_.count(path) > 0;
      if (active != nullptr) active->state.draining = true;  // rotated: finish it, then close
      const int fd = OpenRead(path);
      if (fd < 0) continue;
      uint64_t offset = 0;
      if (startup && !seen_before && !w.from_beginning)
        offset = std::numeric_limits<uint64_t>::max();
      Result<TailedFile*> f = Open(path, spec, fd, offset, false);
      if (f.ok()) {
        spdlog::info("{}: following (inode {}, from offset {}){}", path, (*f)->state.ino,
                     (*f)->state.offset, active != nullptr ? " after a rotation" : "");
      } else if (auto n = open_log_.Allow()) {
        spdlog::warn("{}; trying again ({} more since)", f.status().ToString(), *n);
      }
    }
  }
  // A followed path that vanished (deleted, or renamed without a new file yet): finish what is
  // open; a file created there later is a new one.
  for (auto& f : files_) {
    if (f->state.draining) continue;
    struct stat sb;
    if (::stat(f->state.path.c_str(), &sb) != 0 || sb.st_dev != f->state.dev ||
        sb.st_ino != f->state.ino) {
      f->state.draining = true;
    }
  }
  // Draining files first, so a rotated file is read to its end before its successor.
  std::stable_sort(files_.begin(), files_.end(), [](const auto& a, const auto& b) {
    return a->state.draining && !b->state.draining;
  });
}

bool Tailer::Wait(std::chrono::milliseconds timeout, int wake_fd) {
  pollfd fds[2] = {{inotify_.valid() ? inotify_.get() : -1, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  ::poll(fds, 2, static_cast<int>(timeout.count()));
  bool structural = false;
  if (inotify_.valid() && (fds[0].revents & POLLIN)) {
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + i);
        if (ev->mask &
            (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_Q_OVERFLOW | IN_IGNORED)) {
          structural = true;
        }
        i += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
  }
  return structural;
}

Result<bool> Tailer::CheckFingerprint(TailedFile& f) {
  if (f.state.fp_len == 0 && f.size == 0) return true;
  char buf[kFingerprintBytes];
  const size_t want = static_cast<size_t>(std::min<uint64_t>(f.size, kFingerprintBytes));
  const ssize_t got = PreadAll(f.fd.get(), buf, want, 0);
  if (got < 0) return IoErrorOf(f.state.path, "read");
  if (static_cast<uint64_t>(got) < f.state.fp_len ||
      Fnv1a(buf, f.state.fp_len) != f.state.fp_hash) {
    return false;
  }
  if (static_cast<uint32_t>(got) > f.state.fp_len) {
    f.state.fp_len = static_cast<uint32_t>(got);
    f.state.fp_hash = Fnv1a(buf, static_cast<size_t>(got));
  }
  return true;
}

Status Tailer::ReadRange(TailedFile& f, int fd, const std::string& path, uint64_t* offset,
                         bool* skipping, uint64_t end, uint64_t budget, uint64_t* consumed) {
  if (buf_.size() < kChunkBytes) buf_.resize(kChunkBytes);
  // buf_ is refilled after this: the handler must not answer from the last chunk any more.
  struct ChunkEnd {
    LineHandler* handler;
    TailedFile& file;
    ~ChunkEnd() { handler->OnChunk(file, {}); }
  } chunk_end{handler_, f};
  while (*offset < end && *consumed < budget) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end - *offset));
    const ssize_t got = PreadAll(fd, buf_.data(), want, *offset);
    if (got < 0) return IoErrorOf(path, "read");
    if (got == 0) break;  // shrank under us: the next pass sees the truncation
    const char* data = buf_.data();
    const size_t n = static_cast<size_t>(got);
    size_t pos = 0;
    if (*skipping) {
      const void* nl = std::memchr(data, '\n', n);
      if (nl == nullptr) {
        *offset += n;
        *consumed += n;
        stats_.bytes_read += n;
        continue;
      }
      pos = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
      *skipping = false;
    }
    handler_->OnChunk(f, std::string_view(data + pos, n - pos));
    for (;;) {
      const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', n - pos));
      size_t len;
      bool truncated = false;
      size_t next;
      if (nl != nullptr) {
        len = static_cast<size_t>(nl - (data + pos));
        next = len + 1;
      } else if (n - pos >= max_line_bytes_) {
        // An over-long line with no end in sight: deliver its head now, skip the rest as it
        // comes, and never hold more than max_line_bytes of it.
        len = n - pos;
        next = len;
        *skipping = true;
      } else {
        break;  // a partial line: wait for the rest (it is read again from its start)
      }
      if (len > max_line_bytes_) {
        len = static_cast<size_t>(max_line_bytes_);
        truncated = true;
      }
      truncated = truncated || *skipping;
      std::string_view line(data + pos, len);
      // Leading NULs are what a copytruncate leaves when the writer does not use O_APPEND (a
      // sparse prefix up to its old offset): they are not part of the next line.
      size_t nuls = 0;
      while (nuls < line.size() && line[nuls] == '\0') ++nuls;
      line.remove_prefix(nuls);
      ++stats_.lines_read;
      ++f.lines_read;
      f.bytes_in_lines += next;
      if (truncated) ++stats_.lines_truncated;
      handler_->OnLine(f, line, *offset + pos + nuls, truncated);
      pos += next;
      if (*skipping || pos >= n) break;
    }
    if (pos == 0) break;  // only a partial line is left
    *offset += pos;
    *consumed += pos;
    stats_.bytes_read += pos;
    if (static_cast<size_t>(got) < want) break;
  }
  return Status::Ok();
}

void Tailer::CountLost(const TailedFile& f, uint64_t bytes) {
  stats_.lost_bytes += bytes;
  // Lines estimated from this file's average line (100 bytes before any).
  const uint64_t avg =
      f.lines_read ? std::max<uint64_t>(1, (f.bytes_in_lines + f.lines_read / 2) / f.lines_read)
                   : 100;
  stats_.lost_lines += (bytes + avg / 2) / avg;
}

Status Tailer::SkipTruncationHole(TailedFile& f) {
  // SEEK_DATA finds the end of a hole to the block; the NULs up to the writer's offset are read.
  // A hole shorter than a block reads as NULs in a data block, hence the scan from there.
  off_t data = ::lseek(f.fd.get(), 0, SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) return Status::Ok();  // nothing but hole yet: look again on the next read
    data = 0;                                 // no SEEK_DATA here: scan from the start
  }
  uint64_t end = static_cast<uint64_t>(data);
  char buf[4096];
  for (;;) {
    const ssize_t got = PreadAll(f.fd.get(), buf, sizeof buf, end);
    if (got < 0) return IoErrorOf(f.state.path, "read");
    if (got == 0) return Status::Ok();  // the hole is all there is so far: look again next read
    size_t zeros = 0;
    while (zeros < static_cast<size_t>(got) && buf[zeros] == '\0') ++zeros;
    end += zeros;
    if (zeros < static_cast<size_t>(got)) break;
  }
  f.after_truncation = false;
  // New content from 0: an O_APPEND writer, nothing to learn here.
  if (end == 0) return Status::Ok();
  // end is where the writer was when the file was truncated: the old file's size.
  const uint64_t counted = f.truncated_read_to + f.truncated_lost;
  if (end > counted) {
    CountLost(f, end - counted);
    spdlog::warn("{}: {} bytes written before the truncation were never read (lost)", f.state.path,
                 end - counted);
  }
  stats_.bytes_read += end - f.state.offset;
  f.state.offset = end;
  f.unchecked_offset = end;
  return Status::Ok();
}

Result<bool> Tailer::LineEndStillThere(const TailedFile& f) {
  const uint64_t off = f.state.offset;
  if (off == 0 || off == f.unchecked_offset || f.state.skipping) return true;
  char c = 0;
  const ssize_t got = PreadAll(f.fd.get(), &c, 1, off - 1);
  if (got < 0) return IoErrorOf(f.state.path, "read");
  return got == 1 && c == '\n';
}

void Tailer::HandleTruncation(TailedFile& f) {
  ++stats_.truncations;
  const uint64_t had = f.state.offset;
  uint64_t recovered_to = had;
  // The copy logrotate made holds what we had not read yet (up to when it copied).
  const fs::path path(f.state.path);
  const std::string base = path.filename().string();
  std::error_code ec;
  int best_fd = -1;
  fs::file_time_type best_time;
  for (fs::directory_iterator
           it(path.parent_path().empty() ? fs::path(".") : path.parent_path(), ec),
       end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == base || !name.starts_with(base)) continue;
    struct stat sb;
    if (::stat(it->path().c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (sb.st_ino == f.state.ino && sb.st_dev == f.state.dev) continue;
    if (static_cast<uint64_t>(sb.st_size) < had || f.state.fp_len == 0) continue;
    const int fd = OpenRead(it->path());
    if (fd < 0) continue;
    std::string head(f.state.fp_len, '\0');
    const auto t = it->last_write_time(ec);
    if (PreadAll(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()) &&
        Fnv1a(head.data(), head.size()) == f.state.fp_hash && (best_fd < 0 || t > best_time)) {
      if (best_fd >= 0) ::close(best_fd);
      best_fd = fd;
      best_time = t;
    } else {
      ::close(fd);
    }
  }
  const bool had_copy = best_fd >= 0;
  if (had_copy) {
    io::UniqueFd copy(best_fd);
    struct stat sb;
    if (::fstat(copy.get(), &sb) == 0) {
      uint64_t off = had;
      bool skipping = f.state.skipping;
      uint64_t consumed = 0;
      // The copy is a bonus: what could not be read from it is counted lost below, and the
      // truncated file is followed on from 0 all the same (once per truncation: no repeats).
      const Status read = ReadRange(f, copy.get(), f.state.path + " (its copy)", &off, &skipping,
                                    static_cast<uint64_t>(sb.st_size),
                                    std::numeric_limits<uint64_t>::max(), &consumed);
      if (!read.ok()) spdlog::warn("{}", read.ToString());
      // A last line without its newline in the copy is complete: the truncate ended it.
      if (read.ok() && off < static_cast<uint64_t>(sb.st_size) && !skipping) {
        std::string rest(static_cast<size_t>(std::min<uint64_t>(sb.st_size - off, max_line_bytes_)),
                         '\0');
        const ssize_t got = PreadAll(copy.get(), rest.data(), rest.size(), off);
        if (got > 0) {
          rest.resize(static_cast<size_t>(got));
          ++stats_.lines_read;
          handler_->OnLine(f, rest, off, false);
          off = static_cast<uint64_t>(sb.st_size);
        }
      }
      stats_.recovered_bytes += off - had;
      recovered_to = off;
    }
  }
  // Bytes a size showed us that neither we nor the copy have: lost with the truncate.
  f.after_truncation = true;
  f.truncated_read_to = recovered_to;
  f.truncated_lost = 0;
  if (f.size > recovered_to && f.size != std::numeric_limits<uint64_t>::max()) {
    f.truncated_lost = f.size - recovered_to;
    CountLost(f, f.truncated_lost);
  }
  // A warning, not an info line: copytruncate always loses what the writer wrote between
  // logrotate's copy and its truncate, and nobody can see how much that was. What sizes showed us
  // beyond what we or the copy have is the lower bound we can give.
  const uint64_t avg_line =
      f.lines_read ? std::max<uint64_t>(1, f.bytes_in_lines / f.lines_read) : 100;
  spdlog::warn(
      "{}: truncated in place (copytruncate?) at offset {}; {} bytes taken from {}; at least {} "
      "bytes (~{} lines) lost, plus whatever was written between the copy and the truncate, "
      "which copytruncate always loses (at a busy writer's rate, many lines per millisecond). "
      "Rotate with `create` and have the writer reopen its log (nginx: kill -USR1) instead; "
      "reading again from 0",
      f.state.path, had, recovered_to - had, had_copy ? "the rotated copy" : "no copy (none found)",
      f.truncated_lost, (f.truncated_lost + avg_line / 2) / avg_line);
  handler_->OnTruncated(f);  // multiline records end with the old content
  f.state.offset = 0;
  f.state.skipping = false;
  f.state.fp_len = 0;
  f.state.fp_hash = Fnv1a(nullptr, 0);
}

Result<bool> Tailer::ReadFile(TailedFile& f, uint64_t budget) {
  struct stat sb;
  if (::fstat(f.fd.get(), &sb) != 0) return IoErrorOf(f.state.path, "fstat");
  const uint64_t size = static_cast<uint64_t>(sb.st_size);
  bool truncated = size < f.state.offset;
  if (!truncated && size != f.size) {
    // An error here returns before anything is read: f's offset and size stay as they were, so
    // the next call checks again.
    HW_ASSIGN_OR_RETURN(const bool same_start, CheckFingerprint(f));
    bool line_end = true;
    if (same_start) {
      HW_ASSIGN_OR_RETURN(line_end, LineEndStillThere(f));
    }
    truncated = !same_start || !line_end;
  }
  if (truncated) {
    HandleTruncation(f);
    f.size = size;
    // The new content's first bytes; an error is the next read's to report.
    (void)CheckFingerprint(f);
  }
  if (size > f.size) f.last_growth_ms = clock_.MonoMs();
  f.size = size;
  if (f.after_truncation && f.state.offset == 0 && size > 0) {
    HW_RETURN_IF_ERROR(SkipTruncationHole(f));
  }
  uint64_t consumed = 0;
  HW_RETURN_IF_ERROR(ReadRange(f, f.fd.get(), f.state.path, &f.state.offset, &f.state.skipping,
                               size, budget, &consumed));
  if (f.state.fp_len < kFingerprintBytes && f.size > f.state.fp_len) {
    HW_RETURN_IF_ERROR(CheckFingerprint(f).status());
  }
  return f.state.offset < size && consumed >= budget;
}

Result<bool> Tailer::ReadAll(uint64_t budget) {
  bool more = false;
  Status first;
  for (auto& f : files_) {
    Result<bool> r = ReadFile(*f, budget);
    if (r.ok()) {
      more |= *r;
    } else if (first.ok()) {
      first = r.status();
    }
  }
  if (!first.ok()) return first;
  return more;
}

void Tailer::CloseQuiet() {
  const int64_t now = clock_.MonoMs();
  for (auto it = files_.begin(); it != files_.end();) {
    TailedFile& f = **it;
    if (f.state.draining && f.state.offset >= f.size &&
        now - f.last_growth_ms >= rotate_wait_.count()) {
      handler_->OnClose(f);
      spdlog::info("{}: finished the rotated file (inode {}) at offset {}", f.state.path,
                   f.state.ino, f.state.offset);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<FileState> Tailer::Snapshot() const {
  std::vector<FileState> out;
  out.reserve(files_.size());
  for (const auto& f : files_) {
    out.push_back(f->state);
    out.back().pending.clear();
  }
  return out;
}

}  // namespace hw::logwatch
