#include "collector/plugins/disk/disk_plugin.h"

#include <algorithm>
#include <set>

#include "collector/proc_text.h"

namespace hw::collector {
namespace {

class DiskPlugin : public Plugin {
 public:
  DiskPlugin(const HostEnv& env, const DiskOptions& options)
      : env_(env), options_(options), mounts_(env, env.Proc("mounts")) {}

  Status Collect(const CollectTime&, std::vector<Point>* out) override {
    // The mount table is read again only when it has changed (a live procfs says so with POLLPRI;
    // Changed() is true until a Read has succeeded): generating it is most of this plugin's cost,
    // the more so on a host with many mounts.
    if (mounts_.Changed()) {
      HW_RETURN_IF_ERROR(mounts_.Read(&buf_));
      ParseMounts();
    }
    std::set<std::string> devices;
    Status first_error;
    for (const Mount& m : mounts_list_) {
      // A device mounted twice (bind mounts, containers) is one filesystem: count it once, at its
      // first mount point.
      if (m.device.starts_with('/') && !devices.insert(m.device).second) continue;
      Result<FsUsage> u = env_.statfs ? env_.statfs(m.point) : StatVfs(m.point);
      if (!u.ok()) {
        if (first_error.ok()) first_error = u.status();
        continue;
      }
      if (u->total_bytes == 0) continue;  // nothing to report (autofs placeholders and the like)
      const Tags tags = {{"mount", m.point}, {"fstype", m.fstype}, {"device", m.device}};
      const uint64_t used = u->total_bytes - std::min(u->free_bytes, u->total_bytes);
      Emit(out, "disk.total", static_cast<double>(u->total_bytes), tags);
      Emit(out, "disk.used", static_cast<double>(used), tags);
      Emit(out, "disk.free", static_cast<double>(u->avail_bytes), tags);
      const uint64_t usable = used + u->avail_bytes;
      Emit(out, "disk.used_percent",
           usable > 0 ? 100.0 * static_cast<double>(used) / static_cast<double>(usable) : 0.0,
           tags);
      // Filesystems without a fixed inode table (btrfs reports 0) have no inode figures: a made-up
      // 0 free would fire every "out of inodes" alert.
      if (u->inodes > 0) {
        const uint64_t ifree = std::min(u->inodes_free, u->inodes);
        Emit(out, "disk.inodes_total", static_cast<double>(u->inodes), tags);
        Emit(out, "disk.inodes_free", static_cast<double>(ifree), tags);
        Emit(out, "disk.inodes_used_percent",
             100.0 * static_cast<double>(u->inodes - ifree) / static_cast<double>(u->inodes), tags);
      }
      Emit(out, "disk.readonly", m.readonly ? 1 : 0, tags);
    }
    return first_error;
  }

 private:
  struct Mount {
    std::string device, point, fstype;
    bool readonly = false;
  };

  void ParseMounts() {
    mounts_list_.clear();
    ForEachLine(buf_, [&](std::string_view line) {
      std::vector<std::string_view> f = SplitFields(line);
      if (f.size() < 3) return;
      Mount m{UnescapeMountField(f[0]), UnescapeMountField(f[1]), std::string(f[2]),
              f.size() > 3 && HasOption(f[3], "ro")};
      if (Contains(options_.ignore_fstypes, m.fstype) || Contains(options_.ignore_mounts, m.point))
        return;
      // A later mount on the same point hides the earlier one; report what is visible.
      std::erase_if(mounts_list_, [&](const Mount& o) { return o.point == m.point; });
      mounts_list_.push_back(std::move(m));
    });
  }

  // Whether the comma-separated options name option exactly ("errors=remount-ro" is not "ro").
  static bool HasOption(std::string_view options, std::string_view option) {
    while (!options.empty()) {
      const size_t comma = options.find(',');
      if (options.substr(0, comma) == option) return true;
      if (comma == std::string_view::npos) break;
      options.remove_prefix(comma + 1);
    }
    return false;
  }

  static bool Contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  const HostEnv env_;
  const DiskOptions options_;
  ProcFile mounts_;
  std::string buf_;
  std::vector<Mount> mounts_list_;  // what the last read of the mount table showed
};

}  // namespace

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

void DiskOptions::Describe(config::YamlWriter* w) const {
  w->Value("ignore_fstypes", ignore_fstypes);
  w->Value("ignore_mounts", ignore_mounts);
}

std::shared_ptr<const PluginOptions> ReadDiskOptions(config::Section& section) {
  auto o = std::make_shared<DiskOptions>();
  section.Read("ignore_fstypes", &o->ignore_fstypes);
  section.Read("ignore_mounts", &o->ignore_mounts);
  return o;
}

Result<std::unique_ptr<Plugin>> CreateDiskPlugin(const PluginSetup& setup) {
  static const DiskOptions kDefaults;
  const auto* o = setup.options ? static_cast<const DiskOptions*>(setup.options) : &kDefaults;
  return std::unique_ptr<Plugin>(std::make_unique<DiskPlugin>(*setup.env, *o));
}

}  // namespace hw::collector
