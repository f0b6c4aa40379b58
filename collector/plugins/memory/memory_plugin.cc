#include "collector/plugins/memory/memory_plugin.h"

#include <string_view>
#include <utility>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

using KeyMetric = std::pair<std::string_view, std::string_view>;

// /proc/meminfo lines sent as they are, in bytes.
constexpr KeyMetric kMeminfoGauges[] = {
    {"Shmem", "mem.shmem"},
    {"SReclaimable", "mem.slab_reclaimable"},
    {"Dirty", "mem.dirty"},
    {"Writeback", "mem.writeback"},
    {"Committed_AS", "mem.committed"},
};

// /proc/vmstat counters sent as per-second rates. oom_kill exists since Linux 4.13: before that
// there is no line and no point.
constexpr KeyMetric kVmstatRates[] = {
    {"pswpin", "swap.in"},
    {"pswpout", "swap.out"},
    {"pgmajfault", "mem.major_faults"},
    {"oom_kill", "mem.oom_kills"},
};

class MemoryPlugin : public Plugin {
 public:
  explicit MemoryPlugin(const HostEnv& env)
      : env_(env), meminfo_(env, env.Proc("meminfo")), vmstat_(env, env.Proc("vmstat")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    HW_RETURN_IF_ERROR(meminfo_.Read(&buf_));
    // "Name:   1234 kB" lines, kept in a vector reused every tick (a map would allocate for each of
    // the ~55 lines; a dozen of them are looked up).
    kb_.clear();
    ForEachLine(buf_, [&](std::string_view line) {
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      if (auto v = ParseU64(FirstField(line.substr(colon + 1)))) {
        kb_.emplace_back(line.substr(0, colon), *v);
      }
    });
    auto bytes = [&](std::string_view key) -> std::optional<double> {
      for (const auto& [name, v] : kb_) {
        if (name == key) return static_cast<double>(v) * 1024.0;
      }
      return std::nullopt;
    };
    const auto total = bytes("MemTotal");
    const auto free = bytes("MemFree");
    if (!total || !free) {
      return Status::DataLoss(env_.Proc("meminfo") + ": no MemTotal or MemFree");
    }
    // MemAvailable exists since Linux 3.14; before that the usual estimate is free + buffers +
    // cached.
    const double buffers = bytes("Buffers").value_or(0);
    const double cached = bytes("Cached").value_or(0);
    const double available = bytes("MemAvailable").value_or(*free + buffers + cached);
    Emit(out, "mem.total", *total);
    Emit(out, "mem.used", *total - available);
    Emit(out, "mem.available", available);
    Emit(out, "mem.free", *free);
    Emit(out, "mem.buffers", buffers);
    Emit(out, "mem.cached", cached);
    Emit(out, "mem.used_percent", *total > 0 ? 100.0 * (*total - available) / *total : 0.0);
    const double swap_total = bytes("SwapTotal").value_or(0);
    const double swap_used = swap_total - bytes("SwapFree").value_or(0);
    Emit(out, "swap.total", swap_total);
    Emit(out, "swap.used", swap_used);
    // A host without swap is 0% used, not "no data" (which an alert would read as a dead host).
    Emit(out, "swap.used_percent", swap_total > 0 ? 100.0 * swap_used / swap_total : 0.0);
    // Lines a kernel may lack (Shmem before 2.6.32, SReclaimable before 2.6.19) are not sent
    // rather than sent as 0: the kernel did not say.
    for (const auto& [key, metric] : kMeminfoGauges) {
      if (auto v = bytes(key)) Emit(out, std::string(metric), *v);
    }

    if (vmstat_.Read(&buf_).ok()) {
      ForEachLine(buf_, [&](std::string_view line) {
        std::string_view rest;
        const std::string_view name = FirstField(line, &rest);
        for (const auto& [key, metric] : kVmstatRates) {
          if (name != key) continue;
          if (auto v = ParseU64(Trim(rest))) {
            if (auto r = rates_.Rate(key, *v, now.mono_ms)) Emit(out, std::string(metric), *r);
          }
          return;
        }
      });
      rates_.Sweep();
    }
    return Status::Ok();
  }

 private:
  const HostEnv env_;
  ProcFile meminfo_, vmstat_;
  // meminfo's lines of the current tick: views into buf_, valid until vmstat is read into it.
  std::vector<std::pair<std::string_view, uint64_t>> kb_;
  std::string buf_;
  CounterRates rates_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateMemoryPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<MemoryPlugin>(*setup.env));
}

}  // namespace hw::collector
