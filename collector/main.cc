// hostwatch-collector: wiring only; see collector/README.md.
#include <malloc.h>

#include "collector/collector_daemon.h"

int main(int argc, char** argv) {
  // A handful of threads each allocate a little; one malloc arena keeps the resident set of an
  // agent that runs on every host small (glibc otherwise makes one arena per thread, each of which
  // keeps freed memory around).
  mallopt(M_ARENA_MAX, 1);
  return hw::daemon::RunDaemon(hw::collector::CollectorDaemonSpec(), argc, argv);
}
