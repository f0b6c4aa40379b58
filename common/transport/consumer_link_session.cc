// The consumer link's per-broker protocol: subscribe and assignments, deliveries and duplicates,
// credit, commits, resubscription (the rules: consumer_link.cc).
#include "common/transport/consumer_link_impl.h"

namespace hw::transport {

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
  const auto now = Now();
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
    b.last_sent = now;
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
  for (auto& [p, pc] : b.parts) pc.Resubscribed();
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
      case ConsumerMessage::kDelivery: {
        const size_t queued = pending.size();
        OnDelivery(index, scratch.delivery(), has_body ? body.data() : nullptr,
                   has_body ? body.size() : 0, has_body, now);
        if (options.keep_body && has_body && pending.size() > queued) {
          // The message moves into the delivery: its bytes are not copied.
          auto owner = std::make_shared<ZmqMessage>();
          zmq_msg_move(owner->get(), body.get());
          Delivery& d = pending.back().delivery;
          d.body = std::string_view(static_cast<const char*>(owner->data()), owner->size());
          d.body_owner = std::move(owner);
        }
        break;
      }
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

void ConsumerLink::Impl::OnDelivery(size_t index, const hostwatch::v1::DeliveryHeader& h,
                                    const void* data, size_t size, bool has_body,
                                    Clock::time_point now) {
  BrokerConn& b = brokers[index];
  ++stats.deliveries;
  b.last_confirm = now;
  b.silence_limit = kResubscribeAfterSilence;
  const uint64_t session = b.awaiting_assignment ? 0 : b.session;
  PartitionCommits& pc = b.parts[h.partition()];
  Pending p{Delivery{index, h.partition(), h.offset(), 0, Envelope(), {}, {}}, session};
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
    pc.DoneByLink(h.offset());
    Consumed(b, session);
    return;
  }
  if (!dedup.Insert(e.source(), e.epoch(), e.seq(), p.delivery.items, MonoMs(now))) {
    ++stats.duplicates;
    pc.DoneByLink(h.offset());
    Consumed(b, session);
    return;
  }
  pc.Kept(h.offset());
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
  for (auto& [partition, pc] : b.parts) {
    if (!b.Assigned(partition)) continue;
    const uint64_t target = pc.Due();
    if (target == 0) continue;
    ConsumerRequest req;
    req.mutable_commit()->set_partition(partition);
    req.mutable_commit()->set_offset(target);
    if (!Send(b, req)) {
      ok = false;
      continue;
    }
    pc.Sent(target);
  }
  return ok;
}

void ConsumerLink::Impl::Housekeeping(Clock::time_point now) {
  (void)dedup.ForgetIdle(MonoMs(now));  // a sweep at most every quarter of forget_after
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
    GrantCredit(b);
    // Moves only over offsets the link finished itself, or to repeat commits after a Subscribe.
    (void)FlushCommits(b);
    // Last: a credit or commit just sent is proof of life enough.
    if (now - b.last_sent >= kConsumerHeartbeat.idle) {
      ConsumerRequest req;
      req.mutable_heartbeat();
      (void)Send(b, req);
    }
  }
}

}  // namespace hw::transport
