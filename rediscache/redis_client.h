// A small Redis client over hiredis 0.14 for the cacher: pipelines of argv commands (never a
// formatted command string), replies copied out of hiredis, bounded connect and reply timeouts,
// and the server's run_id (a different run_id after a reconnect means the server restarted,
// possibly empty).
//
// RedisBackend is what the sink talks to: a single server (SingleBackend) or a Redis Cluster
// (ClusterBackend in redis_cluster.h). Not thread-safe: one thread (the sink's) owns a backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "rediscache/rediscache_config.h"

struct redisContext;

namespace hw::rediscache {

// One command as its arguments; the key (for cluster routing) is argv[1].
struct Command {
  std::vector<std::string> argv;
};
using Pipeline = std::vector<Command>;

struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<Reply> elements;  // kArray
  bool error() const { return type == Type::kError; }
};

struct ConnectOptions {
  std::chrono::milliseconds timeout{2000};
  std::string username;  // empty: AUTH <password>
  std::string password;  // empty: no AUTH
};

class RedisConnection {
 public:
  // Connects (with the timeout), authenticates and reads run_id. Unavailable when the server is
  // unreachable; FailedPrecondition when AUTH is refused.
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisAddress& address,
                                                          const ConnectOptions& options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Appends every command, then reads every reply: one round trip. Unavailable when the
  // connection fails or a reply takes longer than the timeout; the connection is then unusable
  // (which commands ran is unknown: callers only send commands that are harmless to repeat).
  // Command errors (-ERR, -MOVED ...) are replies, not a failed Status.
  Result<std::vector<Reply>> Run(const std::vector<const Command*>& commands);
  Result<std::vector<Reply>> Run(const Pipeline& commands);
  // Run in two halves, so that several connections' pipelines are all on the wire before any
  // reply is awaited (a Redis Cluster: one round trip for all masters, not one after another).
  Status Send(const std::vector<const Command*>& commands);
  Result<std::vector<Reply>> Receive(size_t count);
  Result<Reply> RunOne(const Command& command);

  const std::string& run_id() const { return run_id_; }
  const RedisAddress& address() const { return address_; }
  bool broken() const { return broken_; }

 private:
  RedisConnection(redisContext* ctx, RedisAddress address) : ctx_(ctx), address_(address) {}
  redisContext* ctx_;
  RedisAddress address_;
  std::string run_id_;
  bool broken_ = false;
  std::string out_;  // the pipeline being sent, reused
};

class RedisBackend {
 public:
  virtual ~RedisBackend() = default;
  // Runs the pipeline; the replies come back in command order. Unavailable when a server cannot be
  // reached or answered too slowly: nothing can be assumed about what ran.
  virtual Result<std::vector<Reply>> Run(const Pipeline& pipeline) = 0;
  // True once after a server came back with another run_id (restarted, maybe empty): the caller
  // rewrites what it must not lose.
  virtual bool TakeRestarted() = 0;
  virtual std::string Describe() const = 0;
};

class SingleBackend : public RedisBackend {
 public:
  SingleBackend(RedisAddress address, ConnectOptions options)
      : address_(std::move(address)), options_(std::move(options)) {}
  Result<std::vector<Reply>> Run(const Pipeline& pipeline) override;
  bool TakeRestarted() override;
  std::string Describe() const override { return address_.ToString(); }

 private:
  RedisAddress address_;
  ConnectOptions options_;
  std::unique_ptr<RedisConnection> conn_;
  std::string run_id_;  // of the last server we talked to
  bool restarted_ = false;
};

// A single server or a cluster, from the config (several URLs: cluster seeds).
std::unique_ptr<RedisBackend> MakeBackend(const std::vector<RedisAddress>& addresses,
                                          const ConnectOptions& options);

// An error reply that says "not now" rather than "never" (BUSY, LOADING, TRYAGAIN, CLUSTERDOWN,
// MASTERDOWN, READONLY, OOM): the whole pipeline is retried later instead of being counted as a
// refused command and committed.
bool IsTransientError(const Reply& reply);

// run_id from the text of INFO server; empty when absent.
std::string ParseRunId(std::string_view info);

}  // namespace hw::rediscache
