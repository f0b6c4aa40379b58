// hostwatch-broker as a daemon: what main.cc hands to common/daemon's RunDaemon.
#pragma once

#include "broker/broker_config.h"
#include "common/daemon/daemon.h"

namespace hw::broker {

daemon::DaemonSpec<BrokerConfig> BrokerDaemonSpec();

}  // namespace hw::broker
