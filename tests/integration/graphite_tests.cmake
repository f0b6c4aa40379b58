# hostwatch-graphite against real carbon-cache and graphite's own Python ring (label integration).
hw_test(graphite_ring_oracle_test SOURCES graphite_ring_oracle_test.cc
        DEPS hostwatch_graphite hostwatch_testing LABELS integration TIMEOUT 300)
# The forwarder end to end: real broker, real carbon-caches (two on 127.0.0.1 and 127.0.0.2),
# whisper read-back; about five minutes, two of which are the destination-down scenario.
hw_test(graphite_test SOURCES graphite_test.cc
        DEPS hostwatch_broker_harness hostwatch_graphite hostwatch_common LABELS integration
        TIMEOUT 900)
add_dependencies(graphite_test hostwatch-broker hostwatch-graphite)
