# hostwatch-collector end to end: the real collector binary against a real broker (label
# integration). About a minute in all, 30 s of which is the broker-down scenario.
hw_test(collector_integration_test SOURCES collector_integration_test.cc
        DEPS hostwatch_broker_harness hostwatch_common LABELS integration TIMEOUT 300)
add_dependencies(collector_integration_test hostwatch-broker hostwatch-collector)

