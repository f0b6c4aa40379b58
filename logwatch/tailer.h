// Following files through rotation (logwatch/README.md; docs/logwatch.md, Rotation): paths and
// globs, inotify on their directories with a periodic stat as the fallback (missed events, NFS,
// inotify queue overflow).
//
// Identity is (device, inode, fingerprint): the fingerprint is a hash of the first bytes (up to
// kFingerprintBytes), so an inode number reused by a new file (delete and re-create while we were
// not holding the old one open) is not mistaken for the old file.
//  - rename + create: the old file is still open here; it becomes "draining" and is read to its end
//    (before the new one, in every pass) until it has been quiet for rotate_wait, then closed.
//  - delete + re-create: the same, through the open descriptor of the deleted file.
//  - copytruncate: the size drops below our offset, or the first bytes change. What we had not read
//    yet is taken from the copy when one is found beside the file (same first bytes, name starting
//    with the file's name); then reading restarts at 0. Lines that neither we nor the copy saw
//    (written between the copy and the truncate) are lost; what can be detected is counted: a
//    writer without O_APPEND keeps writing at its old offset, so the new content starts after a
//    hole exactly as long as the old file was, and the hole's end tells how much was lost. An
//    O_APPEND writer starts again at 0 and leaves no trace of the lost bytes anywhere.
//  - from: end|beginning applies to a file seen for the first time at start-up; files that appear
//    later (a rotation, a new glob match) are read from their beginning.
//
// Lines are cut at max_line_bytes: the head is delivered flagged `truncated` and the rest of the
// line is skipped without being buffered, so a 10 MB line costs no more memory than a short one.
//
// The tailer knows files, not rules: what lines mean (records, multiline state) is the
// LineHandler's, kept per file under TailedFile::id.
//
// Errors: a failed read or stat of a followed file is returned as a Status (IoError naming the
// path), never taken for "nothing new": the file's offset stays where the last good read left it,
// so the caller may try again later without losing or repeating a line.
//
// Threads: one thread owns a Tailer (the service's worker, or test-logrules).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/daemon/logging.h"
#include "common/io/file_io.h"
#include "common/status/status.h"
#include "logwatch/state_file.h"

namespace hw::logwatch {

inline constexpr uint32_t kFingerprintBytes = 1024;

struct WatchSpec {
  std::string pattern;  // a path or a glob
  std::vector<std::string> rules;
  bool from_beginning = false;
};

struct TailedFile {
  // This open file's serial within its Tailer: what a handler keys its per-file state by. Not
  // (dev, ino): a glob may follow a rotated file under its new name while it drains under the old.
  uint64_t id = 0;
  FileState state;  // path, identity, offset, skipping, draining (pending: the handler's)
  size_t spec = 0;
  io::UniqueFd fd;
  uint64_t size = 0;                            // at the last fstat
  uint64_t lines_read = 0, bytes_in_lines = 0;  // this file's average line, for lost estimates
  // Set by a copytruncate: the offset up to which the old content was read (from the file or the
  // copy) and the bytes already counted lost; the next read from 0 looks for a writer's hole.
  bool after_truncation = false;
  // Reading resumes after a newline, except where it started (from: end, a restore) or after a
  // writer's hole: the check that the byte before the offset is still a newline skips this one.
  uint64_t unchecked_offset = 0;
  uint64_t truncated_read_to = 0, truncated_lost = 0;
  int64_t last_growth_ms = 0;  // Clock::MonoMs() when its size last grew (or it was opened)
};

class LineHandler {
 public:
  virtual ~LineHandler() = default;
  // A line of f starting at offset (without its newline; cut to max_line_bytes when truncated).
  virtual void OnLine(TailedFile& f, std::string_view line, uint64_t offset, bool truncated) = 0;
  // The buffer just read from f: the OnLine calls that follow, until the next OnChunk, are lines
  // inside it (an empty chunk: the buffer is about to be reused). Lets a handler scan once per
  // buffer rather than once per line.
  virtual void OnChunk(TailedFile& /*f*/, std::string_view /*chunk*/) {}
  // f is followed from now on (attach its rules); and f is about to be closed (finish records and
  // forget it).
  virtual void OnOpen(TailedFile& f) = 0;
  virtual void OnClose(TailedFile& f) = 0;
  // f's content starts over (a copytruncate): records in progress end with the old content; f is
  // still followed, from offset 0.
  virtual void OnTruncated(TailedFile& f) = 0;
};

struct TailerStats {
  uint64_t bytes_read = 0;
  uint64_t lines_read = 0;
  uint64_t lines_truncated = 0;
  uint64_t truncations = 0;      // copytruncate (or rewrite in place) detected
  uint64_t recovered_bytes = 0;  // read from a rotated copy after a copytruncate
  uint64_t lost_bytes = 0;       // seen in a size but never read, after a copytruncate
  uint64_t lost_lines = 0;       // lost_bytes in lines, estimated from the average line length
};

class Tailer {
 public:
  // clock: when a draining file was last seen growing (rotate_wait); null: the system's.
  Tailer(std::vector<WatchSpec> specs, uint64_t max_line_bytes,
         std::chrono::milliseconds rotate_wait, LineHandler* handler, const Clock* clock = nullptr);
  ~Tailer();

  // Sets up inotify (without it, the stat fallback alone still works; that is logged).
  void Init();
  // Before the first Discover: files from the offsets file. Each is found again by its path or,
  // when it was rotated meanwhile, by its (device, inode) among the files beside it. Its offset
  // goes back to the earliest of its saved.pending records; restored(f, saved) is then called for
  // each file found, so the handler can replay [f.state.offset, saved.offset) to those records'
  // rules only.
  void Restore(const std::vector<FileState>& files,
               const std::function<void(TailedFile&, const FileState&)>& restored);
  // Expands the globs and opens new files; startup: apply `from` to files never seen before.
  void Discover(bool startup);
  // Waits until inotify reports a change, wake_fd is readable, or timeout. True when a file was
  // created, moved or deleted in a watched directory (Discover should run).
  bool Wait(std::chrono::milliseconds timeout, int wake_fd);
  // Reads what is new in f, at most about budget bytes: true when f has more, false when it is
  // read to its end. An error (IoError with the path) when f could not be stat'ed or read: f keeps
  // the offset of its last good read and is tried again by the next call. Between two calls every
  // offset is consistent with the lines delivered, so the caller may publish and save state there.
  Result<bool> ReadFile(TailedFile& f, uint64_t budget);
  // ReadFile for every file: true when one has more. A file's error does not stop the others; the
  // first error is returned (whether more is left is then unknown: call again).
  Result<bool> ReadAll(uint64_t budget);
  // Draining files that were quiet for rotate_wait are closed.
  void CloseQuiet();

  // The state of every followed file, in files() order, with pending empty: records in progress
  // are the handler's to add.
  std::vector<FileState> Snapshot() const;
  const std::vector<std::unique_ptr<TailedFile>>& files() const { return files_; }
  std::vector<std::unique_ptr<TailedFile>>& files() { return files_; }
  const TailerStats& stats() const { return stats_; }
  void set_specs(std::vector<WatchSpec> specs) { specs_ = std::move(specs); }
  const std::vector<WatchSpec>& specs() const { return specs_; }
  void set_max_line_bytes(uint64_t n) { max_line_bytes_ = n; }

 private:
  // Takes fd (closed on an error, which names path).
  Result<TailedFile*> Open(const std::string& path, size_t spec, int fd, uint64_t offset,
                           bool draining);
  // Reads [*offset, end) of fd (named path in errors) as lines of f; *offset stays at the end of
  // the last whole line delivered.
  Status ReadRange(TailedFile& f, int fd, const std::string& path, uint64_t* offset, bool* skipping,
                   uint64_t end, uint64_t budget, uint64_t* consumed);
  // False when f's first bytes are no longer the ones we fingerprinted (the file was replaced in
  // place); grows the fingerprint up to kFingerprintBytes as the file grows.
  Result<bool> CheckFingerprint(TailedFile& f);
  void HandleTruncation(TailedFile& f);
  // After a copytruncate: skips a writer's hole at the start of f and counts what it stands for.
  Status SkipTruncationHole(TailedFile& f);
  void CountLost(const TailedFile& f, uint64_t bytes);
  // False when the byte before f's offset is no longer the newline we read there: the file was
  // truncated and has grown past the offset again (the fingerprint cannot tell when both the old
  // and the new first bytes are a writer's hole).
  Result<bool> LineEndStillThere(const TailedFile& f);
  void Watch(const std::string& dir);

  std::vector<WatchSpec> specs_;
  uint64_t max_line_bytes_;
  std::chrono::milliseconds rotate_wait_;
  LineHandler* handler_;
  const Clock& clock_;
  std::vector<std::unique_ptr<TailedFile>> files_;
  std::set<std::string> known_paths_;  // followed at some point: a new file there is a rotation
  io::UniqueFd inotify_;
  std::map<std::string, int> watches_;  // dir -> wd
  std::string buf_;
  TailerStats stats_;
  uint64_t next_id_ = 1;
  daemon::RepeatLimiter open_log_{std::chrono::minutes(1)};  // Discover runs every second
};

// FNV-1a over the first min(size, kFingerprintBytes) bytes of fd; an IoError when it cannot be
// read.
Status Fingerprint(int fd, uint64_t size, uint32_t* len, uint64_t* hash);

}  // namespace hw::logwatch
