// The producer link's thread: the DEALER socket, acks and go-back-N, epochs, timers and failover
// (the protocol: producer_link.cc and docs/wire_format.md §4).
#include "common/transport/producer_link_impl.h"

namespace hw::transport {

Status ProducerLink::Impl::OpenSocket(size_t index) {
  const std::string& broker = options.link.brokers[index];
  ZmqSocket s(zmq_socket(ctx.get(), ZMQ_DEALER));
  if (s.get() == nullptr) return Status::Internal(ZmqError("zmq_socket"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_SNDHWM, kHighWaterMark, "ZMQ_SNDHWM"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RCVHWM, kHighWaterMark, "ZMQ_RCVHWM"));
  // Nothing queues inside libzmq while no broker is connected: records wait in the spool.
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RECONNECT_IVL, 100, "ZMQ_RECONNECT_IVL"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RECONNECT_IVL_MAX, 1000, "ZMQ_RECONNECT_IVL_MAX"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_IVL, 1000, "ZMQ_HEARTBEAT_IVL"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_TIMEOUT, 3000, "ZMQ_HEARTBEAT_TIMEOUT"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_TTL, 3000, "ZMQ_HEARTBEAT_TTL"));
  if (curve) HW_RETURN_IF_ERROR(ApplyCurveClientKeys(s.get(), *curve));
  // Connection events only feed the log (an operator's first question when the spool grows is
  // "are we connected?") and the retry after a refused key; without a monitor the link works the
  // same.
  std::optional<SocketMonitor> m;
  if (Result<SocketMonitor> attached = SocketMonitor::Attach(
          ctx.get(), s.get(),
          ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
              ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
              ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
      attached.ok()) {
    m.emplace(std::move(attached).value());
  }
  if (zmq_connect(s.get(), broker.c_str()) != 0) {
    return Status::InvalidArgument(ZmqError("connect " + broker));
  }
  CloseSocket();
  socket = std::move(s);
  monitor = std::move(m);
  connected_since = Clock::now();
  waiting_since = connected_since;
  return Status::Ok();
}

void ProducerLink::Impl::StartEpoch(uint64_t new_base, std::string_view why) {
  const uint64_t old = epoch;
  epoch = RandomEpoch(old);
  base = new_base;
  acked_seq = 0;
  next_seq = 1;
  max_sent_seq = 0;
  went_back_for.reset();
  header.set_epoch(epoch);
  if (Status st = spool->WriteMeta(EncodeMeta({epoch, base})); !st.ok()) {
    // Carry on in memory; after a restart the old epoch is resumed and the broker's GAP answer
    // (it has less than we released) brings us back here.
    spdlog::error("{}: cannot store the new epoch: {}", source, st.ToString());
  }
  if (old != 0) {
    spdlog::warn("{}: new epoch {:016x} (was {:016x}), seq 1 is spool record {}: {}", source, epoch,
                 old, base + 1, why);
  }
  settled_cv.SignalAll();
}

void ProducerLink::Impl::CheckLost() {
  const uint64_t settled = SettledIndex();
  const uint64_t first = spool->first_index();
  if (first <= settled + 1) return;
  // Records settled+1 .. first-1 are gone and the broker never acked them: no seq can cover them.
  const uint64_t gone = first - 1 - settled;
  lost += gone;
  StartEpoch(first - 1, std::to_string(gone) +
                            " records were lost before the broker acked them (spool full "
                            "at spool_max_bytes " +
                            std::to_string(options.link.spool_max_bytes) + ", or corrupt)");
}

void ProducerLink::Impl::Advance(uint64_t to, bool rejected_last, Clock::time_point now) {
  const uint64_t n = to - acked_seq;
  acked += rejected_last ? n - 1 : n;
  if (rejected_last) ++rejected;
  acked_seq = to;
  next_seq = std::max(next_seq, to + 1);
  went_back_for.reset();
  last_progress = now;
  release_pending = true;
  settled_cv.SignalAll();
}

void ProducerLink::Impl::HandleAck(const pb::Ack& ack, Clock::time_point now) {
  if (ack.source() != source || ack.epoch() != epoch) return;  // stale: an older epoch or source
  const uint64_t a = ack.acked_seq();
  const uint64_t highest = spool->next_index() - 1 - base;  // highest seq that exists
  if (a > highest) {
    if (auto n = error_log.Allow(now)) {
      spdlog::warn("{}: ignoring an ack for seq {} beyond the last seq {} ({} more since)", source,
                   a, highest, *n);
    }
    return;
  }
  switch (ack.status()) {
    case pb::Ack::REJECTED:
      if (a > acked_seq) {
        Advance(a, /*rejected_last=*/true, now);
        if (auto n = reject_log.Allow(now)) {
          spdlog::warn("{}: broker rejected seq {} of epoch {:016x}, dropped: {} ({} more since)",
                       source, a, epoch, ack.error(), *n);
        }
      }
      break;
    case pb::Ack::GAP:
      if (a > acked_seq) Advance(a, false, now);
      if (a < acked_seq) {
        // The broker has less than it acked before (it lost its tail, or it is another broker
        // that saw this epoch long ago). The records after `a` that we released are gone from
        // here too: only a new epoch can continue.
        StartEpoch(SettledIndex(), "broker " + options.link.brokers[broker_index] + " is at seq " +
                                       std::to_string(a) + " but had acked " +
                                       std::to_string(acked_seq));
        return;
      }
      if (next_seq > a + 1 && went_back_for != a) {
        next_seq = a + 1;
        went_back_for = a;
      }
      break;
    case pb::Ack::OK:
      if (a > acked_seq) Advance(a, false, now);
      break;
    default:  // not an Ack from a broker we understand: acking on its word could lose data
      if (auto n = error_log.Allow(now)) {
        spdlog::warn("{}: ignoring an ack with unknown status {} ({} more since)", source,
                     static_cast<int>(ack.status()), *n);
      }
      break;
  }
}

void ProducerLink::Impl::BuildFrames(std::vector<std::string>* frames, uint64_t* first_seq) {
  *first_seq = next_seq;
  const uint64_t window = std::max<uint32_t>(options.link.window, 1);
  const uint64_t in_flight = next_seq - acked_seq - 1;
  if (in_flight >= window || base + next_seq >= spool->next_index()) return;
  const size_t room = static_cast<size_t>(window - in_flight);
  const size_t before = frames->size();
  // The callback runs inside Read, so with mu held; REQUIRES says so to the analysis, which sees a
  // lambda as a function of its own.
  Status st =
      spool->Read(base + next_seq, room, [&](uint64_t index, std::string_view bytes) REQUIRES(mu) {
        if (index != base + next_seq) return false;  // a hole: see below
        header.set_seq(next_seq);
        std::string frame;
        frame.reserve(header.ByteSizeLong() + bytes.size());
        header.AppendToString(&frame);
        frame.append(bytes);
        frames->push_back(std::move(frame));
        ++next_seq;
        return true;
      });
  if (frames->size() - before < room && base + next_seq < spool->next_index()) {
    // Stopped short of the window and of the spool's end: a hole (a record lost to corruption or
    // a failed write) or a read error. Send nothing past it until next_seq moves: the acks reach
    // the hole and CheckLost starts a new epoch there, or the resend timer retries a read.
    stuck_index = base + next_seq;
  }
  if (!st.ok()) {
    if (auto n = error_log.Allow()) {
      spdlog::error("{}: reading the spool: {} ({} more since)", source, st.ToString(), *n);
    }
  }
}

void ProducerLink::Impl::CloseSocket() {
  monitor.reset();
  socket.Close();
}

void ProducerLink::Impl::LogConnectionEvents() {
  while (std::optional<MonitorEvent> ev = monitor->Next()) {
    const uint16_t event = ev->id;
    const uint32_t value = ev->value;
    const std::string_view peer = ev->peer;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      spdlog::info("{}: connected to broker {}", source, peer);
      auth_refused_at.reset();
      continue;
    }
    // libzmq never retries a connection the broker's ZAP handler refused (a 400 is final for that
    // socket), so remember it: Run() opens a fresh socket later, in case our key was authorized in
    // the meantime (the broker reloads authorized_keys_dir on SIGHUP).
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !auth_refused_at)
      auth_refused_at = Clock::now();
    std::optional<uint64_t> n = connection_log.Allow();
    if (!n) continue;
    switch (event) {
      case ZMQ_EVENT_DISCONNECTED:
        spdlog::warn(
            "{}: lost the connection to broker {}; spooling and reconnecting ({} more "
            "since)",
            source, peer, *n);
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        spdlog::error(
            "{}: broker {} refused our CURVE key (ZAP status {}): is our .pub in its "
            "authorized_keys_dir? ({} more since)",
            source, peer, value, *n);
        break;
      default:
        spdlog::error(
            "{}: handshake with broker {} failed (CURVE on one side only, or the wrong "
            "server key?) ({} more since)",
            source, peer, *n);
        break;
    }
  }
}

milliseconds ProducerLink::Impl::PollTimeout(Clock::time_point now, size_t brokers,
                                             size_t preferred) const {
  Clock::time_point due = now + kMaxPollTimeout;
  auto consider = [&due](Clock::time_point t) { due = std::min(due, t); };
  const bool unacked = SettledIndex() + 1 < spool->next_index();
  // The same conditions as the checks in Run(); a timer that cannot fire is not waited for.
  if (next_seq > acked_seq + 1 || stuck_index != 0)
    consider(last_progress + options.resend_timeout);
  if (brokers > 1 && unacked) consider(waiting_since + options.failover_after);
  if (auth_refused_at) consider(*auth_refused_at + kAuthRetryAfter);
  if (broker_index != preferred && !unacked) consider(connected_since + kFailbackAfter);
  if (appended_since_sync) consider(last_sync + options.spool_sync_interval);
  if (due <= now) return milliseconds(0);
  // Rounded up, plus 1 ms: the checks compare with '>', and waking a hair before a timer would
  // only cost another zero-timeout round.
  return std::chrono::ceil<milliseconds>(due - now) + milliseconds(1);
}

void ProducerLink::Impl::Run() {
  const size_t brokers = options.link.brokers.size();
  const size_t preferred = PreferredBroker(options.endpoint, brokers);
  std::vector<pb::Ack> acks;
  std::vector<std::string> frames;
  bool caught_up = false;
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  last_sync = Clock::now();
  spool::Spool::SyncBatch sync_batch;
  for (;;) {
    bool want_out = false;
    milliseconds timeout{0};
    {
      MutexLock lock(&mu);
      if (stopping) break;
      want_out = CanSend(&caught_up);
      timeout = PollTimeout(Clock::now(), brokers, preferred);
    }
    if (caught_up) {
      // Everything spooled is sent and the window has room: from now on a Publish must wake us.
      // Cleared only here, so a burst of Publish calls while we are busy (or while the window is
      // full, or no broker is connected) costs no eventfd write; acks and POLLOUT wake us then.
      // Cleared before re-checking the spool, so a record appended in between is seen below or
      // its Publish sees the flag cleared and writes.
      wake_pending.store(false);
      MutexLock lock(&mu);
      want_out = CanSend(&caught_up);
    }
    zmq_pollitem_t items[3] = {
        {socket.get(), 0, static_cast<short>(ZMQ_POLLIN | (want_out ? ZMQ_POLLOUT : 0)), 0},
        {nullptr, wake_fd, ZMQ_POLLIN, 0},
        {monitor ? monitor->get() : nullptr, 0, ZMQ_POLLIN, 0}};
    const int nitems = monitor ? 3 : 2;
    if (zmq_poll(items, nitems, static_cast<long>(timeout.count())) < 0 && zmq_errno() != EINTR) {
      spdlog::error("{}: {}", source, ZmqError("zmq_poll"));
      std::this_thread::sleep_for(kErrorPause);  // never spin on a persistent error
    }
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t count;
      ssize_t n = ::read(wake_fd, &count, sizeof count);
      (void)n;
    }
    if (nitems == 3 && (items[2].revents & ZMQ_POLLIN)) LogConnectionEvents();

    acks.clear();
    bool heard = false;
    while (zmq_msg_recv(&msg, socket.get(), ZMQ_DONTWAIT) >= 0) {
      heard = true;
      pb::Ack ack;
      if (ack.ParseFromArray(zmq_msg_data(&msg), static_cast<int>(zmq_msg_size(&msg)))) {
        acks.push_back(std::move(ack));
      }
    }

    const Clock::time_point now = Clock::now();
    bool failover = false;
    size_t reopen_index = 0;
    uint64_t frames_epoch = 0;
    uint64_t first_seq = 0;
    frames.clear();
    {
      MutexLock lock(&mu);
      for (const pb::Ack& ack : acks) HandleAck(ack, now);
      if (release_pending) {
        release_pending = false;
        if (Status st = spool->Release(SettledIndex()); !st.ok()) {
          if (auto n = error_log.Allow(now)) {
            spdlog::error("{}: releasing the spool: {} ({} more since)", source, st.ToString(), *n);
          }
        }
      }
      CheckLost();

      const bool unacked = SettledIndex() + 1 < spool->next_index();
      if (heard || !unacked || !had_unacked) waiting_since = now;
      had_unacked = unacked;
      if ((next_seq > acked_seq + 1 || stuck_index != 0) &&
          now - last_progress > options.resend_timeout) {
        // No progress for resend_timeout: go back to the first unacked record (and retry a read
        // that failed).
        next_seq = acked_seq + 1;
        went_back_for.reset();
        stuck_index = 0;
        last_progress = now;
      }
      if (brokers > 1 && unacked && now - waiting_since > options.failover_after) {
        failover = true;
        reopen_index = (broker_index + 1) % brokers;
        spdlog::warn("{}: no ack from broker {} for {} ms; failing over to {}", source,
                     options.link.brokers[broker_index], options.failover_after.count(),
                     options.link.brokers[reopen_index]);
      } else if (auth_refused_at && now - *auth_refused_at > kAuthRetryAfter) {
        failover = true;
        reopen_index = brokers > 1 ? (broker_index + 1) % brokers : broker_index;
        spdlog::info("{}: retrying after our CURVE key was refused, with broker {}", source,
                     options.link.brokers[reopen_index]);
      } else if (broker_index != preferred && !unacked && now - connected_since > kFailbackAfter) {
        failover = true;
        reopen_index = preferred;
        spdlog::info("{}: trying the preferred broker {} again", source,
                     options.link.brokers[preferred]);
      }
      if (appended_since_sync && now - last_sync >= options.spool_sync_interval) {
        appended_since_sync = false;
        last_sync = now;
        // Flushed below, outside the lock: an fdatasync takes milliseconds, and Publish must
        // not wait for it (it showed in the p99 latency of bench/broker.sh).
        Result<spool::Spool::SyncBatch> batch = spool->TakeSyncBatch();
        if (batch.ok()) {
          sync_batch = std::move(batch).value();
        } else if (auto n = error_log.Allow(now)) {
          spdlog::error("{}: syncing the spool: {} ({} more since)", source,
                        batch.status().ToString(), *n);
        }
      }
      // Frames are built only when the socket takes them (ZMQ_IMMEDIATE: a broker is connected).
      if (!failover && (items[0].revents & ZMQ_POLLOUT)) BuildFrames(&frames, &first_seq);
      frames_epoch = epoch;
    }

    if (!sync_batch.empty()) {
      if (Status st = sync_batch.Run(); !st.ok()) {
        MutexLock lock(&mu);  // error_log is mu's too
        if (auto n = error_log.Allow(now)) {
          spdlog::error("{}: syncing the spool: {} ({} more since)", source, st.ToString(), *n);
        }
        spool->MarkUnsynced();  // the next sync flushes everything again
        appended_since_sync = true;
      }
      sync_batch = spool::Spool::SyncBatch();
    }

    if (failover) {
      auth_refused_at.reset();
      if (Status st = OpenSocket(reopen_index); !st.ok()) {
        waiting_since = now;  // keep the old socket; try again after another failover_after
        spdlog::error("{}: {}", source, st.ToString());
        continue;
      }
      MutexLock lock(&mu);
      broker_index = reopen_index;
      next_seq = acked_seq + 1;  // what was in flight on the old socket is resent
      went_back_for.reset();
      stuck_index = 0;
      continue;
    }
    if (frames.empty()) continue;

    size_t sent = 0;
    for (const std::string& f : frames) {
      if (zmq_send(socket.get(), f.data(), f.size(), ZMQ_DONTWAIT) < 0)
        break;  // EAGAIN: not connected
      ++sent;
    }
    MutexLock lock(&mu);
    if (epoch != frames_epoch) continue;    // Publish re-epoched meanwhile: those frames are void
    const uint64_t end = first_seq + sent;  // one past the last seq actually sent
    if (sent > 0) {
      if (first_seq <= max_sent_seq) resent += std::min(end - 1, max_sent_seq) - first_seq + 1;
      max_sent_seq = std::max(max_sent_seq, end - 1);
      if (first_seq == acked_seq + 1) last_progress = now;  // the resend timer starts here
    }
    if (sent < frames.size()) next_seq = std::min(next_seq, end);
  }
  zmq_msg_close(&msg);
  CloseSocket();
}

}  // namespace hw::transport
