# hostwatch-graphite against real carbon-cache and graphite's own Python ring (label integration).
hw_test(graphite_ring_oracle_test SOURCES graphite_ring_oracle_test.cc
        DEPS hostwatch_graphite hostwatch_testing LABELS integration TIMEOUT 300)
