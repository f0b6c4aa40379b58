#include "broker/frontend.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "broker/curve_auth.h"
#include "broker/dedup_snapshot.h"
#include "common/daemon/logging.h"
#include "common/naming/envelope_wire.h"
#include "common/naming/naming.h"
#include "common/transport/heartbeat.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::broker {
namespace {

using hostwatch::v1::Ack;
using hostwatch::v1::Envelope;
using hostwatch::v1::Sample;

constexpr size_t kMaxDrain = 2048;  // messages per batch: bounds ack latency under load
constexpr int64_t kSnapshotEveryMs = 10'000;
constexpr int64_t kRetentionEveryMs = 10'000;
constexpr int64_t kSelfMetricsEveryMs = 10'000;
constexpr int64_t kBoardEveryMs = 1'000;

std::string_view TopicName(int body_field) {
  switch (body_field) {
    case 10:
      return "samples";
    case 11:
      return "events";
    case 12:
      return "alerts";
  }
  return "unknown";
}

// The short reason for rejected_by_reason: the first words of the validator's message.
std::string ReasonKey(const std::string& message) {
  size_t end = message.find_first_of(" \"[:");
  std::string key = message.substr(0, std::min<size_t>(end, 40));
  return key.empty() ? "invalid" : key;
}

// One ack to send, coalesced while consecutive acks go to the same producer stream.
struct PendingAck {
  std::string_view identity;  // the routing id, viewed in its message held for the batch
  std::string source;
  uint64_t epoch;
  uint64_t seq;
  Ack::Status status;
  std::string error;
};

}  // namespace

struct Frontend::Impl {
  Impl(const BrokerConfig& c, zmq::context_t& ctx, Journal& j, SourceTable t, BrokerCounters& k,
       ProducerBoard& b, const Clock& clk)
      : config(c),
        clock(clk),
        journal(j),
        table(std::move(t)),
        counters(k),
        board(b),
        frontend(ctx, zmq::socket_type::router),
        tap(ctx, zmq::socket_type::pub),
        notify(ctx, zmq::socket_type::pair),
        always_fsync(c.fsync == "always"),
        fsync_interval_ms(c.fsync_interval.count()) {
    std::random_device rd;
    self_epoch = (static_cast<uint64_t>(rd()) << 32) | rd();
    if (self_epoch == 0) self_epoch = 1;
    self_source = naming::LocalEndpoint("broker") + "/broker";
    table.set_max_sources(c.max_sources);
    // The partitions are opened before the frontend exists and never change.
    to_append.resize(journal.partitions.size());
    to_tap_topic.resize(journal.partitions.size());
    dirty.assign(journal.partitions.size(), false);
  }

  void HandleBatch();
  void HandleOne(const zmq::message_t& identity_msg, zmq::message_t& payload);
  void FlushAcks();
  void PeriodicWork(int64_t now_ms, bool force);
  void AppendSelfMetrics();
  // The whole table to the board (about once a second, and when sources left it).
  void PublishBoard();
  // What the board shows of one source.
  hostwatch::v1::ProducerStats BoardEntry(const std::string& source, const SourceState& st) const;

  const BrokerConfig config;
  const Clock& clock;  // every periodic decision and every stamp reads it
  Journal& journal;
  SourceTable table;
  BrokerCounters& counters;
  ProducerBoard& board;
  zmq::socket_t frontend;
  zmq::socket_t tap;
  zmq::socket_t notify;

  std::atomic<bool> always_fsync;
  std::atomic<bool> reset_requested{false};
  std::string frontend_bound, tap_bound;  // the endpoints as bound (for unbind)
  std::atomic<int64_t> fsync_interval_ms;

  // Per batch: payloads to append per partition (views into `held`), acks to send, tap topics.
  std::vector<zmq::message_t> held;
  std::vector<std::vector<std::string_view>> to_append;
  std::vector<std::vector<std::string>> to_tap_topic;
  std::vector<PendingAck> acks;
  std::vector<bool> dirty;  // partitions appended since the last fsync

  // On the monotonic clock; fsync's interval follows fsync_interval_ms (hot reload).
  Every fsync_every{fsync_interval_ms.load(), clock.MonoMs()};
  Every snapshot_every{kSnapshotEveryMs, clock.MonoMs()};
  Every retention_every{kRetentionEveryMs, clock.MonoMs()};
  Every self_every{kSelfMetricsEveryMs, clock.MonoMs()};
  Every board_every{kBoardEveryMs, clock.MonoMs()};

  Envelope scratch_envelope;  // HandleOne's parse target, reused (frontend thread only)
  size_t board_sources = 0;   // sources in the table when the board was last brought up to date
  std::vector<std::string> new_sources;  // created by this batch, in order
  // Bumped by every change to the table; the board is rebuilt only when it lags, so an idle broker
  // that knows 100,000 sources does not copy them all every second (3 % of a core measured).
  uint64_t table_version = 1;
  uint64_t board_version = 0;
  uint64_t evicted_seen = 0;  // table.evicted() already added to the counters
  uint64_t self_epoch = 0;
  uint64_t self_seq = 0;
  std::string self_source;
  daemon::RepeatLimiter reject_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter error_log{std::chrono::seconds(10)};
  daemon::RepeatLimiter oversize_log{std::chrono::seconds(10)};  // its own: rare and telling
  Status fatal;
};

Frontend::Frontend(const BrokerConfig& config, zmq::context_t& ctx, Journal& journal,
                   SourceTable table, BrokerCounters& counters, ProducerBoard& board,
                   const Clock& clock)
    : impl_(
          std::make_unique<Impl>(config, ctx, journal, std::move(table), counters, board, clock)) {}
Frontend::~Frontend() = default;

void Frontend::SetFsync(const std::string& mode, std::chrono::milliseconds interval) {
  impl_->always_fsync = mode == "always";
  impl_->fsync_interval_ms = interval.count();
}

Status Frontend::Bind(const std::string& notify_endpoint) {
  Impl& s = *impl_;
  if (s.config.curve.enabled) {
    HW_RETURN_IF_ERROR(MakeCurveServer(s.frontend, s.config.curve).WithContext("frontend"));
    HW_RETURN_IF_ERROR(
        MakeCurveServer(s.tap, s.config.curve, kZapConsumerDomain).WithContext("tap"));
  }
  try {
    // Twice the limit: frames between the two are read, answered and counted as oversize
    // (HandleOne); only beyond does ZeroMQ drop the connection, which it does without telling us.
    s.frontend.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * s.config.max_message_bytes));
    s.frontend.set(zmq::sockopt::linger, 0);
    s.frontend.set(zmq::sockopt::rcvhwm, 100000);
    s.frontend.set(zmq::sockopt::sndhwm, 100000);
    // ROUTER drops messages to unknown peers silently unless told otherwise; an ack to a producer
    // that just went away is fine to drop (it resends), so keep the default.
    ApplyRouterLivenessOptions(s.frontend);
    s.frontend.bind(s.config.frontend);
    s.frontend_bound = s.frontend.get(zmq::sockopt::last_endpoint);
    s.tap.set(zmq::sockopt::linger, 0);
    s.tap.set(zmq::sockopt::sndhwm, 10000);  // lossy by design: a slow viewer never slows ingest
    s.tap.bind(s.config.tap);
    s.tap_bound = s.tap.get(zmq::sockopt::last_endpoint);
    s.notify.set(zmq::sockopt::linger, 0);
    s.notify.connect(notify_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("bind frontend/tap: ") + e.what());
  }
  return Status::Ok();
}

void Frontend::Impl::HandleOne(const zmq::message_t& identity_msg, zmq::message_t& payload) {
  const std::string_view identity(static_cast<const char*>(identity_msg.data()),
                                  identity_msg.size());
  std::string_view bytes(static_cast<const char*>(payload.data()), payload.size());
  if (payload.size() > config.max_message_bytes) {
    // ZeroMQ cuts the connection only past twice the limit (ZMQ_MAXMSGSIZE, set in Bind), so that
    // a frame just over it is answered, counted and logged here instead of vanishing.
    counters.oversize.fetch_add(1, std::memory_order_relaxed);
    counters.Reject("oversize");
    if (auto n = oversize_log.Allow()) {
      spdlog::warn("rejected an envelope of {} bytes: over max_message_bytes {} ({} more since)",
                   payload.size(), config.max_message_bytes, *n);
    }
    acks.push_back(
        {identity, "", 0, 0, Ack::REJECTED,
         "envelope of " + std::to_string(payload.size()) + " bytes is over max_message_bytes"});
    return;
  }
  // Order matters (docs/wire_format.md "What a rejection changes"): the header is validated, then
  // the key's right to speak for the source is checked, and only then is the dedup table even
  // read. Nothing from an envelope that fails either step is stored anywhere but in a counter.
  Result<EnvelopeHeader> header = ParseProducerHeader(bytes);
  if (!header.ok()) {
    counters.Reject(ReasonKey(header.status().message()));
    if (auto n = reject_log.Allow()) {
      spdlog::warn("rejected an envelope with a bad header ({} bytes): {} ({} more since)",
                   payload.size(), header.status().message(), *n);
    }
    // The source is not echoed: it is not valid, and may be huge.
    acks.push_back({identity, "", 0, 0, Ack::REJECTED, header.status().message()});
    return;
  }
  EnvelopeHeader& h = *header;  // its source is moved into the ack, the last use
  if (config.curve.enabled) {
    // The key ZAP authenticated may be bound to the endpoints it speaks for (docs/wire_format.md
    // §8). Checked before the dedup table, so a key cannot learn or move another source's position.
    const char* user = nullptr;
    try {
      user = payload.gets("User-Id");
    } catch (const zmq::error_t&) {
      user = nullptr;
    }
    const std::string_view endpoint = naming::SourceEndpoint(h.source);
    if (user == nullptr || !KeyMayPublishFor(config.curve.bindings, user, endpoint)) {
      counters.Reject("binding");
      std::string why = "binding: key \"" + std::string(user ? user : "?") +
                        "\" may not publish for endpoint \"" + std::string(endpoint) + "\"";
      if (auto n = reject_log.Allow()) {
        spdlog::warn("rejected envelope {} seq {}: {} ({} more since)", h.source, h.seq, why, *n);
      }
      acks.push_back(
          {identity, std::move(h.source), h.epoch, h.seq, Ack::REJECTED, std::move(why)});
      return;
    }
  }
  if (h.body_field == 0) {
    // No body, and a seq this stream already has: an idle producer link's heartbeat,
    // Envelope{source, epoch, seq: its last acked} (docs/wire_format.md §4). Answered as a
    // duplicate would be, but not counted as one; the dedup table is only read. Any other body-less
    // envelope gets the usual answers (GAP, or REJECTED for the missing body; a stream the table
    // does not know is not created), so a heartbeat never acks anything new.
    const std::optional<uint64_t> last = table.LastSeq(h.source, h.epoch);
    if (last && h.seq <= *last) {
      acks.push_back({identity, std::move(h.source), h.epoch, *last, Ack::OK, ""});
      return;
    }
  }
  Decision d = table.Check(h.source, h.epoch, h.seq);
  if (d.verdict == Verdict::kDuplicate) {
    counters.duplicates.fetch_add(1, std::memory_order_relaxed);
    acks.push_back({identity, std::move(h.source), h.epoch, d.ack_seq, Ack::OK, ""});
    return;
  }
  if (d.verdict == Verdict::kGap) {
    counters.gaps.fetch_add(1, std::memory_order_relaxed);
    acks.push_back({identity, std::move(h.source), h.epoch, d.ack_seq, Ack::GAP, ""});
    return;
  }
  // In order: validate fully before it may reach the journal. A samples envelope (nearly all
  // traffic) is proven valid on its wire bytes, without building a Sample per item; anything the
  // scan cannot prove gets the full parse, which also words the reason for a rejection.
  Status valid;
  if (!naming::SamplesEnvelopeProvablyValid(bytes)) {
    // Reused across envelopes: Clear() keeps the allocated samples, maps and strings.
    Envelope& env = scratch_envelope;
    env.Clear();
    if (!env.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      valid = Status::InvalidArgument("envelope does not parse");
    } else {
      valid = naming::ValidateEnvelope(env);
    }
  }
  if (!valid.ok()) {
    // Rejected by content from a key allowed to speak for the source: the seq is used up when the
    // stream is already known, so the producer's stream goes on; a stream the table does not know
    // yet is not created (its next envelope is taken as its first).
    if (table.ObserveIfKnown(h.source, h.epoch, h.seq, clock.WallMs())) ++table_version;
    counters.Reject(ReasonKey(valid.message()));
    if (auto n = reject_log.Allow()) {
      spdlog::warn("rejected envelope {} seq {}: {} ({} more since)", h.source, h.seq,
                   valid.message(), *n);
    }
    acks.push_back({identity, std::move(h.source), h.epoch, h.seq, Ack::REJECTED, valid.message()});
    return;
  }
  ++table_version;
  if (table.Observe(h.source, h.epoch, h.seq, clock.WallMs())) new_sources.push_back(h.source);
  const uint32_t p = PartitionForSource(h.source, static_cast<uint32_t>(journal.partitions.size()));
  to_append[p].emplace_back(bytes);
  std::string_view endpoint = naming::SourceEndpoint(h.source);
  to_tap_topic[p].push_back(std::string(TopicName(h.body_field)) + "." + std::string(endpoint));
  acks.push_back({identity, std::move(h.source), h.epoch, h.seq, Ack::OK, ""});
}

void Frontend::Impl::HandleBatch() {
  held.clear();
  new_sources.clear();
  acks.clear();
  for (auto& v : to_append) v.clear();
  for (auto& v : to_tap_topic) v.clear();
  // Keep every payload alive until the appends are done: to_append holds views into them.
  held.reserve(2 * kMaxDrain);
  for (size_t i = 0; i < kMaxDrain; ++i) {
    zmq::message_t identity;
    if (!frontend.recv(identity, zmq::recv_flags::dontwait)) break;
    if (!identity.more()) continue;  // a ROUTER always prefixes the identity; be defensive
    zmq::message_t payload;
    if (!frontend.recv(payload, zmq::recv_flags::none)) break;
    // A producer must send exactly one frame; drain and reject anything else.
    bool extra = payload.more();
    while (payload.more()) {
      zmq::message_t junk;
      if (!frontend.recv(junk, zmq::recv_flags::none)) break;
      if (!junk.more()) break;
    }
    if (extra) {
      counters.Reject("multipart");
      held.push_back(std::move(identity));
      const zmq::message_t& id = held.back();
      acks.push_back({std::string_view(static_cast<const char*>(id.data()), id.size()), "", 0, 0,
                      Ack::REJECTED, "one frame per envelope"});
      continue;
    }
    held.push_back(std::move(identity));
    held.push_back(std::move(payload));
    HandleOne(held[held.size() - 2], held.back());
  }
  bool appended_any = false;
  for (size_t p = 0; p < to_append.size(); ++p) {
    if (to_append[p].empty()) continue;
    Result<uint64_t> first = journal.partitions[p]->AppendBatch(to_append[p]);
    if (!first.ok()) {
      // The journal cannot take writes (disk full, I/O error): stop acking; producers keep
      // spooling.
      fatal = first.status().WithContext("journal partition " + std::to_string(p));
      spdlog::critical("{}", fatal.ToString());
      acks.clear();
      return;
    }
    counters.appended.fetch_add(to_append[p].size(), std::memory_order_relaxed);
    dirty[p] = true;
    appended_any = true;
  }
  if (always_fsync) {
    for (size_t p = 0; p < dirty.size(); ++p) {
      if (!dirty[p]) continue;
      if (Status s = journal.partitions[p]->Sync(); !s.ok()) {
        fatal = s;
        acks.clear();
        return;
      }
      dirty[p] = false;
    }
  }
  // A new producer shows in Stats before its first ack leaves, not up to a second later
  // (`hostwatch send; hostwatch status` lists it).
  if (const uint64_t ev = table.evicted(); ev != evicted_seen) {
    counters.sources_evicted.fetch_add(ev - evicted_seen, std::memory_order_relaxed);
    if (auto n = error_log.Allow()) {
      spdlog::warn("dedup table full (max_sources {}): {} least recently seen source(s) evicted",
                   config.max_sources, ev - evicted_seen);
    }
    evicted_seen = ev;
  }
  if (table.size() != board_sources + new_sources.size()) {
    PublishBoard();  // sources also left (evicted, expired) or came from elsewhere
  } else if (!new_sources.empty()) {
    std::vector<hostwatch::v1::ProducerStats> added;
    added.reserve(new_sources.size());
    for (const std::string& source : new_sources) {
      auto it = table.sources().find(source);
      if (it != table.sources().end()) added.push_back(BoardEntry(it->first, it->second));
    }
    board.Append(std::move(added));
    board_sources = table.size();
  }
  FlushAcks();
  if (appended_any) {
    // Wake the backend; a full pipe means it is already awake, so never block here.
    zmq::message_t ping(0);
    (void)notify.send(ping, zmq::send_flags::dontwait);
    for (size_t p = 0; p < to_append.size(); ++p) {
      for (size_t i = 0; i < to_append[p].size(); ++i) {
        const std::string& topic = to_tap_topic[p][i];
        const std::string_view body = to_append[p][i];
        (void)tap.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        (void)tap.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::dontwait);
      }
    }
  }
}

void Frontend::Impl::FlushAcks() {
  // Coalesce consecutive OK acks of the same stream: cumulative acks make the last one enough.
  for (size_t i = 0; i < acks.size(); ++i) {
    const PendingAck& a = acks[i];
    if (a.status == Ack::OK && i + 1 < acks.size()) {
      const PendingAck& b = acks[i + 1];
      if (b.status == Ack::OK && b.identity == a.identity && b.source == a.source &&
          b.epoch == a.epoch && b.seq >= a.seq) {
        continue;
      }
    }
    Ack ack;
    ack.set_source(a.source);
    ack.set_epoch(a.epoch);
    ack.set_acked_seq(a.seq);
    ack.set_status(a.status);
    if (!a.error.empty()) ack.set_error(a.error);
    std::string bytes = ack.SerializeAsString();
    (void)frontend.send(zmq::buffer(a.identity),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)frontend.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  }
}

void Frontend::Impl::AppendSelfMetrics() {
  Envelope env;
  env.set_source(self_source);
  env.set_epoch(self_epoch);
  env.set_seq(++self_seq);
  const int64_t now = clock.WallMs();
  env.set_sent_ms(now);
  auto* batch = env.mutable_samples();
  batch->set_endpoint(std::string(naming::SourceEndpoint(self_source)));
  auto add = [&](const char* name, double v, Sample::Kind kind) {
    auto* s = batch->add_samples();
    s->set_metric(name);
    s->set_value(v);
    s->set_time_ms(now);
    s->set_step_s(10);
    s->set_kind(kind);
  };
  // Every counter of BrokerStats (what `hostwatch status` shows) is charted too: the bounded-state
  // ones (expired, evicted, oversize) are how an operator learns the broker forgot or refused
  // something without asking it.
  const std::pair<const char*, const std::atomic<uint64_t>*> counted[] = {
      {"hostwatch.broker.appended", &counters.appended},
      {"hostwatch.broker.duplicates", &counters.duplicates},
      {"hostwatch.broker.gaps", &counters.gaps},
      {"hostwatch.broker.rejected", &counters.rejected},
      {"hostwatch.broker.skipped", &counters.skipped},
      {"hostwatch.broker.delivered", &counters.delivered},
      {"hostwatch.broker.sources_expired", &counters.sources_expired},
      {"hostwatch.broker.sources_evicted", &counters.sources_evicted},
      {"hostwatch.broker.groups_expired", &counters.groups_expired},
      {"hostwatch.broker.oversize", &counters.oversize},
      {"hostwatch.broker.revoked_disconnects", &counters.revoked_disconnects},
  };
  for (const auto& [name, value] : counted) {
    add(name, static_cast<double>(value->load(std::memory_order_relaxed)), Sample::COUNTER);
  }
  add("hostwatch.broker.journal_bytes", static_cast<double>(journal.Bytes()), Sample::GAUGE);
  add("hostwatch.broker.producers", static_cast<double>(table.size()), Sample::GAUGE);
  if (Status v = naming::ValidateEnvelope(env); !v.ok()) {
    spdlog::error("self metrics invalid: {}", v.message());
    return;
  }
  table.Observe(self_source, self_epoch, self_seq, now);
  ++table_version;
  const std::string bytes = env.SerializeAsString();
  const uint32_t p =
      PartitionForSource(self_source, static_cast<uint32_t>(journal.partitions.size()));
  if (Result<uint64_t> r = journal.partitions[p]->Append(bytes); !r.ok()) {
    fatal = r.status();
    return;
  }
  counters.appended.fetch_add(1, std::memory_order_relaxed);
  dirty[p] = true;
  zmq::message_t ping(0);
  (void)notify.send(ping, zmq::send_flags::dontwait);
}

hostwatch::v1::ProducerStats Frontend::Impl::BoardEntry(const std::string& source,
                                                        const SourceState& st) const {
  hostwatch::v1::ProducerStats ps;
  ps.set_source(source);
  ps.set_epoch(st.current_epoch);
  auto it = st.last_seq.find(st.current_epoch);
  ps.set_last_seq(it == st.last_seq.end() ? 0 : it->second);
  ps.set_last_seen_ms(st.last_seen_ms);
  ps.set_partition(PartitionForSource(source, static_cast<uint32_t>(journal.partitions.size())));
  return ps;
}

void Frontend::Impl::PublishBoard() {
  std::vector<hostwatch::v1::ProducerStats> out;
  out.reserve(table.size());
  for (const auto& [source, st] : table.sources()) out.push_back(BoardEntry(source, st));
  board.Publish(std::move(out));
  board_sources = table.size();
  board_version = table_version;
}

void Frontend::Impl::PeriodicWork(int64_t now_ms, bool force) {
  fsync_every.set_interval_ms(fsync_interval_ms.load());
  if (fsync_every.Due(now_ms, force)) {
    for (size_t p = 0; p < dirty.size(); ++p) {
      if (!dirty[p]) continue;
      if (Status s = journal.partitions[p]->Sync(); !s.ok()) {
        fatal = s;
        return;
      }
      dirty[p] = false;
    }
  }
  if (self_every.Due(now_ms, force)) {
    if (!force) AppendSelfMetrics();
  }
  if (board_every.Due(now_ms, force) && board_version != table_version) PublishBoard();
  if (retention_every.Due(now_ms)) {
    // What is old is judged on the wall clock (segment mtimes are wall time).
    const std::chrono::system_clock::time_point wall_now{std::chrono::milliseconds(clock.WallMs())};
    for (size_t p = 0; p < journal.partitions.size(); ++p) {
      Result<uint64_t> removed = journal.partitions[p]->ApplyRetention(wall_now);
      if (!removed.ok()) {
        if (auto n = error_log.Allow()) spdlog::error("retention: {}", removed.status().ToString());
      } else if (*removed > 0) {
        spdlog::info("retention removed {} records from partition {}", *removed, p);
      }
    }
  }
  if (snapshot_every.Due(now_ms, force)) {
    if (size_t gone = table.ExpireIdle(clock.WallMs(), config.source_ttl.count()); gone > 0) {
      ++table_version;
      counters.sources_expired.fetch_add(gone, std::memory_order_relaxed);
      spdlog::info("dedup table: {} source(s) idle for source_ttl forgotten ({} left)", gone,
                   table.size());
    }
    // Only after the fsync above: a snapshot must never claim records the disk does not have.
    for (size_t p = 0; p < dirty.size(); ++p) {
      if (dirty[p]) (void)journal.partitions[p]->Sync();
      dirty[p] = false;
    }
    if (Status s = SaveSourceTable(config.data_dir, table, journal); !s.ok()) {
      if (auto n = error_log.Allow()) spdlog::error("dedup snapshot: {}", s.ToString());
    }
  }
}

void Frontend::ResetConnections() { impl_->reset_requested = true; }

void ApplyRouterLivenessOptions(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, transport::kTcpKeepaliveIdleS);
  socket.set(zmq::sockopt::tcp_keepalive_intvl, transport::kTcpKeepaliveIntervalS);
  socket.set(zmq::sockopt::tcp_keepalive_cnt, transport::kTcpKeepaliveCount);
}

// Unbinding a bound endpoint ends every connection accepted on it (libzmq terminates the
// listener's sessions); binding again lets the peers reconnect.
void Rebind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.unbind(endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("unbind {}: {}", endpoint, e.what());
  }
  for (int attempt = 0;; ++attempt) {
    try {
      socket.bind(endpoint);
      return;
    } catch (const zmq::error_t& e) {
      if (attempt >= 50) {
        spdlog::critical("bind {} again after a key was revoked: {}", endpoint, e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the port is being released
    }
  }
}

void Frontend::Run(std::stop_token stop) {
  Impl& s = *impl_;
  while (!stop.stop_requested() && s.fatal.ok()) {
    if (s.reset_requested.exchange(false)) {
      Rebind(s.frontend, s.frontend_bound);
      Rebind(s.tap, s.tap_bound);
      spdlog::info("frontend and tap: every connection closed after a key was revoked");
    }
    zmq::pollitem_t items[] = {{s.frontend.handle(), 0, ZMQ_POLLIN, 0}};
    const auto timeout =
        std::chrono::milliseconds(std::min<int64_t>(s.fsync_interval_ms.load(), 100));
    try {
      zmq::poll(items, 1, timeout);
      if (items[0].revents & ZMQ_POLLIN) s.HandleBatch();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (auto n = s.error_log.Allow()) spdlog::error("frontend: {}", e.what());
    }
    s.PeriodicWork(s.clock.MonoMs(), false);
  }
}

Status Frontend::Flush() {
  impl_->PeriodicWork(impl_->clock.MonoMs(), true);
  return impl_->fatal;
}

void Frontend::PeriodicWork() { impl_->PeriodicWork(impl_->clock.MonoMs(), false); }

}  // namespace hw::broker
