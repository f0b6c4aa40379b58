# hostwatch-rediscache end to end: a real broker, real redis-server / Redis Cluster, the cacher.
hw_test(rediscache_test SOURCES rediscache_test.cc
        DEPS hostwatch_broker_harness hostwatch_common PkgConfig::HIREDIS
        LABELS integration TIMEOUT 600)
add_dependencies(rediscache_test hostwatch-broker hostwatch-rediscache hostwatch)
