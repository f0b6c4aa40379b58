// hostwatch-logwatch: wiring only; see logwatch/README.md.
#include "logwatch/logwatch_daemon.h"

int main(int argc, char** argv) {
  return hw::daemon::RunDaemon(hw::logwatch::LogwatchDaemonSpec(), argc, argv);
}
