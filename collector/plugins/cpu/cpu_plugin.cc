#include "collector/plugins/cpu/cpu_plugin.h"

#include <algorithm>
#include <array>
#include <map>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

// The columns of a "cpu" line in /proc/stat. The first kTimeColumns add up to wall time; guest
// and guest_nice (Linux 2.6.24 and 2.6.33) are already counted inside user and nice, so they are
// left out of the total and split out of user and nice instead.
enum Column {
  kUser,
  kNice,
  kSystem,
  kIdle,
  kIowait,
  kIrq,
  kSoftirq,
  kSteal,
  kTimeColumns,
  kGuest = kTimeColumns,
  kGuestNice,
  kColumns
};
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
        if (f.size() < 1 + kTimeColumns) return;  // kernels before 2.6.11 lack steal; unsupported
        // Older kernels lack guest (before 2.6.24) or guest_nice (before 2.6.33): 0, as nothing
        // was counted there.
        Jiffies j{};
        for (size_t c = 0; c < kColumns && 1 + c < f.size(); ++c) {
          j[c] = ParseU64(f[1 + c]).value_or(0);
        }
        const std::string name = f[0] == "cpu" ? "total" : std::string(f[0].substr(3));
        if (name == "total" || options_.per_core) current.emplace(name, j);
      } else if (line.starts_with("ctxt ")) {
        if (auto v = ParseU64(Trim(line.substr(5)))) {
          if (auto r = rates_.Rate("ctxt", *v, now.mono_ms)) Emit(out, "cpu.switches", *r);
        }
      } else if (line.starts_with("processes ")) {  // forks since boot
        if (auto v = ParseU64(Trim(line.substr(10)))) {
          if (auto r = rates_.Rate("processes", *v, now.mono_ms)) Emit(out, "cpu.forks", *r);
        }
      }
    });
    rates_.Sweep();
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
      if (c < kTimeColumns) total += d[c];
    }
    if (total == 0) return;
    // The kernel adds guest time to user (or nice) and to guest (or guest_nice) one after the
    // other, and /proc/stat reads user before guest, so over an interval guest can come out a tick
    // ahead of user. Capping the guest part at the user part keeps every figure >= 0 and busy the
    // sum of its parts.
    const uint64_t guest = std::min(d[kGuest], d[kUser]);
    const uint64_t guest_nice = std::min(d[kGuestNice], d[kNice]);
    const double t = static_cast<double>(total);
    auto pct = [t](uint64_t v) { return 100.0 * static_cast<double>(v) / t; };
    const Tags tags = {{"cpu", name}};
    Emit(out, "cpu.busy", pct(total - d[kIdle] - d[kIowait]), tags);
    Emit(out, "cpu.user", pct(d[kUser] - guest), tags);
    Emit(out, "cpu.nice", pct(d[kNice] - guest_nice), tags);
    Emit(out, "cpu.system", pct(d[kSystem]), tags);
    Emit(out, "cpu.irq", pct(d[kIrq]), tags);
    Emit(out, "cpu.softirq", pct(d[kSoftirq]), tags);
    Emit(out, "cpu.guest", pct(guest + guest_nice), tags);
    Emit(out, "cpu.iowait", pct(d[kIowait]), tags);
    Emit(out, "cpu.steal", pct(d[kSteal]), tags);
    Emit(out, "cpu.idle", pct(d[kIdle]), tags);
  }

  const HostEnv env_;  // a copy: plugins outlive nothing they do not own
  const CpuOptions options_;
  ProcFile stat_;
  std::string buf_;
  std::map<std::string, Jiffies> previous_;
  CounterRates rates_;  // ctxt and processes
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
