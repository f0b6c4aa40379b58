// hostwatch-graphite: wiring only; see graphite/README.md.
#include "graphite/graphite_daemon.h"

int main(int argc, char** argv) {
  return hw::daemon::RunDaemon(hw::graphite::GraphiteDaemonSpec(), argc, argv);
}
