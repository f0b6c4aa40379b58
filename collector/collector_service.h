// hostwatch-collector as a daemon::Service: the producer link, the publisher and the scheduler
// with the configured plugins.
//
// Reload (SIGHUP) builds the new plugin set first and swaps it in only when every plugin could be
// created, so a bad config keeps the running one. The link and its spool survive a reload; when
// the endpoint or link settings change, the link is restarted on the new settings and what was
// spooled under the old ones is resent by the new link if the spool_dir is the same.
#pragma once

#include <memory>

#include "collector/collector_config.h"
#include "collector/scheduler.h"
#include "common/daemon/daemon.h"

namespace hw::collector {

// The plugins of a config, created and ready to schedule (not started).
Result<std::vector<ScheduledPlugin>> CreatePlugins(const CollectorConfig& config,
                                                   const HostEnv& env);

Result<std::unique_ptr<daemon::Service<CollectorConfig>>> MakeCollectorService(
    const CollectorConfig& config);

}  // namespace hw::collector
