// hostwatch-collector as a daemon: what main.cc hands to common/daemon's RunDaemon.
#pragma once

#include "collector/collector_config.h"
#include "common/daemon/daemon.h"

namespace hw::collector {

daemon::DaemonSpec<CollectorConfig> CollectorDaemonSpec();

}  // namespace hw::collector
