// hostwatch-rediscache as a daemon::Service: the consumer kit with the RedisCacheSink.
#pragma once

#include <memory>

#include "common/daemon/daemon.h"
#include "rediscache/rediscache_config.h"

namespace hw::rediscache {

Result<std::unique_ptr<daemon::Service<RedisCacheConfig>>> MakeRedisCacheService(
    const RedisCacheConfig& config);

daemon::DaemonSpec<RedisCacheConfig> RedisCacheDaemonSpec();

}  // namespace hw::rediscache
