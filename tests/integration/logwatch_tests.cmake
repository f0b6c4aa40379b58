# hostwatch-logwatch end to end: real files, the real logrotate, a real broker, a consumer.
hw_test(logwatch_test SOURCES logwatch_test.cc
        DEPS hostwatch_broker_harness hostwatch_common LABELS integration TIMEOUT 300)
add_dependencies(logwatch_test hostwatch-broker hostwatch-logwatch)
