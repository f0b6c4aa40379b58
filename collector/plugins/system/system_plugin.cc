#include "collector/plugins/system/system_plugin.h"

#include "collector/proc_text.h"

namespace hw::collector {
namespace {

class SystemPlugin : public Plugin {
 public:
  explicit SystemPlugin(const HostEnv& env)
      : env_(env),
        uptime_(env, env.Proc("uptime")),
        loadavg_(env, env.Proc("loadavg")),
        stat_(env, env.Proc("stat")),
        file_nr_(env, env.Proc("sys/fs/file-nr")) {}

  Status Collect(const CollectTime&, std::vector<Point>* out) override {
    Status first_error;
    auto note = [&first_error](const Status& s) {
      if (!s.ok() && first_error.ok()) first_error = s;
    };
    // Each source is independent: one unreadable file must not hide the others.
    if (Status s = uptime_.Read(&buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (auto up = f.empty() ? std::nullopt : ParseDouble(f[0])) Emit(out, "system.uptime_s", *up);
    } else {
      note(s);
    }
    // The fourth field of loadavg is "running/total": the kernel's nr_running() (the same count
    // as procs_running in /proc/stat) and nr_threads, which /proc/stat lacks.
    if (Status s = loadavg_.Read(&buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (f.size() >= 4) {
        const size_t slash = f[3].find('/');
        if (slash != std::string_view::npos) {
          if (auto running = ParseU64(f[3].substr(0, slash))) {
            Emit(out, "system.procs_running", static_cast<double>(*running));
          }
          if (auto total = ParseU64(f[3].substr(slash + 1))) {
            Emit(out, "system.procs_total", static_cast<double>(*total));
          }
        }
      }
    } else {
      note(s);
    }
    // Tasks in uninterruptible sleep on I/O (the kernel's nr_iowait()) are only in /proc/stat.
    if (Status s = stat_.Read(&buf_); s.ok()) {
      ForEachLine(buf_, [out](std::string_view line) {
        if (!line.starts_with("procs_blocked ")) return;
        if (auto blocked = ParseU64(Trim(line.substr(14)))) {
          Emit(out, "system.procs_blocked", static_cast<double>(*blocked));
        }
      });
    } else {
      note(s);
    }
    // "allocated unused max": max is fs.file-max, the host-wide limit fds_used runs into.
    if (Status s = file_nr_.Read(&buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (f.size() >= 2) {
        auto allocated = ParseU64(f[0]);
        auto unused = ParseU64(f[1]);
        if (allocated && unused && *allocated >= *unused) {
          Emit(out, "system.fds_used", static_cast<double>(*allocated - *unused));
        }
      }
      if (auto max = f.size() >= 3 ? ParseU64(f[2]) : std::nullopt) {
        Emit(out, "system.fds_max", static_cast<double>(*max));
      }
    } else {
      note(s);
    }
    return first_error;
  }

 private:
  const HostEnv env_;
  ProcFile uptime_, loadavg_, stat_, file_nr_;
  std::string buf_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateSystemPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<SystemPlugin>(*setup.env));
}

}  // namespace hw::collector
