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
//  - Commits per partition: PartitionCommits (partition_commits.h) holds the offsets the caller
//    has (or will get) and has not committed, and those the link finished itself (duplicates,
//    malformed); the offset sent is the caller's cumulative commit, raised over the link's own
//    offsets below the first outstanding one.
//  - Duplicates: DedupTracker (dedup_tracker.h), which forgets a (source, epoch) idle for
//    ConsumerOptions::dedup_forget_after.
//  - Resubscription (the broker forgets members when it restarts, and expires silent ones): on a
//    reconnect seen by the socket monitor, on any ConsumerMessage{error} (the broker answers a
//    heartbeat from an unknown member with one), and when no Assignment or Delivery has arrived for
//    kResubscribeAfterSilence while connected. A Subscribe always gets an
//    Assignment back, so the last one is a fallback that also confirms membership on an idle
//    broker; it backs off (doubling up to kMaxSilenceBackoff, reset by a delivery) because every
//    Subscribe makes the broker rebalance the group, and the first two triggers already catch
//    restarts and expiries.
#include "common/transport/consumer_link.h"

#include "common/transport/consumer_link_impl.h"

// Heartbeats (common/transport/heartbeat.h): a Heartbeat goes to a broker only when the link has
// sent it nothing (no Subscribe, Credit or Commit) for kConsumerHeartbeat.idle; the broker counts
// any request as proof of life.

namespace hw::transport {

ConsumerLink::ConsumerLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsumerLink::~ConsumerLink() = default;

Result<std::unique_ptr<ConsumerLink>> ConsumerLink::Connect(const ConsumerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  HW_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<ConsumerLink>(new ConsumerLink(std::move(impl)));
}

Result<std::vector<Delivery>> ConsumerLink::Poll(std::chrono::milliseconds timeout, size_t max) {
  Impl& s = *impl_;
  // The caller's deadline is real time (a blocking wait); the link's timers read s.Now().
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto now = s.Now();
    for (size_t i = 0; i < s.brokers.size(); ++i) {
      s.DrainMonitor(s.brokers[i], now);
      s.Drain(i, now);
    }
    s.Housekeeping(s.Now());
    const auto real_now = std::chrono::steady_clock::now();
    if (!s.pending.empty() || max == 0 || real_now >= deadline) break;
    const auto wait = std::min<Clock::duration>(deadline - real_now, kHousekeepingEvery);
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
    it->second.CallerCommitted(d.offset);
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
  std::shared_ptr<void> ctx = SharedZmqContext();
  if (ctx == nullptr) return Status::Internal("zmq_ctx_new: " + ZmqErrorText());
  HW_ASSIGN_OR_RETURN(ZmqSocket sock, OpenDealer(ctx.get(), curve.enabled ? &keys : nullptr, 1000));
  if (zmq_connect(sock.get(), backend.c_str()) != 0) {
    return Status::InvalidArgument("connect " + backend + ": " + ZmqErrorText());
  }
  ConsumerRequest req;
  req.mutable_stats();
  if (!SendRequestOn(sock.get(), req))
    return Status::Unavailable("send to " + backend + ": " + ZmqErrorText());
  const auto deadline = std::chrono::steady_clock::now() + timeout;  // the caller's: real time
  ConsumerMessage reply;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
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
