#include "logwatch/logwatch_daemon.h"

#include "logwatch/logwatch_service.h"

namespace hw::logwatch {

daemon::DaemonSpec<LogwatchConfig> LogwatchDaemonSpec() {
  daemon::DaemonSpec<LogwatchConfig> spec;
  spec.name = "hostwatch-logwatch";
  spec.summary =
      "Follows log files through rotation, matches rules (RE2 with a Vectorscan prefilter) and\n"
      "publishes events and per-interval counts and values to the broker.";
  spec.load = LoadLogwatchConfig;
  spec.describe = DescribeLogwatchConfig;
  spec.log_options = [](const LogwatchConfig& c) { return c.log; };
  spec.create = MakeLogwatchService;
  return spec;
}

}  // namespace hw::logwatch
