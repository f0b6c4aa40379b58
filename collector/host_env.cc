#include "collector/host_env.h"

#include <linux/magic.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

namespace hw::collector {

Result<FsUsage> StatVfs(const std::string& mount_point) {
  struct statvfs st {};
  if (::statvfs(mount_point.c_str(), &st) != 0)
    return Status::IoError("statvfs " + mount_point, errno);
  FsUsage u;
  const uint64_t frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  u.total_bytes = static_cast<uint64_t>(st.f_blocks) * frsize;
  u.free_bytes = static_cast<uint64_t>(st.f_bfree) * frsize;
  u.avail_bytes = static_cast<uint64_t>(st.f_bavail) * frsize;
  u.inodes = st.f_files;
  u.inodes_free = st.f_ffree;
  return u;
}

HostEnv HostEnv::Real(std::string proc_root, std::string sys_root) {
  HostEnv env;
  env.proc_root = std::move(proc_root);
  env.sys_root = std::move(sys_root);
  env.statfs = StatVfs;
  if (long t = ::sysconf(_SC_CLK_TCK); t > 0) env.clock_ticks = t;
  if (long p = ::sysconf(_SC_PAGESIZE); p > 0) env.page_size = p;
  struct statfs st {};
  env.live_procfs = ::statfs(env.proc_root.c_str(), &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
  env.sock_diag = env.live_procfs;
  return env;
}

}  // namespace hw::collector
