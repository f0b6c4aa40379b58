// Internal to the consumer link: what consumer_link.cc (the API) and consumer_link_session.cc
// (the per-broker protocol: subscribe, deliveries, credit, commits, resubscription) share. The
// rules are stated at the top of consumer_link.cc.
#pragma once

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/base/clock.h"
#include "common/daemon/logging.h"
#include "common/naming/envelope_wire.h"
#include "common/transport/consumer_link.h"
#include "common/transport/dedup_tracker.h"
#include "common/transport/heartbeat.h"
#include "common/transport/partition_commits.h"
#include "common/transport/zmq_socket.h"

namespace hw::transport {
// Named, not anonymous: both files use these. Nothing outside common/transport includes this
// header.
namespace consumer_internal {

// The timers' time points. Their values come from the link's hw::Clock (Impl::Now), so a fake
// clock in tests moves them; steady_clock::now() itself is read only for a caller's deadline.
using Clock = std::chrono::steady_clock;
using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;
using hostwatch::v1::Envelope;

// Heartbeat after sending a broker nothing for kConsumerHeartbeat.idle (heartbeat.h).
inline constexpr auto kResubscribeAfterSilence = kConsumerHeartbeat.silence;
inline constexpr auto kMaxSilenceBackoff = std::chrono::milliseconds(30000);
inline constexpr auto kMinResubscribeGap =
    std::chrono::milliseconds(1000);  // after an error from the broker
inline constexpr auto kHousekeepingEvery =
    std::chrono::milliseconds(100);  // longest single wait in Poll
inline constexpr int kCloseLingerMs =
    1000;  // lets the last Commit leave when the link is destroyed

// A DEALER for a broker backend: no linger, the links' socket options (no ZMTP heartbeats), CURVE
// client keys when given.
inline Result<ZmqSocket> OpenDealer(void* ctx, const CurveClientKeys* keys, int rcvhwm) {
  ZmqSocket s(zmq_socket(ctx, ZMQ_DEALER));
  if (s.get() == nullptr) return Status::Internal("zmq_socket: " + ZmqErrorText());
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  HW_RETURN_IF_ERROR(ApplyLinkSocketOptions(s.get()));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RCVHWM, rcvhwm, "ZMQ_RCVHWM"));
  if (keys != nullptr) HW_RETURN_IF_ERROR(ApplyCurveClientKeys(s.get(), *keys));
  return s;
}

inline int64_t MonoMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline bool SendRequestOn(void* sock, const ConsumerRequest& req) {
  std::string bytes = req.SerializeAsString();
  return zmq_send(sock, bytes.data(), bytes.size(), ZMQ_DONTWAIT) == static_cast<int>(bytes.size());
}

inline uint64_t ItemsIn(const Envelope& e) {
  switch (e.body_case()) {
    case Envelope::kSamples:
      return static_cast<uint64_t>(e.samples().samples_size());
    case Envelope::kEvents:
      return static_cast<uint64_t>(e.events().events_size());
    case Envelope::kAlerts:
      return static_cast<uint64_t>(e.alerts().alerts_size());
    case Envelope::BODY_NOT_SET:
      break;
  }
  return 0;
}

struct BrokerConn {
  std::string endpoint;
  ZmqSocket sock;
  SocketMonitor monitor;
  std::vector<uint32_t> partitions;  // sorted; the latest Assignment
  uint64_t generation = 0;
  std::map<uint32_t, PartitionCommits> parts;

  uint64_t session = 0;             // grows with every Subscribe sent
  bool awaiting_assignment = true;  // a Subscribe is not yet answered
  uint64_t consumed_since_grant = 0;
  bool connected = false;       // per the socket monitor (or any message received)
  bool saw_disconnect = false;  // since the last connection: the next one needs a Subscribe
  bool resubscribe_due = false;
  Clock::time_point last_confirm;  // last Assignment or Delivery
  std::chrono::milliseconds silence_limit = kResubscribeAfterSilence;
  Clock::time_point last_subscribe;
  Clock::time_point
      last_sent;  // any request: a heartbeat is due only after kConsumerHeartbeat.idle

  bool Assigned(uint32_t p) const {
    return std::binary_search(partitions.begin(), partitions.end(), p);
  }
};

struct Pending {
  Delivery delivery;
  uint64_t session;  // 0: sent on a previous subscription's credit
};

}  // namespace consumer_internal
using namespace consumer_internal;  // the two files of the link only

struct ConsumerLink::Impl {
  explicit Impl(ConsumerOptions o)
      : options(std::move(o)), clock(options.clock != nullptr ? options.clock : &RealClock()) {}
  ~Impl() {
    // Say goodbye so the group rebalances at once rather than after the 5 s silence timeout, and
    // give that and the last Commit a moment to leave; the broker may be gone, so not forever.
    for (BrokerConn& b : brokers) {
      if (b.sock.get() == nullptr) continue;
      ConsumerRequest leave;
      leave.mutable_leave();
      (void)Send(b, leave);
      (void)SetSocketInt(b.sock.get(), ZMQ_LINGER, kCloseLingerMs, "ZMQ_LINGER");
    }
  }

  Status Open();
  void SendSubscribe(BrokerConn& b, hostwatch::v1::Subscribe::Start start, Clock::time_point now,
                     const char* reason);
  bool Send(BrokerConn& b, const ConsumerRequest& req) {
    if (!SendRequestOn(b.sock.get(), req)) return false;
    b.last_sent = Now();  // any request is proof of life to the broker
    return true;
  }
  void DrainMonitor(BrokerConn& b, Clock::time_point now);
  void Drain(size_t index, Clock::time_point now);
  void OnDelivery(size_t index, const hostwatch::v1::DeliveryHeader& h, const void* data,
                  size_t size, bool has_body, Clock::time_point now);
  void OnAssignment(size_t index, const hostwatch::v1::Assignment& a, Clock::time_point now);
  void OnError(BrokerConn& b, const std::string& error, Clock::time_point now);
  void Consumed(BrokerConn& b, uint64_t session) {
    if (session != 0 && session == b.session) ++b.consumed_since_grant;
  }
  void GrantCredit(BrokerConn& b);
  // Sends Commit for every assigned partition whose target moved; false when a send failed.
  bool FlushCommits(BrokerConn& b);
  void Housekeeping(Clock::time_point now);
  // The link's monotonic time (options.clock), as a steady_clock time point so that the timers
  // keep their types.
  Clock::time_point Now() const {
    return Clock::time_point(std::chrono::milliseconds(clock->MonoMs()));
  }

  ConsumerOptions options;
  const hw::Clock* clock;
  std::shared_ptr<void> ctx = SharedZmqContext();  // declared first: outlives every socket
  std::vector<BrokerConn> brokers;
  std::vector<zmq_pollitem_t> poll_items;  // per broker: its DEALER, then its monitor
  std::deque<Pending> pending;
  ConsumerStats stats;
  DedupTracker dedup{{options.dedup_forget_after}, &stats.sources};  // after stats: it points in
  daemon::RepeatLimiter error_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter malformed_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter handshake_log{std::chrono::seconds(10)};
  ConsumerMessage scratch;  // reused for every header: no allocation per delivery
};

}  // namespace hw::transport
