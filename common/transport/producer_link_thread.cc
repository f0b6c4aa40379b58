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
  HW_RETURN_IF_ERROR(ApplyLinkSocketOptions(s.get()));
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
  choice.Connected(index, Ms(Now()));
  return Status::Ok();
}

void ProducerLink::Impl::StartEpoch(uint64_t new_base, std::string_view why) {
  const uint64_t old = window.epoch();
  const uint64_t epoch = RandomEpoch(old);
  window.Restart(epoch, new_base, 0);
  header.set_epoch(epoch);
  if (Status st = spool->WriteMeta(EncodeMeta({epoch, new_base})); !st.ok()) {
    // Carry on in memory; after a restart the old epoch is resumed and the broker's GAP answer
    // (it has less than we released) brings us back here.
    spdlog::error("{}: cannot store the new epoch: {}", source, st.ToString());
  }
  if (old != 0) {
    spdlog::warn("{}: new epoch {:016x} (was {:016x}), seq 1 is spool record {}: {}", source, epoch,
                 old, new_base + 1, why);
  }
  settled_cv.SignalAll();
}

void ProducerLink::Impl::CheckLost() {
  const uint64_t first = spool->first_index();
  const uint64_t gone = window.Lost(first);
  if (gone == 0) return;
  // Records settled+1 .. first-1 are gone and the broker never acked them: no seq can cover them.
  lost += gone;
  StartEpoch(first - 1, std::to_string(gone) +
                            " records were lost before the broker acked them (spool full "
                            "at spool_max_bytes " +
                            std::to_string(options.link.spool_max_bytes) + ", or corrupt)");
}

void ProducerLink::Impl::HandleAck(const pb::Ack& ack, Clock::time_point now) {
  if (ack.source() != source) return;  // stale: another source
  const uint64_t a = ack.acked_seq();
  const uint64_t before = window.acked_seq();
  SendWindow::AckStatus status = SendWindow::AckStatus::kUnknown;
  switch (ack.status()) {
    case pb::Ack::OK:
      status = SendWindow::AckStatus::kOk;
      break;
    case pb::Ack::REJECTED:
      status = SendWindow::AckStatus::kRejected;
      break;
    case pb::Ack::GAP:
      status = SendWindow::AckStatus::kGap;
      break;
    default:  // not an Ack from a broker we understand: acking on its word could lose data
      break;
  }
  switch (window.OnAck(ack.epoch(), a, status, spool->next_index(), Ms(now))) {
    case SendWindow::AckOutcome::kStale:
    case SendWindow::AckOutcome::kNoChange:
      return;
    case SendWindow::AckOutcome::kBeyondEnd:
      if (auto n = error_log.Allow(now)) {
        spdlog::warn("{}: ignoring an ack for seq {} beyond the last seq {} ({} more since)",
                     source, a, spool->next_index() - 1 - window.base(), *n);
      }
      return;
    case SendWindow::AckOutcome::kUnknown:
      if (auto n = error_log.Allow(now)) {
        spdlog::warn("{}: ignoring an ack with unknown status {} ({} more since)", source,
                     static_cast<int>(ack.status()), *n);
      }
      return;
    case SendWindow::AckOutcome::kNewEpoch:
      StartEpoch(SettledIndex(), "broker " + options.link.brokers[broker_index] + " is at seq " +
                                     std::to_string(a) + " but had acked " +
                                     std::to_string(before));
      return;
    case SendWindow::AckOutcome::kRejected:
      if (auto n = reject_log.Allow(now)) {
        spdlog::warn("{}: broker rejected seq {} of epoch {:016x}, dropped: {} ({} more since)",
                     source, a, window.epoch(), ack.error(), *n);
      }
      break;
    case SendWindow::AckOutcome::kAdvanced:
    case SendWindow::AckOutcome::kWentBack:
      break;
  }
  if (window.acked_seq() != before) {
    release_pending = true;
    settled_cv.SignalAll();
  }
}

void ProducerLink::Impl::BuildFrames(std::vector<std::string>* frames, uint64_t* first_seq) {
  *first_seq = window.next_seq();
  const size_t room = static_cast<size_t>(window.Room(spool->next_index()));
  if (room == 0) return;
  const size_t before = frames->size();
  // The callback runs inside Read, so with mu held; REQUIRES says so to the analysis, which sees a
  // lambda as a function of its own.
  Status st = spool->Read(window.next_index(), room,
                          [&](uint64_t index, std::string_view bytes) REQUIRES(mu) {
                            if (index != window.next_index()) return false;  // a hole: see below
                            header.set_seq(window.Take());
                            std::string frame;
                            frame.reserve(header.ByteSizeLong() + bytes.size());
                            header.AppendToString(&frame);
                            frame.append(bytes);
                            frames->push_back(std::move(frame));
                            return true;
                          });
  if (frames->size() - before < room && window.next_index() < spool->next_index()) {
    // Stopped short of the window and of the spool's end: a hole (a record lost to corruption or
    // a failed write) or a read error. Send nothing past it until next_seq moves: the acks reach
    // the hole and CheckLost starts a new epoch there, or the resend timer retries a read.
    window.MarkStuck();
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
      choice.AuthSucceeded();
      continue;
    }
    // libzmq never retries a connection the broker's ZAP handler refused (a 400 is final for that
    // socket), so remember it: Run() opens a fresh socket later, in case our key was authorized in
    // the meantime (the broker reloads authorized_keys_dir on SIGHUP).
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) choice.AuthRefused(Ms(Now()));
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

void ProducerLink::Impl::LogSwitch(const BrokerChoice::Switch& sw) {
  const std::string& from = options.link.brokers[choice.current()];
  const std::string& to = options.link.brokers[sw.to];
  switch (sw.why) {
    case BrokerChoice::Reason::kNoAck:
      spdlog::warn("{}: no ack from broker {} for {} ms; failing over to {}", source, from,
                   options.failover_after.count(), to);
      break;
    case BrokerChoice::Reason::kRefused:
      spdlog::info("{}: retrying after our CURVE key was refused, with broker {}", source, to);
      break;
    case BrokerChoice::Reason::kSilent:
      // Sent something, heard nothing (not even to a heartbeat): a half-open connection or a
      // hung broker. A fresh socket finds out which.
      spdlog::warn("{}: broker {} answered nothing for {} ms; connecting to {}", source, from,
                   kProducerHeartbeat.silence.count(), to);
      break;
    case BrokerChoice::Reason::kFailback:
      spdlog::info("{}: trying the preferred broker {} again", source, to);
      break;
  }
}

milliseconds ProducerLink::Impl::PollTimeout(Clock::time_point now) const {
  Clock::time_point due = now + kMaxPollTimeout;
  auto consider = [&due](Clock::time_point t) { due = std::min(due, t); };
  // The same conditions as the checks in Run(); a timer that cannot fire is not waited for.
  if (std::optional<int64_t> resend = window.ResendDueMs())
    consider(Clock::time_point(milliseconds(*resend)));
  if (appended_since_sync) consider(last_sync + options.spool_sync_interval);
  // Failover, failback, the CURVE retry, heartbeats and silence.
  consider(Clock::time_point(milliseconds(choice.NextDueMs())));
  if (due <= now) return milliseconds(0);
  // Rounded up, plus 1 ms: the checks compare with '>', and waking a hair before a timer would
  // only cost another zero-timeout round.
  return std::chrono::ceil<milliseconds>(due - now) + milliseconds(1);
}

void ProducerLink::Impl::Run() {
  std::vector<pb::Ack> acks;
  std::vector<std::string> frames;
  bool caught_up = false;
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  last_sync = Now();
  spool::Spool::SyncBatch sync_batch;
  for (;;) {
    bool want_out = false;
    milliseconds timeout{0};
    {
      MutexLock lock(&mu);
      if (stopping) break;
      want_out = CanSend(&caught_up);
      timeout = PollTimeout(Now());
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

    const Clock::time_point now = Now();
    bool failover = false;
    size_t reopen_index = 0;
    uint64_t frames_epoch = 0;
    uint64_t first_seq = 0;
    frames.clear();
    std::string heartbeat;
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

      choice.Observe(SettledIndex() + 1 < spool->next_index(), heard, Ms(now));
      (void)window.ResendIfDue(Ms(now));
      if (std::optional<BrokerChoice::Switch> sw = choice.Decide(Ms(now))) {
        failover = true;
        reopen_index = sw->to;
        LogSwitch(*sw);
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
      frames_epoch = window.epoch();
      if (!failover && frames.empty() && choice.liveness().HeartbeatDue(Ms(now))) {
        if (window.acked_seq() >= 1) {
          // Envelope{source, epoch, seq: acked_seq} and no body: every broker has that seq, so
          // it answers as to a duplicate (Ack OK, its last seq) and appends nothing
          // (docs/wire_format.md §4). Nothing acked yet in this epoch: nothing to ask about.
          header.set_seq(window.acked_seq());
          heartbeat = header.SerializeAsString();
        } else {
          choice.liveness().Skipped(Ms(now));
        }
      }
    }

    if (failover) {
      if (Status st = OpenSocket(reopen_index); !st.ok()) {
        choice.ConnectFailed(Ms(now));  // keep the old socket; try again after failover_after
        spdlog::error("{}: {}", source, st.ToString());
      } else {
        MutexLock lock(&mu);
        broker_index = reopen_index;
        window.GoBack();  // what was in flight on the old socket is resent
      }
    } else if (!heartbeat.empty()) {
      // Not connected (ZMQ_IMMEDIATE): nothing to prove; the next is an idle time away either way.
      if (zmq_send(socket.get(), heartbeat.data(), heartbeat.size(), ZMQ_DONTWAIT) >= 0) {
        choice.liveness().Sent(Ms(now));
        MutexLock lock(&mu);
        ++heartbeats;
      } else {
        choice.liveness().Skipped(Ms(now));
      }
    } else if (!frames.empty()) {
      size_t sent = 0;
      for (const std::string& f : frames) {
        if (zmq_send(socket.get(), f.data(), f.size(), ZMQ_DONTWAIT) < 0)
          break;  // EAGAIN: not connected
        ++sent;
      }
      if (sent > 0) choice.liveness().Sent(Ms(now));
      MutexLock lock(&mu);
      // Publish re-epoched meanwhile: the frames are void.
      if (window.epoch() == frames_epoch) window.OnSent(first_seq, frames.size(), sent, Ms(now));
    }

    // The spool's sync (an fdatasync: milliseconds, up to tens on a busy disk) comes after this
    // round's frames are sent, not before: a producer that publishes less often than the sync
    // interval (the collector) took a sync right before every envelope it sent. Sending first
    // costs no durability: an acked record needs none here, and an unacked one is as durable as
    // before once the sync is done.
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
  }
  zmq_msg_close(&msg);
  CloseSocket();
}

}  // namespace hw::transport
