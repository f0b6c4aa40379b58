#include "collector/plugins/cpu/cpu_plugin.h"

#include <array>
#include <map>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

// The columns of a "cpu" line in /proc/stat that add up to wall time. guest and guest_nice are
// already counted inside user and nice, so they are left out of the total.
enum Column { kUser, kNice, kSystem, kIdle, kIowait, kIrq, kSoftirq, kSteal, kColumns };
using Jiffies = std::array<uint64_t, kColumns>;

class CpuPlugin : public Plugin {
 public:
  CpuPlugin(const HostEnv& env, const CpuOptions& options)
      : env_(env), options_(options), stat_(env, env.Proc("stat")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    HW_RETURN_IF_ERROR(stat_.Read(&buf_));
    std::map<std::string, Jiffies> current;
    ForEachLine(buf_, [&](std::string_view line) {
      if (line.starts_with("cpu")) {
        std::vector<std::string_view> f = SplitFields(line);
        if (f.size() < 1 + kColumns) return;  // kernels before 2.6.11 lack steal; not supported
        Jiffies j{};
        for (size_t c = 0; c < kColumns; ++c) j[c] = ParseU64(f[1 + c]).value_or(0);
        const std::string name = f[0] == "cpu" ? "total" : std::string(f[0].substr(3));
        if (name == "total" || options_.per_core) current.emplace(name, j);
      } else if (line.starts_with("ctxt ")) {
        if (auto v = ParseU64(Trim(line.substr(5)))) {
          if (auto r = switches_.Rate("ctxt", *v, now.mono_ms)) Emit(out, "cpu.switches", *r);
        }
      }
    });
    switches_.Sweep();
    for (const auto& [name, j] : current) {
      auto prev = previous_.find(name);
      if (prev != previous_.end()) EmitPercentages(name, prev->second, j, out);
    }
    // CPUs that went offline are forgotten; one that comes back starts without a rate.
    previous_ = std::move(current);
    return Status::Ok();
  }

 private:
  static void EmitPercentages(const std::string& name, const Jiffies& before, const Jiffies& after,
                              std::vector<Point>* out) {
    Jiffies d{};
    uint64_t total = 0;
    for (size_t c = 0; c < kColumns; ++c) {
      // Per-CPU counters can go backwards when a CPU is hot-plugged (and on some hypervisors for
      // iowait). No figure for that interval rather than a negative one.
      if (after[c] < before[c]) return;
      d[c] = after[c] - before[c];
      total += d[c];
    }
    if (total == 0) return;
    const double t = static_cast<double>(total);
    auto pct = [t](uint64_t v) { return 100.0 * static_cast<double>(v) / t; };
    const Tags tags = {{"cpu", name}};
    Emit(out, "cpu.busy", pct(total - d[kIdle] - d[kIowait]), tags);
    Emit(out, "cpu.user", pct(d[kUser] + d[kNice]), tags);
    Emit(out, "cpu.system", pct(d[kSystem] + d[kIrq] + d[kSoftirq]), tags);
    Emit(out, "cpu.iowait", pct(d[kIowait]), tags);
    Emit(out, "cpu.steal", pct(d[kSteal]), tags);
    Emit(out, "cpu.idle", pct(d[kIdle]), tags);
  }

  const HostEnv env_;  // a copy: plugins outlive nothing they do not own
  const CpuOptions options_;
  ProcFile stat_;
  std::string buf_;
  std::map<std::string, Jiffies> previous_;
  CounterRates switches_;
};

}  // namespace

void CpuOptions::Describe(config::YamlWriter* w) const { w->Value("per_core", per_core); }

std::shared_ptr<const PluginOptions> ReadCpuOptions(config::Section& section) {
  auto o = std::make_shared<CpuOptions>();
  section.Read("per_core", &o->per_core);
  return o;
}

Result<std::unique_ptr<Plugin>> CreateCpuPlugin(const PluginSetup& setup) {
  static const CpuOptions kDefaults;
  const auto* o = setup.options ? static_cast<const CpuOptions*>(setup.options) : &kDefaults;
  return std::unique_ptr<Plugin>(std::make_unique<CpuPlugin>(*setup.env, *o));
}

}  // namespace hw::collector
