#include "collector/plugins/load/load_plugin.h"

#include "collector/proc_text.h"

namespace hw::collector {
namespace {

class LoadPlugin : public Plugin {
 public:
  explicit LoadPlugin(const HostEnv& env)
      : env_(env), loadavg_(env, env.Proc("loadavg")), stat_(env, env.Proc("stat")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    HW_RETURN_IF_ERROR(loadavg_.Read(&buf_));
    std::vector<std::string_view> f = SplitFields(Trim(buf_));
    std::optional<double> l1, l5, l15;
    if (f.size() >= 3) {
      l1 = ParseDouble(f[0]);
      l5 = ParseDouble(f[1]);
      l15 = ParseDouble(f[2]);
    }
    if (!l1 || !l5 || !l15) return Status::DataLoss(env_.Proc("loadavg") + ": unexpected format");
    Emit(out, "load.1min", *l1);
    Emit(out, "load.5min", *l5);
    Emit(out, "load.15min", *l15);
    // The CPUs online, counted in the same procfs tree (a fixture stays self-consistent). CPUs
    // come and go rarely (hotplug), and /proc/stat is the costliest file of a tick on a large
    // host, so the count is refreshed once a minute rather than on every tick.
    if (cpus_ == 0 || now.mono_ms - cpus_counted_ms_ >= kCpuRecountMs) {
      if (stat_.Read(&buf_).ok()) {
        int cpus = 0;
        ForEachLine(buf_, [&](std::string_view line) {
          if (line.size() > 3 && line.starts_with("cpu") && line[3] >= '0' && line[3] <= '9')
            ++cpus;
        });
        cpus_ = cpus;
        cpus_counted_ms_ = now.mono_ms;
      }
    }
    if (cpus_ > 0) Emit(out, "load.1min_per_core", *l1 / cpus_);
    return Status::Ok();
  }

 private:
  const HostEnv env_;
  static constexpr int64_t kCpuRecountMs = 60'000;
  ProcFile loadavg_, stat_;
  std::string buf_;
  int cpus_ = 0;
  int64_t cpus_counted_ms_ = 0;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateLoadPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<LoadPlugin>(*setup.env));
}

}  // namespace hw::collector
