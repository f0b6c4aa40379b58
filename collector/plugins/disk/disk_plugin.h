// disk: usage of every mounted filesystem listed in <proc_root>/mounts, through HostEnv::statfs
// (statvfs(2) on the real host). Pseudo and in-memory filesystems are skipped (ignore_fstypes), as
// are bind mounts of a device already reported. Figures match `df -B1`: used = blocks - bfree,
// free = bavail, used_percent = used / (used + bavail), rounded as a double, not up. Inode figures
// (total, free, used percent) only where the filesystem has an inode table. disk.readonly is 1
// when the mount options say "ro" (a filesystem that errors=remount-ro switched says so too).
// Tags: mount, fstype and device (as /proc/mounts spells the source).
#pragma once

#include <string>
#include <vector>

#include "collector/plugin.h"

namespace hw::collector {

struct DiskOptions : PluginOptions {
  std::vector<std::string> ignore_fstypes = {
      "proc",       "sysfs",   "devtmpfs", "devpts",      "tmpfs",      "cgroup",     "cgroup2",
      "securityfs", "pstore",  "bpf",      "autofs",      "mqueue",     "hugetlbfs",  "debugfs",
      "tracefs",    "fusectl", "configfs", "binfmt_misc", "rpc_pipefs", "nsfs",       "overlay",
      "squashfs",   "ramfs",   "efivarfs", "selinuxfs",   "iso9660",    "fuse.lxcfs", "nfsd"};
  std::vector<std::string> ignore_mounts;  // exact mount points, e.g. ["/boot/efi"]
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadDiskOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateDiskPlugin(const PluginSetup& setup);

// "/mnt/my\040disk" -> "/mnt/my disk": the kernel escapes space, tab, newline and backslash in
// mounts as octal.
std::string UnescapeMountField(std::string_view field);

}  // namespace hw::collector
