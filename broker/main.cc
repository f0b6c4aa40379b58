// hostwatch-broker: wiring only; see broker/README.md.
#include "broker/broker_daemon.h"

int main(int argc, char** argv) {
  return hw::daemon::RunDaemon(hw::broker::BrokerDaemonSpec(), argc, argv);
}
