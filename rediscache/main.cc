// hostwatch-rediscache: wiring only; see rediscache/README.md.
#include "rediscache/rediscache_service.h"

int main(int argc, char** argv) {
  return hw::daemon::RunDaemon(hw::rediscache::RedisCacheDaemonSpec(), argc, argv);
}
