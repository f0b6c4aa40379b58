// Producer link: spool first, then go-back-N over one DEALER socket (docs/wire_format.md §4).
//
// Numbering (docs/decisions/002-producer-link-spool.md): the spool stores each envelope without its
// header (only sent_ms and the body); a record's seq is its spool index minus `base`, and the frame
// on the wire is a serialized Envelope{source, epoch, seq} followed by the stored bytes (protobuf
// merges concatenated messages). (epoch, base) live in the spool's meta file. When records vanish
// before the broker acked them (drop-oldest on a full spool, a CRC-failed record, a broker that
// lost what it had acked), the stream could never be completed under the old epoch, so the link
// starts a new epoch whose seq 1 is the oldest record it still holds, and logs how many were lost.
//
// Threads: Publish appends under mu_ and wakes the link thread through an eventfd (written only
// when no wake-up is pending, so a burst of Publish calls costs one write). The link thread polls
// the socket and the eventfd, handles acks and timers under mu_, builds frames under mu_ and sends
// them outside it. ZMQ_IMMEDIATE keeps frames out of libzmq while no broker is connected; they stay
// in the spool, and POLLOUT tells the thread when a connection is up again.
#include "common/transport/producer_link.h"

#include "common/transport/producer_link_impl.h"

namespace hw::transport {

ProducerLink::ProducerLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProducerLink::~ProducerLink() { Stop(milliseconds(0)); }

Result<std::unique_ptr<ProducerLink>> ProducerLink::Start(const ProducerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  if (options.clock != nullptr) impl->clock = options.clock;
  impl->source = options.endpoint + "/" + options.component;
  HW_RETURN_IF_ERROR(naming::ValidateSource(impl->source).WithContext("producer link"));
  {
    pb::Envelope header;
    header.set_source(impl->source);
    header.set_seq(1);
    impl->validation_header = header.SerializeAsString();
  }
  if (options.link.brokers.empty()) {
    return Status::InvalidArgument("producer link: link.brokers is empty");
  }
  for (const std::string& b : options.link.brokers) {
    HW_RETURN_IF_ERROR(ParseEndpoint(b).status().WithContext("link.brokers"));
  }
  if (options.link.spool_dir.empty()) {
    return Status::InvalidArgument("producer link: link.spool_dir is empty");
  }
  if (options.link.curve.enabled) {
    HW_ASSIGN_OR_RETURN(CurveClientKeys keys, LoadCurveClientKeys(options.link.curve));
    impl->curve = std::move(keys);
  }

  {
    // No other thread can see impl yet; the lock is taken because these members are mu's, and
    // costs nothing here.
    MutexLock lock(&impl->mu);
    spool::SpoolOptions so;
    so.dir = options.link.spool_dir;
    so.max_bytes = options.link.spool_max_bytes;
    // At least four segments fit under max_bytes, so that drop-oldest sheds a quarter at most.
    so.segment_bytes = std::clamp<uint64_t>(options.link.spool_max_bytes / 4, 1,
                                            std::max<uint64_t>(options.spool_segment_bytes, 1));
    Result<std::unique_ptr<spool::Spool>> opened = spool::Spool::Open(so);
    if (!opened.ok()) return opened.status().WithContext("producer spool");
    impl->spool = std::move(opened).value();

    // (epoch, base) from the meta file; a new (or unreadable) meta starts a new epoch at the oldest
    // record still held, which the broker accepts as a stream it has never seen.
    Result<std::string> meta_text = impl->spool->ReadMeta();
    if (!meta_text.ok()) return meta_text.status().WithContext("producer spool meta");
    std::optional<Meta> meta = DecodeMeta(*meta_text);
    const uint64_t first = impl->spool->first_index();
    impl->header.set_source(impl->source);
    if (meta && meta->base + 1 <= first) {
      impl->header.set_epoch(meta->epoch);
      // Everything below the first readable record was released, i.e. acked. (Or it is missing from
      // a corrupt spool: the broker then answers GAP below our ack, and HandleAck starts a new
      // epoch.)
      impl->window.Restart(meta->epoch, meta->base, first - 1 - meta->base);
    } else {
      if (!meta_text->empty()) {
        spdlog::warn("{}: spool meta in {} is unreadable or inconsistent; starting a new epoch",
                     impl->source, options.link.spool_dir);
      }
      Meta fresh{RandomEpoch(0), first - 1};
      HW_RETURN_IF_ERROR(
          impl->spool->WriteMeta(EncodeMeta(fresh)).WithContext("producer spool meta"));
      impl->window.Restart(fresh.epoch, fresh.base, 0);
      impl->header.set_epoch(fresh.epoch);
    }
    impl->seen_spool_dropped = impl->spool->stats().dropped_records;
    const spool::SpoolStats ss = impl->spool->stats();
    if (ss.corrupt_records > 0 || ss.truncated_bytes > 0) {
      spdlog::warn("{}: spool recovery skipped {} corrupt records and cut a torn tail of {} bytes",
                   impl->source, ss.corrupt_records, ss.truncated_bytes);
    }

    impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl->wake_fd < 0) return Status::IoError("producer link: eventfd", errno);
    impl->ctx = SharedZmqContext();
    if (!impl->ctx) return Status::Internal(ZmqError("zmq_ctx_new"));
    impl->broker_index = impl->choice.preferred();
    HW_RETURN_IF_ERROR(impl->OpenSocket(impl->broker_index).WithContext("producer link"));
  }

  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->Run(); });
  raw->thread_started = true;
  return std::unique_ptr<ProducerLink>(new ProducerLink(std::move(impl)));
}

Status ProducerLink::Publish(const hostwatch::v1::Envelope& body) {
  if (body.body_case() == pb::Envelope::BODY_NOT_SET) {
    return Status::InvalidArgument("envelope: no body set (samples, events or alerts)");
  }
  // The stored bytes carry sent_ms and the body, never the header fields: those are the link's,
  // prepended at send time, and a copy in the body would override them (the last occurrence of a
  // field wins). The common case has none, so the body is serialized as it is, without a copy,
  // and sent_ms appended: it overrides any sent_ms the caller left in.
  std::string bytes;
  bool serialized;
  if (body.source().empty() && body.epoch() == 0 && body.seq() == 0) {
    serialized = body.SerializeToString(&bytes);
    AppendSentMs(NowMs(), &bytes);
  } else {
    pb::Envelope env(body);
    env.clear_source();
    env.clear_epoch();
    env.clear_seq();
    env.set_sent_ms(NowMs());
    serialized = env.SerializeToString(&bytes);
  }
  if (!serialized) return Status::InvalidArgument("envelope: cannot be serialized");
  return SpoolAndWake(bytes);
}

Status ProducerLink::PublishSerialized(std::string bytes) {
  AppendSentMs(NowMs(), &bytes);
  return SpoolAndWake(bytes);
}

Status ProducerLink::SpoolAndWake(const std::string& bytes) {
  Impl& d = *impl_;
  if (d.options.validate) {
    // Judged as the broker will see it: with a source and a seq in front. A samples envelope is
    // proven valid on the wire (naming/envelope_wire.h); anything else, or a failure, gets the
    // full validator for its verdict and message.
    const std::string framed = d.validation_header + bytes;
    if (!naming::SamplesEnvelopeProvablyValid(framed)) {
      pb::Envelope env;
      if (!env.ParseFromString(framed)) return Status::InvalidArgument("envelope: does not parse");
      HW_RETURN_IF_ERROR(naming::ValidateEnvelope(env));
    }
  }
  if (bytes.size() + 64 + d.source.size() > kMaxEnvelopeBytes) {
    return Status::InvalidArgument("envelope of " + std::to_string(bytes.size()) +
                                   " bytes exceeds the broker's default max_message_bytes (" +
                                   std::to_string(kMaxEnvelopeBytes) + "): split the batch");
  }
  {
    MutexLock lock(&d.mu);
    if (d.stopped) return Status::FailedPrecondition(d.source + ": producer link is stopped");
    Result<uint64_t> index = d.spool->Append(bytes);
    if (!index.ok()) return index.status().WithContext(d.source + ": spool append");
    ++d.published;
    d.appended_since_sync = true;
    const uint64_t dropped = d.spool->stats().dropped_records;
    if (dropped != d.seen_spool_dropped) {
      d.seen_spool_dropped = dropped;
      d.CheckLost();  // re-epoch now, so that the meta on disk matches what the spool holds
    }
  }
  if (!d.wake_pending.exchange(true)) d.Wake();
  return Status::Ok();
}

bool ProducerLink::WaitAcked(std::chrono::milliseconds deadline) {
  Impl& d = *impl_;
  const Clock::time_point until = Clock::now() + deadline;
  MutexLock lock(&d.mu);
  const uint64_t target = d.spool->next_index() - 1;
  while (d.SettledIndex() < target) {
    if (!d.settled_cv.WaitUntil(&d.mu, until)) return d.SettledIndex() >= target;
  }
  return true;
}

void ProducerLink::Stop(std::chrono::milliseconds flush_deadline) {
  Impl& d = *impl_;
  if (!d.thread_started) return;
  if (flush_deadline.count() > 0) WaitAcked(flush_deadline);
  {
    MutexLock lock(&d.mu);
    d.stopping = true;
  }
  d.Wake();
  d.thread.join();
  d.thread_started = false;
  MutexLock lock(&d.mu);
  d.stopped = true;
  if (Status st = d.spool->Sync(); !st.ok()) {
    spdlog::error("{}: syncing the spool at stop: {}", d.source, st.ToString());
  }
}

ProducerStats ProducerLink::stats() const {
  const Impl& d = *impl_;
  MutexLock lock(&d.mu);
  ProducerStats s;
  s.published = d.published;
  s.acked = d.window.acked();
  s.rejected = d.window.rejected();
  s.resent = d.window.resent();
  s.heartbeats = d.heartbeats;
  const spool::SpoolStats ss = d.spool->stats();
  s.spool_records = ss.records;
  s.spool_bytes = ss.bytes;
  s.spool_dropped = d.lost;
  s.epoch = d.window.epoch();
  s.last_acked_seq = d.window.acked_seq();
  s.broker = d.options.link.brokers[d.broker_index];
  return s;
}

std::string ProducerLink::source() const { return impl_->source; }

}  // namespace hw::transport
