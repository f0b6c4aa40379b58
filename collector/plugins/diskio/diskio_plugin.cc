#include "collector/plugins/diskio/diskio_plugin.h"

#include <algorithm>
#include <set>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

// Columns of /proc/diskstats (Documentation/admin-guide/iostats.rst), counted from 0 after the
// major, minor and name fields. Sectors are always 512 bytes here, whatever the device's block
// size.
constexpr size_t kReads = 3, kSectorsRead = 5, kMsReading = 6, kWrites = 7, kSectorsWritten = 9,
                 kMsWriting = 10, kInFlight = 11, kMsDoingIo = 12;
constexpr double kSectorBytes = 512;

class DiskioPlugin : public Plugin {
 public:
  DiskioPlugin(const HostEnv& env, const DiskioOptions& options)
      : env_(env), options_(options), diskstats_(env, env.Proc("diskstats")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    HW_RETURN_IF_ERROR(diskstats_.Read(&buf_));
    // Whole disks are the entries of /sys/block; partitions appear only in diskstats. The listing
    // changes only when a device comes or goes, and a new device shows in diskstats too: /sys/block
    // is listed again only when diskstats names a device it did not name at the last listing.
    Status listed;
    ForEachLine(buf_, [&](std::string_view line) {
      std::vector<std::string_view> f = SplitFields(line);
      if (f.size() > 2 && !known_.contains(f[2]) && listed.ok()) listed = ListDisks();
      if (f.size() <= kMsDoingIo || !disks_.contains(f[2])) return;
      const std::string dev(f[2]);
      auto v = [&](size_t col) { return ParseU64(f[col]).value_or(0); };
      auto rate = [&](const char* what, size_t col) {
        return rates_.Rate(dev + '/' + what, v(col), now.mono_ms);
      };
      const Tags tags = {{"device", dev}};
      auto rb = rate("sr", kSectorsRead);
      auto wb = rate("sw", kSectorsWritten);
      auto ro = rate("r", kReads);
      auto wo = rate("w", kWrites);
      auto busy = rate("io", kMsDoingIo);  // ms busy per second
      auto dr = deltas_.Delta(dev + "/r", v(kReads));
      auto dw = deltas_.Delta(dev + "/w", v(kWrites));
      auto dmr = deltas_.Delta(dev + "/mr", v(kMsReading));
      auto dmw = deltas_.Delta(dev + "/mw", v(kMsWriting));
      if (rb) Emit(out, "diskio.read_bytes", *rb * kSectorBytes, tags);
      if (wb) Emit(out, "diskio.write_bytes", *wb * kSectorBytes, tags);
      if (ro) Emit(out, "diskio.read_ops", *ro, tags);
      if (wo) Emit(out, "diskio.write_ops", *wo, tags);
      // Tick rounding can make busy time exceed elapsed time by a little; 100% is the ceiling.
      if (busy) Emit(out, "diskio.util_percent", std::min(100.0, *busy / 10.0), tags);
      // await as iostat's: ms spent by the I/Os completed in the interval over their number; a
      // slow read path hides behind fast cached writes in the mean, hence the split.
      auto await = [](uint64_t ms, uint64_t ops) {
        return ops > 0 ? static_cast<double>(ms) / static_cast<double>(ops) : 0.0;
      };
      if (dr && dw && dmr && dmw) {
        Emit(out, "diskio.await_ms", await(*dmr + *dmw, *dr + *dw), tags);
        Emit(out, "diskio.read_await_ms", await(*dmr, *dr), tags);
        Emit(out, "diskio.write_await_ms", await(*dmw, *dw), tags);
      }
      // A gauge (requests issued and not yet completed), so it needs no earlier tick.
      if (auto q = ParseU64(f[kInFlight])) {
        Emit(out, "diskio.in_flight", static_cast<double>(*q), tags);
      }
    });
    rates_.Sweep();
    deltas_.Sweep();
    return listed;
  }

 private:
  // Lists /sys/block into disks_ and takes every device in buf_ (this tick's diskstats) as known.
  Status ListDisks() {
    HW_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(env_.Sys("block")));
    disks_.clear();
    for (std::string& n : names) {
      const bool listed =
          std::find(options_.devices.begin(), options_.devices.end(), n) != options_.devices.end();
      const bool ignored =
          std::any_of(options_.ignore_prefixes.begin(), options_.ignore_prefixes.end(),
                      [&](const std::string& p) { return n.starts_with(p); });
      if (listed || !ignored) disks_.insert(std::move(n));
    }
    known_.clear();
    ForEachLine(buf_, [&](std::string_view line) {
      std::vector<std::string_view> f = SplitFields(line);
      if (f.size() > 2) known_.emplace(f[2]);
    });
    return Status::Ok();
  }

  const HostEnv env_;
  const DiskioOptions options_;
  std::set<std::string, std::less<>> disks_;  // whole disks, not ignored, at the last listing
  std::set<std::string, std::less<>> known_;  // every device diskstats named at the last listing
  ProcFile diskstats_;
  std::string buf_;
  CounterRates rates_;
  CounterRates deltas_;
};

}  // namespace

void DiskioOptions::Describe(config::YamlWriter* w) const {
  w->Value("ignore_prefixes", ignore_prefixes);
  w->Value("devices", devices);
}

std::shared_ptr<const PluginOptions> ReadDiskioOptions(config::Section& section) {
  auto o = std::make_shared<DiskioOptions>();
  section.Read("ignore_prefixes", &o->ignore_prefixes);
  section.Read("devices", &o->devices);
  return o;
}

Result<std::unique_ptr<Plugin>> CreateDiskioPlugin(const PluginSetup& setup) {
  static const DiskioOptions kDefaults;
  const auto* o = setup.options ? static_cast<const DiskioOptions*>(setup.options) : &kDefaults;
  return std::unique_ptr<Plugin>(std::make_unique<DiskioPlugin>(*setup.env, *o));
}

}  // namespace hw::collector
