// hostwatch-logwatch as a daemon: what main.cc hands to common/daemon's RunDaemon.
#pragma once

#include "common/daemon/daemon.h"
#include "logwatch/logwatch_config.h"

namespace hw::logwatch {

daemon::DaemonSpec<LogwatchConfig> LogwatchDaemonSpec();

}  // namespace hw::logwatch
