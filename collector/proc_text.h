// Reading and splitting procfs text without iostreams: the collector runs these on every tick, so
// they read into reused buffers (a kept-open file: one pread) and hand out string_views into them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/host_env.h"
#include "common/io/file_io.h"
#include "common/status/status.h"
#include "common/strings/strings.h"

namespace hw::collector {

// Every reader here reads until a read returns 0 bytes, never stopping at a short read: a procfs
// seq_file (/proc/net/tcp, /proc/self/mounts, /proc/net/dev, /proc/diskstats, ...) returns about
// one page per read however much is asked for, so a short read is not the end of the text.
//
// max_read caps what one read(2) may return (0: no cap). It is a test seam: fixture tests set it
// (HostEnv::max_read_bytes) so recorded files, which a read returns whole, come back a few hundred
// bytes at a time as a busy host's procfs files do.

// The whole file (procfs files report size 0, so this reads until EOF). IoError names the path.
Result<std::string> ReadTextFile(const std::string& path);
// Like ReadTextFile into *buf, reusing its capacity (the process scan reads thousands of files).
Status ReadTextFileInto(const std::string& path, std::string* buf, size_t max_read = 0);

// One procfs file read on every tick (/proc/stat, /proc/meminfo, ...). On a live procfs
// (HostEnv::live_procfs) it is opened once and every Read is a pread from offset 0: procfs
// generates the text afresh for a read that starts at 0, and the open and close it saves are
// most of the syscall cost of a small file. A Read is as many preads as the text has pages, plus
// the one that returns 0. On a recorded tree (tests re-point it between snapshots) each Read
// opens the file anew, and so does the first Read after an error on a kept file (the file may
// have come back, like /proc/net/snmp in a new network namespace).
class ProcFile {
 public:
  ProcFile(std::string path, bool keep_open, size_t max_read = 0)
      : path_(std::move(path)), keep_open_(keep_open), max_read_(max_read) {}
  // A plugin's file: kept open on a live procfs, read with the env's max_read_bytes.
  ProcFile(const HostEnv& env, std::string path)
      : ProcFile(std::move(path), env.live_procfs, env.max_read_bytes) {}
  // The file's whole text into *buf (its capacity reused); IoError names the path.
  Status Read(std::string* buf);
  // For a file that signals changes with POLLPRI (/proc/<pid>/mounts: a mount or an unmount):
  // false only when the file is kept open and nothing changed since the last call, so the text
  // last read still holds. Before the first successful Read, after a failed one (it closes the
  // file) and on a file not kept open it says true.
  bool Changed();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_open_;
  size_t max_read_;
  io::UniqueFd fd_;
};

// Reads from offset 0 until a pread returns 0; false on an error (errno kept).
bool PreadWhole(int fd, std::string* buf, size_t max_read = 0);

// The parsing helpers every plugin uses, from the one copy in common/strings.
using strings::FirstField;
using strings::ForEachLine;
using strings::ParseDouble;
using strings::ParseI64;
using strings::ParseU64;
using strings::SplitFields;
using strings::Trim;

// Names of the entries of a directory (no "." or ".."); IoError when it cannot be opened.
Result<std::vector<std::string>> ListDir(const std::string& path);

}  // namespace hw::collector
