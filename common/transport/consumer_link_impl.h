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

#include "common/daemon/logging.h"
#include "common/naming/envelope_wire.h"
#include "common/transport/consumer_link.h"
#include "common/transport/zmq_socket.h"

namespace hw::transport {
// Named, not anonymous: both files use these. Nothing outside common/transport includes this
// header.
namespace consumer_internal {

using Clock = std::chrono::steady_clock;
using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;
using hostwatch::v1::Envelope;

inline constexpr auto kHeartbeatEvery = std::chrono::milliseconds(1000);
inline constexpr auto kResubscribeAfterSilence = std::chrono::milliseconds(3000);
inline constexpr auto kMaxSilenceBackoff = std::chrono::milliseconds(30000);
inline constexpr auto kMinResubscribeGap =
    std::chrono::milliseconds(1000);  // after an error from the broker
inline constexpr auto kHousekeepingEvery =
    std::chrono::milliseconds(100);  // longest single wait in Poll
inline constexpr int kZmqHeartbeatIvlMs = 1000;
inline constexpr int kZmqHeartbeatTimeoutMs = 3000;
inline constexpr int kCloseLingerMs =
    1000;  // lets the last Commit leave when the link is destroyed
inline constexpr size_t kMaxRunsPerEpoch = size_t{1} << 16;

// Owns a libzmq context; terminating it waits for its sockets' linger.
class Context {
 public:
  Context() : ctx_(zmq_ctx_new()) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    if (ctx_ == nullptr) return;
    while (zmq_ctx_term(ctx_) != 0 && zmq_errno() == EINTR) {
    }
  }
  void* get() const { return ctx_; }

 private:
  void* ctx_;
};

// A DEALER for a broker backend: no linger, ZMTP heartbeats, CURVE client keys when given.
inline Result<ZmqSocket> OpenDealer(void* ctx, const CurveClientKeys* keys, int rcvhwm) {
  ZmqSocket s(zmq_socket(ctx, ZMQ_DEALER));
  if (s.get() == nullptr) return Status::Internal("zmq_socket: " + ZmqErrorText());
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  HW_RETURN_IF_ERROR(
      SetSocketInt(s.get(), ZMQ_HEARTBEAT_IVL, kZmqHeartbeatIvlMs, "ZMQ_HEARTBEAT_IVL"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_TIMEOUT, kZmqHeartbeatTimeoutMs,
                                  "ZMQ_HEARTBEAT_TIMEOUT"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RCVHWM, rcvhwm, "ZMQ_RCVHWM"));
  if (keys != nullptr) HW_RETURN_IF_ERROR(ApplyCurveClientKeys(s.get(), *keys));
  return s;
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

inline std::string SourceKey(const std::string& source, uint64_t epoch) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(epoch));
  return source + "#" + hex;
}

// The seqs seen of one (source, epoch), as disjoint, non-adjacent runs [first, last]. In-order
// streams keep one run, so a million envelopes cost a few bytes. When gaps pile up past
// kMaxRunsPerEpoch, the lowest gap is forgotten (treated as seen): a late arrival there would then
// be taken for a duplicate. `missing` is computed from counts and stays exact.
class SeqSet {
 public:
  // False when seq was already in the set.
  bool Insert(uint64_t seq) {
    if (!runs_.empty()) {
      auto last = std::prev(runs_.end());
      if (seq == last->second + 1) {  // the common case: the next seq
        last->second = seq;
        return true;
      }
    }
    auto next = runs_.upper_bound(seq);  // first run starting after seq
    if (next != runs_.begin()) {
      auto prev = std::prev(next);
      if (seq <= prev->second) return false;
      if (prev->second + 1 == seq) {
        prev->second = seq;
        if (next != runs_.end() && next->first == seq + 1) {
          prev->second = next->second;
          runs_.erase(next);
        }
        return true;
      }
    }
    if (next != runs_.end() && next->first == seq + 1) {
      const uint64_t last = next->second;
      runs_.erase(next);
      runs_.emplace(seq, last);
      return true;
    }
    runs_.emplace(seq, seq);
    if (runs_.size() > kMaxRunsPerEpoch) {
      auto first = runs_.begin();
      auto second = std::next(first);
      first->second = second->second;
      runs_.erase(second);
    }
    return true;
  }

 private:
  std::map<uint64_t, uint64_t> runs_;
};

struct EpochTrack {
  uint64_t epoch = 0;
  SeqSet seen;
  SourceSummary* summary = nullptr;  // into ConsumerStats::sources (std::map: stable)
};

struct SourceTrack {
  std::deque<EpochTrack> epochs;  // deque: pointers stay valid as epochs are added
  EpochTrack* last = nullptr;
};

struct PartitionState {
  std::set<uint64_t> outstanding;  // kept for the caller, not yet committed by it
  std::set<uint64_t> auto_done;    // duplicates and malformed: done by the link itself
  uint64_t caller_done = 0;        // the caller's cumulative commit
  uint64_t last_sent = 0;          // the last Commit sent in this subscription

  // The highest offset that may be committed: everything up to it is done.
  uint64_t Target() const {
    const uint64_t barrier =
        outstanding.empty() ? std::numeric_limits<uint64_t>::max() : *outstanding.begin();
    uint64_t t = caller_done;
    auto it = auto_done.lower_bound(barrier);
    if (it != auto_done.begin()) t = std::max(t, *std::prev(it));
    return t;
  }
};

struct BrokerConn {
  std::string endpoint;
  ZmqSocket sock;
  SocketMonitor monitor;
  std::vector<uint32_t> partitions;  // sorted; the latest Assignment
  uint64_t generation = 0;
  std::map<uint32_t, PartitionState> parts;

  uint64_t session = 0;             // grows with every Subscribe sent
  bool awaiting_assignment = true;  // a Subscribe is not yet answered
  uint64_t consumed_since_grant = 0;
  bool connected = false;       // per the socket monitor (or any message received)
  bool saw_disconnect = false;  // since the last connection: the next one needs a Subscribe
  bool resubscribe_due = false;
  Clock::time_point last_confirm;  // last Assignment or Delivery
  std::chrono::milliseconds silence_limit = kResubscribeAfterSilence;
  Clock::time_point last_subscribe;
  Clock::time_point last_heartbeat;

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
  explicit Impl(ConsumerOptions o) : options(std::move(o)) {}
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
  bool Send(BrokerConn& b, const ConsumerRequest& req) { return SendRequestOn(b.sock.get(), req); }
  void DrainMonitor(BrokerConn& b, Clock::time_point now);
  void Drain(size_t index, Clock::time_point now);
  void OnDelivery(size_t index, const hostwatch::v1::DeliveryHeader& h, const void* data,
                  size_t size, bool has_body, Clock::time_point now);
  void OnAssignment(size_t index, const hostwatch::v1::Assignment& a, Clock::time_point now);
  void OnError(BrokerConn& b, const std::string& error, Clock::time_point now);
  // False when (source, epoch, seq) was seen before; updates the per-source summary.
  bool Track(const Envelope& e, uint64_t items);
  void Consumed(BrokerConn& b, uint64_t session) {
    if (session != 0 && session == b.session) ++b.consumed_since_grant;
  }
  void GrantCredit(BrokerConn& b);
  // Sends Commit for every assigned partition whose target moved; false when a send failed.
  bool FlushCommits(BrokerConn& b);
  void Housekeeping(Clock::time_point now);

  ConsumerOptions options;
  Context ctx;  // declared first: outlives every socket
  std::vector<BrokerConn> brokers;
  std::vector<zmq_pollitem_t> poll_items;  // per broker: its DEALER, then its monitor
  std::deque<Pending> pending;
  ConsumerStats stats;
  std::unordered_map<std::string, SourceTrack> sources;
  daemon::RepeatLimiter error_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter malformed_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter handshake_log{std::chrono::seconds(10)};
  ConsumerMessage scratch;  // reused for every header: no allocation per delivery
};

}  // namespace hw::transport
