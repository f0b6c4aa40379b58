// Redis Cluster routing for the cacher (Debian's hiredis 0.14 has none): CRC16 slots with hash
// tags, one pipeline per node, MOVED (update the slot, refresh the topology) and ASK (ASKING, then
// the command, on the importing node) redirects. Not thread-safe: the sink thread owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rediscache/redis_client.h"

namespace hw::rediscache {

// CRC16/XMODEM as Redis Cluster uses it ("123456789" -> 0x31c3).
uint16_t Crc16(std::string_view data);
// The slot of a key: CRC16 of its hash tag ({...}, when non-empty) or of the whole key, mod 16384.
uint16_t KeySlot(std::string_view key);

// "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> slot and address; false for other errors.
struct Redirect {
  bool ask = false;
  uint16_t slot = 0;
  RedisAddress address;
};
bool ParseRedirect(std::string_view error, Redirect* out);

class ClusterBackend : public RedisBackend {
 public:
  ClusterBackend(std::vector<RedisAddress> seeds, ConnectOptions options);
  Result<std::vector<Reply>> Run(const Pipeline& pipeline) override;
  bool TakeRestarted() override;
  std::string Describe() const override;

  // For tests and metrics.
  uint64_t redirects() const { return redirects_; }
  uint64_t refreshes() const { return refreshes_; }

 private:
  struct Node {
    RedisAddress address;
    std::unique_ptr<RedisConnection> conn;
    std::string run_id;
  };
  int NodeIndex(const RedisAddress& address);
  Result<RedisConnection*> Connection(int node);
  Status Refresh();

  std::vector<RedisAddress> seeds_;
  ConnectOptions options_;
  std::vector<Node> nodes_;
  std::vector<int> slots_;  // slot -> index into nodes_, -1 unknown
  bool have_topology_ = false;
  bool restarted_ = false;
  uint64_t redirects_ = 0, refreshes_ = 0;
};

}  // namespace hw::rediscache
