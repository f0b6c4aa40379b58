# hostwatch-alerter end to end: a real broker, the real daemon (kill -9 included), samples published
# through a producer link, notifications read from its outbox.
hw_test(alerter_test SOURCES alerter_test.cc
        DEPS hostwatch_broker_harness hostwatch_common LABELS integration TIMEOUT 300)
add_dependencies(alerter_test hostwatch-broker hostwatch-alerter hostwatch)
