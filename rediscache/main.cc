// hostwatch-rediscache: wiring only; see rediscache/README.md.
#include <malloc.h>

#include "rediscache/rediscache_service.h"

int main(int argc, char** argv) {
  // Catching up, each pipeline builds and frees megabytes (commands, hiredis' output buffer,
  // replies); with glibc's defaults those go back to the kernel and fault in again every time,
  // which cost more CPU than the cache's own work. Keep them.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  // No fastbins: the large allocations (ZeroMQ's receive buffers, pipelines) made glibc
  // consolidate them every time (malloc_consolidate was 2-3% of the cacher's CPU); tcache still
  // serves the small sizes per thread.
  mallopt(M_MXFAST, 0);
  return hw::daemon::RunDaemon(hw::rediscache::RedisCacheDaemonSpec(), argc, argv);
}
