// hostwatch-graphite as a daemon: the consumer kit with a GraphiteSink, and what main.cc hands to
// common/daemon's RunDaemon.
#pragma once

#include <memory>

#include "common/daemon/daemon.h"
#include "graphite/graphite_config.h"

namespace hw::graphite {

// Start: opens the destinations' spools and connects the kit. Reload (SIGHUP): the graphite
// section takes effect at the sink's next tick without losing queued lines, spools or offsets; a
// changed link section needs a restart (refused, the old config is kept).
Result<std::unique_ptr<daemon::Service<GraphiteConfig>>> MakeGraphiteService(
    const GraphiteConfig& config);

daemon::DaemonSpec<GraphiteConfig> GraphiteDaemonSpec();

}  // namespace hw::graphite
