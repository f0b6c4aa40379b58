# hostwatch-collector end to end: the real collector binary against a real broker (label
# integration). About a minute in all, 30 s of which is the broker-down scenario.
hw_test(collector_integration_test SOURCES collector_integration_test.cc
        DEPS hostwatch_broker_harness hostwatch_common LABELS integration TIMEOUT 300)
add_dependencies(collector_integration_test hostwatch-broker hostwatch-collector)

# The tcp, disk and net plugins in process on the live kernel of a "busy host" (more than 200
# sockets, 40 mounts, 40 interfaces, in namespaces of the test's own), against ss,
# /proc/self/mountinfo and /proc/net/dev at the same tick. Needs root; skips without it.
hw_test(collector_busy_host_test SOURCES collector_busy_host_test.cc
        DEPS hostwatch_collector hostwatch_testing LABELS integration TIMEOUT 120)
