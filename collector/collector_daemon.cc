#include "collector/collector_daemon.h"

#include "collector/collector_service.h"

namespace hw::collector {

daemon::DaemonSpec<CollectorConfig> CollectorDaemonSpec() {
  daemon::DaemonSpec<CollectorConfig> spec;
  spec.name = "hostwatch-collector";
  spec.summary =
      "The host agent of hostwatch: samples /proc and /sys (cpu, memory, load, disk, diskio, net,\n"
      "tcp, process, system) and exec commands on wall-clock-aligned intervals and publishes the\n"
      "samples to the broker through a local spool.";
  spec.load = LoadCollectorConfig;
  spec.describe = DescribeCollectorConfig;
  spec.log_options = [](const CollectorConfig& c) { return c.log; };
  spec.create =
      [](const CollectorConfig& c) -> Result<std::unique_ptr<daemon::Service<CollectorConfig>>> {
    return MakeCollectorService(c);
  };
  return spec;
}

}  // namespace hw::collector
