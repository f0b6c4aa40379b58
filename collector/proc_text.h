// Reading and splitting procfs text without iostreams: the collector runs these on every tick, so
// they read into reused buffers (a kept-open file: one pread) and hand out string_views into them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/spool/file_io.h"
#include "common/status/status.h"

namespace hw::collector {

// The whole file (procfs files report size 0, so this reads until EOF). IoError names the path.
Result<std::string> ReadTextFile(const std::string& path);
// Like ReadTextFile into *buf, reusing its capacity (the process scan reads thousands of files).
Status ReadTextFileInto(const std::string& path, std::string* buf);

// One procfs file read on every tick (/proc/stat, /proc/meminfo, ...). On a live procfs
// (HostEnv::live_procfs) it is opened once and every Read is a pread from offset 0: procfs
// generates the text afresh for a read that starts at 0, and the open and close it saves are
// most of the syscall cost of a small file. A short read is the end: a seq_file fills a read
// until the text runs out. On a recorded tree (tests re-point it between snapshots) each Read
// opens the file anew, and so does the first Read after an error on a kept file (the file may
// have come back, like /proc/net/snmp in a new network namespace).
class ProcFile {
 public:
  ProcFile(std::string path, bool keep_open) : path_(std::move(path)), keep_open_(keep_open) {}
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
  spool::UniqueFd fd_;
};

// Reads at offset 0 until a short read; false on an error (errno kept).
bool PreadWhole(int fd, std::string* buf);

// Fields separated by runs of spaces or tabs.
std::vector<std::string_view> SplitFields(std::string_view line);
// Calls fn(line) for each line (without '\n'); the last line may lack a newline.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

std::optional<uint64_t> ParseU64(std::string_view s);
std::optional<int64_t> ParseI64(std::string_view s);
std::optional<double> ParseDouble(std::string_view s);
std::string_view Trim(std::string_view s);

// Names of the entries of a directory (no "." or ".."); IoError when it cannot be opened.
Result<std::vector<std::string>> ListDir(const std::string& path);

}  // namespace hw::collector
