// hostwatch-logwatch as a daemon::Service: the producer link plus one worker thread running the
// Engine. See logwatch/README.md.
#pragma once

#include <memory>

#include "common/daemon/daemon.h"
#include "logwatch/logwatch_config.h"

namespace hw::logwatch {

Result<std::unique_ptr<daemon::Service<LogwatchConfig>>> MakeLogwatchService(
    const LogwatchConfig& config);

}  // namespace hw::logwatch
