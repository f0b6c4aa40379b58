// Which broker a producer link talks to, and when it gives up on a connection (docs/wire_format.md
// §4, "Broker down or silent" and "Several brokers").
//
// Rules:
//   - Preference: each host ranks the listed brokers by a hash of (endpoint, index) and starts on
//     the top one (rendezvous hashing: a fleet spreads over the brokers, each host sticks to one,
//     and adding a broker moves only the hosts that now rank it first).
//   - Failover, to the next listed broker (wrapping), in this order of precedence:
//       no ack:   records wait unacked and the broker has said nothing for failover_after (only
//                 with several brokers: with one there is nowhere else to go, and libzmq keeps
//                 reconnecting to it);
//       refused:  our CURVE key was refused kAuthRetryAfter ago (libzmq never retries that itself;
//                 the broker may have authorized the key since), to the same broker when only one
//                 is listed;
//       silent:   something was sent and nothing at all heard back for the heartbeat silence
//                 (heartbeat.h): a half-open connection or a hung broker; a fresh connection finds
//                 out which (to the same broker when only one is listed).
//   - Failback: on another broker than the preferred one, with nothing unacked, kFailbackAfter
//     after connecting, go back to the preferred one.
//   - Heartbeats: PeerLiveness (heartbeat.h) on the current connection; Connected() starts it
//     afresh.
//
// Times are monotonic ms (hw::Clock::MonoMs). Pure; not thread-safe (the link thread's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/transport/heartbeat.h"

namespace hw::transport {

// The broker a producer prefers (see the rules above). Failover goes to the next index, wrapping.
size_t PreferredBroker(std::string_view endpoint, size_t broker_count);

inline constexpr std::chrono::minutes kFailbackAfter{5};
inline constexpr std::chrono::seconds kAuthRetryAfter{10};

class BrokerChoice {
 public:
  enum class Reason { kNoAck, kRefused, kSilent, kFailback };
  struct Switch {
    size_t to = 0;
    Reason why = Reason::kNoAck;
  };

  BrokerChoice(std::string_view endpoint, size_t brokers, std::chrono::milliseconds failover_after,
               HeartbeatTiming heartbeat = kProducerHeartbeat);

  size_t current() const { return current_; }
  size_t preferred() const { return preferred_; }

  // A new connection to `index` is open (at start, and after a Switch).
  void Connected(size_t index, int64_t now_ms);
  // Opening the new connection failed: stay, and wait another failover_after before trying again.
  void ConnectFailed(int64_t now_ms);
  // Once per turn of the link thread: whether records wait unacked, and whether anything at all
  // was heard from the broker since the last turn.
  void Observe(bool unacked, bool heard, int64_t now_ms);
  void AuthRefused(int64_t now_ms) {
    if (!auth_refused_ms_) auth_refused_ms_ = now_ms;
  }
  void AuthSucceeded() { auth_refused_ms_.reset(); }

  // What to do now, after Observe.
  std::optional<Switch> Decide(int64_t now_ms) const;
  // The earliest time Decide may say something new (for a poll timeout).
  int64_t NextDueMs() const;

  PeerLiveness& liveness() { return liveness_; }
  const PeerLiveness& liveness() const { return liveness_; }

 private:
  size_t Next() const { return (current_ + 1) % brokers_; }

  const size_t brokers_;
  const size_t preferred_;
  const int64_t failover_after_ms_;
  size_t current_;
  PeerLiveness liveness_;
  bool unacked_ = false;
  int64_t waiting_since_ms_ = 0;  // unacked records and nothing heard since then
  int64_t connected_ms_ = 0;
  std::optional<int64_t> auth_refused_ms_;
};

}  // namespace hw::transport
