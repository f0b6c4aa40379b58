// hostwatch-alerter: wiring only; see alerter/README.md.
#include "alerter/alerter_daemon.h"

int main(int argc, char** argv) {
  return hw::daemon::RunDaemon(hw::alerter::AlerterDaemonSpec(), argc, argv);
}
