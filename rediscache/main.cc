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
  // No fastbins: every envelope's bytes are a large allocation, which made glibc consolidate the
  // fastbins each time (tcache still serves the small sizes per thread).
  mallopt(M_MXFAST, 0);
  // One arena: the envelopes' buffers are allocated by ZeroMQ's I/O thread and freed by the sink
  // thread; in per-thread arenas that made the I/O thread's arena grow and fault in pages anew.
  mallopt(M_ARENA_MAX, 1);
  return hw::daemon::RunDaemon(hw::rediscache::RedisCacheDaemonSpec(), argc, argv);
}
