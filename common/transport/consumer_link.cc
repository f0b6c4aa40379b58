// The consumer link; see consumer_link.h and docs/wire_format.md §5.
//
// Per broker: one DEALER to its backend and a PAIR reading that DEALER's socket monitor. Deliveries
// are read into `pending` and handed out by Poll. Bookkeeping that makes the protocol safe:
//
//  - Credit is given back when a delivery leaves the link (handed to the caller, or dropped as a
//    duplicate, malformed or revoked), in steps of half the window, so the broker never has more
//    than `credit` deliveries in flight or waiting here.
//  - A Subscribe is answered with an Assignment, and the broker sets (not adds) the member's
//    credit. Deliveries that arrive between our Subscribe and that Assignment were sent on the old
//    credit and are not given back; every (re)subscription starts a new credit `session`.
//  - Commits per partition: `outstanding` holds offsets the caller has (or will get) but has not
//    committed; `auto_done` holds offsets the link finished itself (duplicates, malformed). The
//    offset sent is the caller's cumulative commit, raised over auto-done offsets below the first
//    outstanding one.
//  - Resubscription (the broker forgets members when it restarts, and expires silent ones): on a
//    reconnect seen by the socket monitor, on any ConsumerMessage{error} (the broker answers a
//    heartbeat from an unknown member with one), and when no Assignment or Delivery has arrived for
//    kResubscribeAfterSilence while connected and heartbeating. A Subscribe always gets an
//    Assignment back, so the last one is a fallback that also confirms membership on an idle
//    broker; it backs off (doubling up to kMaxSilenceBackoff, reset by a delivery) because every
//    Subscribe makes the broker rebalance the group, and the first two triggers already catch
//    restarts and expiries.
#include "common/transport/consumer_link.h"

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
#include "common/transport/zmq_socket.h"

namespace hw::transport {
namespace {

using Clock = std::chrono::steady_clock;
using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;
using hostwatch::v1::Envelope;

constexpr auto kHeartbeatEvery = std::chrono::milliseconds(1000);
constexpr auto kResubscribeAfterSilence = std::chrono::milliseconds(3000);
constexpr auto kMaxSilenceBackoff = std::chrono::milliseconds(30000);
constexpr auto kMinResubscribeGap =
    std::chrono::milliseconds(1000);  // after an error from the broker
constexpr auto kHousekeepingEvery = std::chrono::milliseconds(100);  // longest single wait in Poll
constexpr int kZmqHeartbeatIvlMs = 1000;
constexpr int kZmqHeartbeatTimeoutMs = 3000;
constexpr int kCloseLingerMs = 1000;  // lets the last Commit leave when the link is destroyed
constexpr size_t kMaxRunsPerEpoch = size_t{1} << 16;

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
Result<ZmqSocket> OpenDealer(void* ctx, const CurveClientKeys* keys, int rcvhwm) {
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

bool SendRequestOn(void* sock, const ConsumerRequest& req) {
  std::string bytes = req.SerializeAsString();
  return zmq_send(sock, bytes.data(), bytes.size(), ZMQ_DONTWAIT) == static_cast<int>(bytes.size());
}

uint64_t ItemsIn(const Envelope& e) {
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

std::string SourceKey(const std::string& source, uint64_t epoch) {
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

}  // namespace

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

Status ConsumerLink::Impl::Open() {
  if (options.group.empty()) return Status::InvalidArgument("consumer link: group is required");
  if (options.credit == 0)
    return Status::InvalidArgument("consumer link: credit must be at least 1");
  if (options.link.brokers.empty() && options.link.backends.empty()) {
    return Status::InvalidArgument("consumer link: no broker listed");
  }
  for (hostwatch::v1::Topic t : options.topics) {
    if (t == hostwatch::v1::TOPIC_UNSPECIFIED || !hostwatch::v1::Topic_IsValid(t)) {
      return Status::InvalidArgument("consumer link: topic " + std::to_string(static_cast<int>(t)) +
                                     " is not samples, events or alerts");
    }
  }
  if (ctx.get() == nullptr) return Status::Internal("zmq_ctx_new: " + ZmqErrorText());
  CurveClientKeys keys;
  if (options.link.curve.enabled) {
    HW_ASSIGN_OR_RETURN(keys, LoadCurveClientKeys(options.link.curve));
  }
  const int rcvhwm =
      static_cast<int>(std::min<uint64_t>(uint64_t{options.credit} * 4 + 10000, 1u << 30));
  const size_t n = std::max(options.link.brokers.size(), options.link.backends.size());
  brokers.resize(n);
  const auto now = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    BrokerConn& b = brokers[i];
    HW_ASSIGN_OR_RETURN(b.endpoint, options.link.BackendFor(i));
    HW_ASSIGN_OR_RETURN(
        b.sock, OpenDealer(ctx.get(), options.link.curve.enabled ? &keys : nullptr, rcvhwm));
    // The monitor tells a reconnect (a restarted broker has forgotten us) from a quiet broker.
    HW_ASSIGN_OR_RETURN(b.monitor,
                        SocketMonitor::Attach(ctx.get(), b.sock.get(),
                                              ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                                                  ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                                  ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
    if (zmq_connect(b.sock.get(), b.endpoint.c_str()) != 0) {
      return Status::InvalidArgument("connect " + b.endpoint + ": " + ZmqErrorText());
    }
    b.last_heartbeat = now;
    SendSubscribe(b, options.start, now, nullptr);
  }
  for (BrokerConn& b : brokers) {
    poll_items.push_back({b.sock.get(), 0, ZMQ_POLLIN, 0});
    poll_items.push_back({b.monitor.get(), 0, ZMQ_POLLIN, 0});
  }
  return Status::Ok();
}

void ConsumerLink::Impl::SendSubscribe(BrokerConn& b, hostwatch::v1::Subscribe::Start start,
                                       Clock::time_point now, const char* reason) {
  ConsumerRequest req;
  hostwatch::v1::Subscribe* s = req.mutable_subscribe();
  s->set_group(options.group);
  for (hostwatch::v1::Topic t : options.topics) s->add_topics(t);
  s->set_start(start);
  s->set_credit(options.credit);
  b.last_subscribe = now;
  b.last_confirm = now;
  if (!Send(b, req)) {
    b.resubscribe_due = true;  // the send queue is full: try again at the next housekeeping
    return;
  }
  if (reason != nullptr) {
    spdlog::debug("consumer link: subscribing again to {} ({})", b.endpoint, reason);
  }
  b.resubscribe_due = false;
  b.silence_limit = kResubscribeAfterSilence;
  ++b.session;
  b.awaiting_assignment = true;
  b.consumed_since_grant = 0;
  // The broker resumes our partitions after its committed offsets (and a restarted one may hold
  // older ones): send our commits again once they move.
  for (auto& [p, ps] : b.parts) ps.last_sent = 0;
}

void ConsumerLink::Impl::DrainMonitor(BrokerConn& b, Clock::time_point now) {
  while (std::optional<MonitorEvent> ev = b.monitor.Next()) {
    const uint16_t id = ev->id;
    const uint32_t value = ev->value;
    switch (id) {
      case ZMQ_EVENT_CONNECTED:
        b.connected = true;
        // A fresh connection after a lost one: a restarted broker does not know this member. (The
        // first Subscribe was queued before the first connection.)
        if (b.saw_disconnect) {
          SendSubscribe(b, hostwatch::v1::Subscribe::COMMITTED, now, "reconnected");
        }
        b.saw_disconnect = false;
        break;
      case ZMQ_EVENT_DISCONNECTED:
        spdlog::debug("consumer link: disconnected from {}", b.endpoint);
        b.connected = false;
        b.saw_disconnect = true;
        break;
      default:
        if (auto n = handshake_log.Allow()) {
          spdlog::warn(
              "consumer link: handshake with {} failed (event {}, {}); is CURVE set up and "
              "this key authorized? ({} more since)",
              b.endpoint, id, value, *n);
        }
        break;
    }
  }
}

void ConsumerLink::Impl::Drain(size_t index, Clock::time_point now) {
  BrokerConn& b = brokers[index];
  for (;;) {
    ZmqMessage head;
    if (zmq_msg_recv(head.get(), b.sock.get(), ZMQ_DONTWAIT) < 0) return;
    b.connected = true;  // even if the monitor has not said so yet
    ZmqMessage body;
    bool has_body = false;
    if (head.more()) {
      has_body = zmq_msg_recv(body.get(), b.sock.get(), 0) >= 0;
      bool more = has_body && body.more();
      while (more) {  // frames beyond the two we expect
        ZmqMessage junk;
        more = zmq_msg_recv(junk.get(), b.sock.get(), 0) >= 0 && junk.more();
      }
    }
    if (!scratch.ParseFromArray(head.data(), static_cast<int>(head.size()))) {
      ++stats.malformed;  // cannot even tell the offset: counted, nothing to commit
      if (auto n = malformed_log.Allow()) {
        spdlog::warn("consumer link: unparsable message from {} ({} more since)", b.endpoint, *n);
      }
      continue;
    }
    switch (scratch.message_case()) {
      case ConsumerMessage::kDelivery:
        OnDelivery(index, scratch.delivery(), has_body ? body.data() : nullptr,
                   has_body ? body.size() : 0, has_body, now);
        break;
      case ConsumerMessage::kAssignment:
        OnAssignment(index, scratch.assignment(), now);
        break;
      case ConsumerMessage::kError:
        OnError(b, scratch.error().error(), now);
        break;
      case ConsumerMessage::kStats:
      case ConsumerMessage::MESSAGE_NOT_SET:
        break;
    }
  }
}

bool ConsumerLink::Impl::Track(const Envelope& e, uint64_t items) {
  SourceTrack& st = sources[e.source()];
  EpochTrack* et = st.last;
  if (et == nullptr || et->epoch != e.epoch()) {
    et = nullptr;
    for (EpochTrack& x : st.epochs) {
      if (x.epoch == e.epoch()) et = &x;
    }
    if (et == nullptr) {
      et = &st.epochs.emplace_back();
      et->epoch = e.epoch();
      et->summary = &stats.sources[SourceKey(e.source(), e.epoch())];
    }
    st.last = et;
  }
  SourceSummary& s = *et->summary;
  if (!et->seen.Insert(e.seq())) {
    ++s.duplicates;
    return false;
  }
  ++s.received;
  s.items += items;
  s.max_seq = std::max(s.max_seq, e.seq());
  s.missing = s.max_seq - s.received;
  return true;
}

void ConsumerLink::Impl::OnDelivery(size_t index, const hostwatch::v1::DeliveryHeader& h,
                                    const void* data, size_t size, bool has_body,
                                    Clock::time_point now) {
  BrokerConn& b = brokers[index];
  ++stats.deliveries;
  b.last_confirm = now;
  b.silence_limit = kResubscribeAfterSilence;
  const uint64_t session = b.awaiting_assignment ? 0 : b.session;
  PartitionState& ps = b.parts[h.partition()];
  Pending p{Delivery{index, h.partition(), h.offset(), 0, Envelope()}, session};
  Envelope& e = p.delivery.envelope;
  bool parsed = false;
  if (has_body && options.parse_bodies) {
    parsed = e.ParseFromArray(data, static_cast<int>(size));
    p.delivery.items = ItemsIn(e);
  } else if (has_body) {
    naming::EnvelopeWire w;
    parsed = naming::ScanEnvelope(std::string_view(static_cast<const char*>(data), size), &w);
    e.set_source(w.source.data(), w.source.size());
    e.set_epoch(w.epoch);
    e.set_seq(w.seq);
    e.set_sent_ms(w.sent_ms);
    p.delivery.items = w.items;
  }
  // Without a source and seq an envelope cannot be deduplicated or counted: as good as unparsable.
  if (!parsed || e.source().empty() || e.seq() == 0) {
    ++stats.malformed;
    if (auto n = malformed_log.Allow()) {
      spdlog::warn(
          "consumer link: malformed delivery from {} partition {} offset {} skipped "
          "({} more since)",
          b.endpoint, h.partition(), h.offset(), *n);
    }
    ps.auto_done.insert(h.offset());
    Consumed(b, session);
    return;
  }
  if (!Track(e, p.delivery.items)) {
    ++stats.duplicates;
    ps.auto_done.insert(h.offset());
    Consumed(b, session);
    return;
  }
  if (h.offset() > ps.caller_done) ps.outstanding.insert(h.offset());
  pending.push_back(std::move(p));
}

void ConsumerLink::Impl::OnAssignment(size_t index, const hostwatch::v1::Assignment& a,
                                      Clock::time_point now) {
  BrokerConn& b = brokers[index];
  b.last_confirm = now;
  b.awaiting_assignment = false;
  b.generation = a.generation();
  b.partitions.assign(a.partitions().begin(), a.partitions().end());
  std::sort(b.partitions.begin(), b.partitions.end());
  std::erase_if(b.parts, [&](const auto& kv) { return !b.Assigned(kv.first); });
  // Deliveries of partitions we lost go to their new owner from its committed offset: drop ours.
  std::deque<Pending> keep;
  for (Pending& p : pending) {
    if (p.delivery.broker == index && !b.Assigned(p.delivery.partition)) {
      Consumed(b, p.session);
    } else {
      keep.push_back(std::move(p));
    }
  }
  pending.swap(keep);
}

void ConsumerLink::Impl::OnError(BrokerConn& b, const std::string& error, Clock::time_point now) {
  if (auto n = error_log.Allow()) {
    spdlog::warn("consumer link: broker {} says: {} ({} more since)", b.endpoint, error, *n);
  }
  // Typically "unknown member" after a broker restart or an expiry: join again.
  if (now - b.last_subscribe >= kMinResubscribeGap) {
    SendSubscribe(b, hostwatch::v1::Subscribe::COMMITTED, now, "broker error");
  }
}

void ConsumerLink::Impl::GrantCredit(BrokerConn& b) {
  const uint64_t step = std::max<uint64_t>(1, options.credit / 2);
  if (b.consumed_since_grant < step) return;
  ConsumerRequest req;
  req.mutable_credit()->set_n(
      static_cast<uint32_t>(std::min<uint64_t>(b.consumed_since_grant, UINT32_MAX)));
  if (Send(b, req)) b.consumed_since_grant -= req.credit().n();
}

bool ConsumerLink::Impl::FlushCommits(BrokerConn& b) {
  bool ok = true;
  for (auto& [partition, ps] : b.parts) {
    if (!b.Assigned(partition)) continue;
    const uint64_t target = ps.Target();
    if (target <= ps.last_sent) continue;
    ConsumerRequest req;
    req.mutable_commit()->set_partition(partition);
    req.mutable_commit()->set_offset(target);
    if (!Send(b, req)) {
      ok = false;
      continue;
    }
    ps.last_sent = target;
    ps.auto_done.erase(ps.auto_done.begin(), ps.auto_done.upper_bound(target));
  }
  return ok;
}

void ConsumerLink::Impl::Housekeeping(Clock::time_point now) {
  for (BrokerConn& b : brokers) {
    // Nothing is queued while disconnected: a restarted broker would only answer stale heartbeats
    // with "unknown member", and the reconnect sends a Subscribe anyway.
    if (!b.connected) continue;
    if (b.resubscribe_due) {
      SendSubscribe(b, hostwatch::v1::Subscribe::COMMITTED, now, "retry");
    } else if (now - std::max(b.last_confirm, b.last_subscribe) >= b.silence_limit) {
      const auto next_limit = std::min(b.silence_limit * 2, kMaxSilenceBackoff);
      SendSubscribe(b, hostwatch::v1::Subscribe::COMMITTED, now,
                    "no assignment or delivery for a while");
      b.silence_limit = next_limit;
    }
    if (now - b.last_heartbeat >= kHeartbeatEvery) {
      ConsumerRequest req;
      req.mutable_heartbeat();
      if (Send(b, req)) b.last_heartbeat = now;
    }
    GrantCredit(b);
    // Moves only over offsets the link finished itself, or to repeat commits after a Subscribe.
    (void)FlushCommits(b);
  }
}

ConsumerLink::ConsumerLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsumerLink::~ConsumerLink() = default;

Result<std::unique_ptr<ConsumerLink>> ConsumerLink::Connect(const ConsumerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  HW_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<ConsumerLink>(new ConsumerLink(std::move(impl)));
}

Result<std::vector<Delivery>> ConsumerLink::Poll(std::chrono::milliseconds timeout, size_t max) {
  Impl& s = *impl_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto now = Clock::now();
    for (size_t i = 0; i < s.brokers.size(); ++i) {
      s.DrainMonitor(s.brokers[i], now);
      s.Drain(i, now);
    }
    now = Clock::now();
    s.Housekeeping(now);
    if (!s.pending.empty() || max == 0 || now >= deadline) break;
    const auto wait = std::min<Clock::duration>(deadline - now, kHousekeepingEvery);
    const long wait_ms = std::max<long>(
        1, static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (zmq_poll(s.poll_items.data(), static_cast<int>(s.poll_items.size()), wait_ms) < 0) {
      if (zmq_errno() == EINTR) break;  // a signal: let the caller look at its stop flag
      return Status::Internal("zmq_poll: " + ZmqErrorText());
    }
  }
  std::vector<Delivery> out;
  const size_t n = std::min(max, s.pending.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Pending& p = s.pending.front();
    s.Consumed(s.brokers[p.delivery.broker], p.session);
    out.push_back(std::move(p.delivery));
    s.pending.pop_front();
  }
  for (BrokerConn& b : s.brokers) {
    if (b.connected) s.GrantCredit(b);
  }
  return out;
}

Status ConsumerLink::Commit(const std::vector<Delivery>& done) {
  Impl& s = *impl_;
  for (const Delivery& d : done) {
    if (d.broker >= s.brokers.size()) {
      return Status::InvalidArgument("commit: no broker " + std::to_string(d.broker));
    }
    BrokerConn& b = s.brokers[d.broker];
    auto it = b.parts.find(d.partition);
    if (it == b.parts.end()) continue;  // not ours any more: its new owner repeats it
    PartitionState& ps = it->second;
    if (d.offset <= ps.caller_done) continue;
    ps.caller_done = d.offset;
    ps.outstanding.erase(ps.outstanding.begin(), ps.outstanding.upper_bound(d.offset));
  }
  std::string failed;
  for (BrokerConn& b : s.brokers) {
    if (!b.connected) continue;  // sent after the reconnect's Subscribe
    if (!s.FlushCommits(b)) failed += (failed.empty() ? "" : ", ") + b.endpoint;
  }
  if (!failed.empty()) return Status::Unavailable("commit not sent (send queue full) to " + failed);
  return Status::Ok();
}

std::vector<std::vector<uint32_t>> ConsumerLink::assignments() const {
  std::vector<std::vector<uint32_t>> out;
  for (const BrokerConn& b : impl_->brokers) out.push_back(b.partitions);
  return out;
}

const ConsumerStats& ConsumerLink::stats() const { return impl_->stats; }

ConsumerStats ConsumerLink::Summary() const {
  ConsumerStats out = impl_->stats;
  for (auto& [key, s] : out.sources)
    s.missing = s.max_seq >= s.received ? s.max_seq - s.received : 0;
  return out;
}

Result<hostwatch::v1::BrokerStats> QueryBrokerStats(const std::string& backend,
                                                    const CurveClientConfig& curve,
                                                    std::chrono::milliseconds timeout) {
  CurveClientKeys keys;
  if (curve.enabled) {
    HW_ASSIGN_OR_RETURN(keys, LoadCurveClientKeys(curve));
  }
  Context ctx;
  if (ctx.get() == nullptr) return Status::Internal("zmq_ctx_new: " + ZmqErrorText());
  HW_ASSIGN_OR_RETURN(ZmqSocket sock, OpenDealer(ctx.get(), curve.enabled ? &keys : nullptr, 1000));
  if (zmq_connect(sock.get(), backend.c_str()) != 0) {
    return Status::InvalidArgument("connect " + backend + ": " + ZmqErrorText());
  }
  ConsumerRequest req;
  req.mutable_stats();
  if (!SendRequestOn(sock.get(), req))
    return Status::Unavailable("send to " + backend + ": " + ZmqErrorText());
  const auto deadline = Clock::now() + timeout;
  ConsumerMessage reply;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    zmq_pollitem_t item{sock.get(), 0, ZMQ_POLLIN, 0};
    const long wait_ms = std::max<long>(
        1, static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count()));
    if (zmq_poll(&item, 1, wait_ms) < 0) {
      if (zmq_errno() == EINTR) return Status::Cancelled("interrupted");
      return Status::Internal("zmq_poll: " + ZmqErrorText());
    }
    for (;;) {
      ZmqMessage head;
      if (zmq_msg_recv(head.get(), sock.get(), ZMQ_DONTWAIT) < 0) break;
      bool more = head.more();
      while (more) {
        ZmqMessage junk;
        more = zmq_msg_recv(junk.get(), sock.get(), 0) >= 0 && junk.more();
      }
      if (!reply.ParseFromArray(head.data(), static_cast<int>(head.size()))) continue;
      if (reply.has_stats()) return std::move(*reply.mutable_stats());
      if (reply.has_error()) return Status::Unavailable(backend + ": " + reply.error().error());
    }
  }
  return Status::DeadlineExceeded("no answer from " + backend + " within " +
                                  std::to_string(timeout.count()) + "ms");
}

}  // namespace hw::transport
