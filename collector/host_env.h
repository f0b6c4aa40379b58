// The seam between plugins and the host: where procfs and sysfs are, how a filesystem's usage is
// read, and the kernel constants that turn ticks and pages into seconds and bytes.
//
// Plugins never open "/proc/..." directly: they read Path(proc_root, "stat"), so a test points
// proc_root at a recorded tree (collector/plugins/<name>/testdata/<case>/<n>/proc) and gets the
// same numbers every run. A HostEnv is immutable once a plugin is created; reading it from the
// scheduler thread and the exec thread at once is safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::collector {

// statvfs(2) of one mount point, in bytes and inodes.
struct FsUsage {
  uint64_t total_bytes = 0;  // f_blocks * f_frsize
  uint64_t free_bytes = 0;   // f_bfree * f_frsize (includes the root reserve)
  uint64_t avail_bytes = 0;  // f_bavail * f_frsize (what an unprivileged user may still write)
  uint64_t inodes = 0;       // f_files
  uint64_t inodes_free = 0;  // f_ffree
};

using StatFsFunction = std::function<Result<FsUsage>(const std::string& mount_point)>;

struct HostEnv {
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  // Defaults to statvfs(2); fixture tests replace it with recorded figures.
  StatFsFunction statfs;
  int64_t clock_ticks = 100;  // sysconf(_SC_CLK_TCK)
  int64_t page_size = 4096;   // sysconf(_SC_PAGESIZE)
  // proc_root is a mounted procfs (not a recorded tree): files read every tick may stay open
  // (ProcFile), and a procfs file of a process that has exited fails to read.
  bool live_procfs = false;
  // Test seam: the most one read(2) of a procfs or sysfs file may return (0: no cap). Fixture
  // tests set a few hundred bytes so recorded files come back in pieces, as a busy host's procfs
  // seq_files do (about a page per read): a reader that took a short read for the end would lose
  // the rest of the text there too.
  size_t max_read_bytes = 0;
  // Count TCP states over NETLINK_SOCK_DIAG (this process's network namespace) instead of reading
  // proc_root/net/tcp. Real() sets it where proc_root is a live procfs: what its net/tcp shows is
  // the reader's network namespace too.
  bool sock_diag = false;

  // The real host: /proc, /sys, statvfs and sysconf.
  static HostEnv Real(std::string proc_root = "/proc", std::string sys_root = "/sys");

  std::string Proc(std::string_view rel) const { return proc_root + "/" + std::string(rel); }
  std::string Sys(std::string_view rel) const { return sys_root + "/" + std::string(rel); }
};

Result<FsUsage> StatVfs(const std::string& mount_point);

}  // namespace hw::collector
