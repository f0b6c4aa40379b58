#include "broker/backend.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "broker/consumer_groups.h"
#include "broker/consumer_requests.h"
#include "broker/curve_auth.h"
#include "broker/frontend.h"
#include "broker/source_table.h"
#include "common/daemon/logging.h"
#include "common/io/atomic_file.h"
#include "common/naming/naming.h"
#include "common/transport/heartbeat.h"

namespace hw::broker {
namespace {

using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;

using transport::kMemberTimeout;  // a member silent (no request at all) this long is dropped
constexpr int64_t kSaveEveryMs = 200;
constexpr int64_t kExpireEveryMs = 500;
constexpr uint64_t kMaxPerWorkItem = 512;
constexpr size_t kMaxBytesPerRead = 4u << 20;
// Deliveries queued in the broker per consumer connection (ZMQ_SNDHWM). With ZMQ_ROUTER_MANDATORY a
// full queue makes the send fail instead of dropping, and that member waits for the next round:
// what a consumer that never reads costs is bounded by this, not by the credit it granted.
constexpr int kDeliveryHwm = 1000;

hostwatch::v1::Topic TopicOfField(int field) {
  switch (field) {
    case 10:
      return hostwatch::v1::SAMPLES;
    case 11:
      return hostwatch::v1::EVENTS;
    case 12:
      return hostwatch::v1::ALERTS;
  }
  return hostwatch::v1::TOPIC_UNSPECIFIED;
}

}  // namespace

struct Backend::Impl {
  Impl(const BrokerConfig& c, zmq::context_t& ctx, Journal& j, BrokerCounters& k, ProducerBoard& b,
       const Clock& clk)
      : config(c),
        clock(clk),
        journal(j),
        counters(k),
        board(b),
        backend(ctx, zmq::socket_type::router),
        notify(ctx, zmq::socket_type::pair),
        groups(
            static_cast<uint32_t>(j.partitions.size()),
            [this](const MemberState& m, const hostwatch::v1::Assignment& a) {
              ConsumerMessage msg;
              *msg.mutable_assignment() = a;
              Send(m.id, msg);
            },
            c.max_credit) {}

  // False when the peer is gone or its queue is full (ROUTER_MANDATORY); the message is dropped
  // then, which for a reply is what a plain ROUTER did anyway.
  bool Send(const std::string& id, const ConsumerMessage& msg) {
    std::string bytes = msg.SerializeAsString();
    try {
      if (!backend.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return false;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return false;
      throw;
    }
    (void)backend.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    return true;
  }
  void SendError(const std::string& id, const std::string& error) {
    ConsumerMessage msg;
    msg.mutable_error()->set_error(error);
    Send(id, msg);
  }
  void HandleRequests();
  void ExpireGroups(int64_t now_ms);
  void PeriodicWork(int64_t now_ms);
  void Deliver();
  void SaveOffsets(int64_t now_ms, bool force);
  Status LoadOffsets();
  hostwatch::v1::BrokerStats BuildStats();

  const BrokerConfig config;
  const Clock& clock;  // expiry and saving read its monotonic time, Stats its wall time
  Journal& journal;
  BrokerCounters& counters;
  ProducerBoard& board;
  zmq::socket_t backend;
  zmq::socket_t notify;
  ConsumerGroups groups;
  std::atomic<bool> reset_requested{false};
  std::string backend_bound;  // the endpoint as bound (for unbind)
  bool any_full = false;      // a member's queue was full: retry soon rather than at the next event
  Every save_every{kSaveEveryMs, clock.MonoMs()};
  Every expire_every{kExpireEveryMs, clock.MonoMs()};
  daemon::RepeatLimiter log_limit{std::chrono::seconds(10)};
};

Backend::Backend(const BrokerConfig& config, zmq::context_t& ctx, Journal& journal,
                 BrokerCounters& counters, ProducerBoard& board, const Clock& clock)
    : impl_(std::make_unique<Impl>(config, ctx, journal, counters, board, clock)) {}
Backend::~Backend() = default;

Status Backend::Impl::LoadOffsets() {
  const auto dir = std::filesystem::path(config.data_dir) / "groups";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("create " + dir.string(), ec.value());
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".offsets") continue;
    Result<std::string> text = io::ReadWholeFile(entry.path());
    if (!text.ok()) return text.status();
    std::vector<uint64_t> committed(journal.partitions.size(), 0);
    std::istringstream in(*text);
    uint32_t p = 0;
    uint64_t off = 0;
    while (in >> p >> off) {
      if (p < committed.size()) committed[p] = off;
    }
    groups.Restore(entry.path().stem().string(), committed, clock.MonoMs());
  }
  if (ec) return Status::IoError("list " + dir.string(), ec.value());
  return Status::Ok();
}

void Backend::Impl::SaveOffsets(int64_t now_ms, bool force) {
  if (!save_every.Due(now_ms, force)) return;
  const auto dir = std::filesystem::path(config.data_dir) / "groups";
  for (auto& [name, g] : groups.mutable_groups()) {
    if (!g.dirty) continue;
    std::string text;
    for (size_t p = 0; p < g.committed.size(); ++p) {
      text += std::to_string(p) + " " + std::to_string(g.committed[p]) + "\n";
    }
    if (Status s = io::WriteFileAtomic(dir / (name + ".offsets"), text); !s.ok()) {
      if (auto n = log_limit.Allow())
        spdlog::error("saving offsets of group {}: {}", name, s.ToString());
      continue;  // stays dirty: retried next time
    }
    g.dirty = false;
  }
}

void Backend::Impl::PeriodicWork(int64_t now_ms) {
  if (expire_every.Due(now_ms)) {
    if (size_t gone = groups.Expire(now_ms, kMemberTimeout); gone > 0) {
      spdlog::info("{} consumer(s) silent for 5s left their groups", gone);
    }
    ExpireGroups(now_ms);
  }
  Deliver();
  SaveOffsets(now_ms, false);
}

void Backend::Impl::ExpireGroups(int64_t now_ms) {
  const std::vector<std::string> gone = groups.ExpireGroups(now_ms, config.group_ttl);
  if (gone.empty()) return;
  counters.groups_expired.fetch_add(gone.size(), std::memory_order_relaxed);
  const auto dir = std::filesystem::path(config.data_dir) / "groups";
  for (const std::string& name : gone) {
    std::error_code ec;
    std::filesystem::remove(dir / (name + ".offsets"), ec);
    if (ec) {
      if (auto n = log_limit.Allow())
        spdlog::error("removing offsets of expired group {}: {}", name, ec.message());
    }
  }
  spdlog::info("{} group(s) without members or commits for group_ttl removed (first: {})",
               gone.size(), gone.front());
}

Status Backend::Bind(const std::string& notify_endpoint) {
  Impl& s = *impl_;
  HW_RETURN_IF_ERROR(s.LoadOffsets());
  if (s.config.curve.enabled) {
    HW_RETURN_IF_ERROR(
        MakeCurveServer(s.backend, s.config.curve, kZapConsumerDomain).WithContext("backend"));
  }
  try {
    s.backend.set(zmq::sockopt::linger, 0);
    s.backend.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(s.config.max_message_bytes));
    s.backend.set(zmq::sockopt::sndhwm, kDeliveryHwm);
    s.backend.set(zmq::sockopt::router_mandatory,
                  true);  // a full queue fails the send, never drops
    ApplyRouterLivenessOptions(s.backend);
    s.backend.bind(s.config.backend);
    s.backend_bound = s.backend.get(zmq::sockopt::last_endpoint);
    s.notify.set(zmq::sockopt::linger, 0);
    s.notify.bind(notify_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("bind backend: ") + e.what());
  }
  return Status::Ok();
}

hostwatch::v1::BrokerStats Backend::Impl::BuildStats() {
  hostwatch::v1::BrokerStats st;
  st.set_now_ms(clock.WallMs());
  st.set_started_ms(counters.started_ms);
  for (auto& p : board.Get()) *st.add_producers() = std::move(p);
  const auto ranges = journal.Ranges();
  for (const auto& [name, g] : groups.groups()) {
    auto* gs = st.add_groups();
    gs->set_group(name);
    gs->set_members(static_cast<uint32_t>(g.members.size()));
    for (size_t p = 0; p < g.committed.size(); ++p) {
      auto* pl = gs->add_partitions();
      pl->set_partition(static_cast<uint32_t>(p));
      pl->set_committed(g.committed[p]);
      const uint64_t end = ranges[p].next - 1;
      pl->set_end(end);
      pl->set_lag(end > g.committed[p] ? end - g.committed[p] : 0);
    }
  }
  for (size_t p = 0; p < journal.partitions.size(); ++p) {
    auto* ps = st.add_partitions();
    ps->set_partition(static_cast<uint32_t>(p));
    ps->set_first_offset(ranges[p].first);
    ps->set_next_offset(ranges[p].next);
    ps->set_bytes(journal.partitions[p]->bytes());
    ps->set_segments(journal.partitions[p]->segments());
  }
  st.set_journal_bytes(journal.Bytes());
  st.set_appended(counters.appended.load());
  st.set_duplicates(counters.duplicates.load());
  st.set_rejected(counters.rejected.load());
  for (const auto& [reason, n] : counters.Reasons()) (*st.mutable_rejected_by_reason())[reason] = n;
  st.set_skipped(counters.skipped.load());
  st.set_recovered_truncated_bytes(counters.recovered_truncated_bytes);
  st.set_recovered_corrupt_records(counters.recovered_corrupt_records);
  st.set_sources_expired(counters.sources_expired.load());
  st.set_sources_evicted(counters.sources_evicted.load());
  st.set_groups_expired(counters.groups_expired.load());
  st.set_oversize(counters.oversize.load());
  st.set_delivered(counters.delivered.load());
  st.set_revoked_disconnects(counters.revoked_disconnects.load());
  return st;
}

void Backend::Impl::HandleRequests() {
  for (int i = 0; i < 1024; ++i) {
    zmq::message_t id_msg;
    if (!backend.recv(id_msg, zmq::recv_flags::dontwait)) return;
    if (!id_msg.more()) continue;
    zmq::message_t body;
    if (!backend.recv(body, zmq::recv_flags::none)) return;
    while (body.more()) {  // ignore extra frames
      zmq::message_t junk;
      if (!backend.recv(junk, zmq::recv_flags::none) || !junk.more()) break;
    }
    const std::string id = id_msg.to_string();
    const int64_t now_ms = clock.MonoMs();
    Result<ConsumerRequest> decoded =
        DecodeConsumerRequest(std::string_view(static_cast<const char*>(body.data()), body.size()),
                              static_cast<uint32_t>(journal.partitions.size()));
    if (!decoded.ok()) {
      if (auto n = log_limit.Allow()) {
        spdlog::warn("backend: bad request: {} ({} more since)", decoded.status().message(), *n);
      }
      SendError(id, decoded.status().message());
      continue;
    }
    const ConsumerRequest& req = *decoded;
    switch (req.request_case()) {
      case ConsumerRequest::kSubscribe: {
        if (config.curve.enabled) {
          // Only the consumer key's own groups (docs/wire_format.md §8): it may not read another
          // group's data nor move its position.
          const char* user = nullptr;
          try {
            user = body.gets("User-Id");
          } catch (const zmq::error_t&) {
            user = nullptr;
          }
          if (user == nullptr ||
              !KeyMayReadGroup(config.curve.group_bindings, user, req.subscribe().group())) {
            counters.Reject("group_binding");
            if (auto n = log_limit.Allow()) {
              spdlog::warn("consumer key {} may not read group {} ({} more since)",
                           user ? user : "?", req.subscribe().group(), *n);
            }
            SendError(id, "binding: key \"" + std::string(user ? user : "?") +
                              "\" may not read group \"" + req.subscribe().group() + "\"");
            break;
          }
        }
        if (!groups.groups().contains(req.subscribe().group()) &&
            groups.groups().size() >= config.max_groups) {
          SendError(id, "too many groups (max_groups " + std::to_string(config.max_groups) + ")");
          break;
        }
        const bool known = groups.members().contains(id);
        groups.Subscribe(id, req.subscribe(), journal.Ranges(), now_ms);
        // A member re-subscribing (it re-checks its membership when idle) is routine: debug only.
        spdlog::log(known ? spdlog::level::debug : spdlog::level::info,
                    "consumer {} group {} ({} members)", known ? "rejoined" : "joined",
                    req.subscribe().group(),
                    groups.groups().at(req.subscribe().group()).members.size());
        break;
      }
      case ConsumerRequest::kCredit:
        groups.Credit(id, req.credit().n(), now_ms);
        break;
      case ConsumerRequest::kCommit:
        groups.Commit(id, req.commit().partition(), req.commit().offset(), journal.Ranges(),
                      now_ms);
        break;
      case ConsumerRequest::kHeartbeat:
        if (!groups.Touch(id, now_ms)) SendError(id, "unknown member: subscribe again");
        break;
      case ConsumerRequest::kStats: {
        ConsumerMessage msg;
        *msg.mutable_stats() = BuildStats();
        Send(id, msg);
        break;
      }
      case ConsumerRequest::kLeave:
        if (groups.Leave(id)) spdlog::info("consumer left (clean stop)");
        break;
      case ConsumerRequest::REQUEST_NOT_SET:  // DecodeConsumerRequest refuses it
        break;
    }
  }
}

void Backend::Impl::Deliver() {
  // Loop until no member has both credit and unread records (or a bound, to stay responsive).
  std::set<std::string> full;  // members whose queue is full: skipped until the next call
  for (int round = 0; round < 64; ++round) {
    const auto ranges = journal.Ranges();
    if (uint64_t skipped = groups.ApplyRetention(ranges); skipped > 0) {
      counters.skipped.fetch_add(skipped, std::memory_order_relaxed);
      spdlog::warn("consumer groups fell behind retention: {} records skipped", skipped);
    }
    auto work = groups.PendingWork(ranges, kMaxPerWorkItem);
    if (work.empty()) break;
    bool progress = false;
    for (const auto& w : work) {
      if (full.contains(w.member_id)) continue;
      bool blocked = false;
      uint64_t resume = w.from;  // past the last record queued or filtered out
      uint64_t sent = 0, last_sent = 0, next_cursor = w.from;
      Status s = journal.partitions[w.partition]->Read(
          w.from, static_cast<size_t>(w.max) * 4, kMaxBytesPerRead,
          [&](uint64_t offset, std::string_view bytes) {
            int field = 0;
            if (w.topic_mask != 0) {
              Result<EnvelopeHeader> h = ParseEnvelopeHeader(bytes);
              field = h.ok() ? h->body_field : 0;
              if (!(w.topic_mask & (1u << TopicOfField(field)))) {
                resume = offset + 1;
                return true;  // filtered out
              }
            }
            ConsumerMessage head;
            auto* d = head.mutable_delivery();
            d->set_partition(w.partition);
            d->set_offset(offset);
            if (field != 0) d->set_topic(TopicOfField(field));
            const std::string hb = head.SerializeAsString();
            bool queued = false;
            try {
              queued = backend
                           .send(zmq::buffer(w.member_id),
                                 zmq::send_flags::sndmore | zmq::send_flags::dontwait)
                           .has_value();
            } catch (const zmq::error_t& e) {
              if (e.num() != EHOSTUNREACH) throw;
            }
            if (!queued) {
              // Its queue is full (or it is gone): this record was not sent; resume here later.
              blocked = true;
              return false;
            }
            (void)backend.send(zmq::buffer(hb),
                               zmq::send_flags::sndmore | zmq::send_flags::dontwait);
            (void)backend.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
            ++sent;
            last_sent = offset;
            resume = offset + 1;
            return sent < w.max;
          },
          &next_cursor);  // past what was sent, filtered out, or skipped as corrupt
      if (blocked) {
        // Read counts the record fn refused as delivered; only what was queued is.
        next_cursor = std::max(resume, w.from);
        full.insert(w.member_id);
      }
      if (!s.ok()) {
        if (auto n = log_limit.Allow())
          spdlog::error("reading partition {}: {}", w.partition, s.ToString());
        continue;
      }
      groups.Delivered(w.member_id, w.partition, next_cursor, sent, last_sent);
      counters.delivered.fetch_add(sent, std::memory_order_relaxed);
      progress = progress || next_cursor > w.from;
    }
    if (!progress) break;  // every member with work is full
  }
  any_full = !full.empty();
}

void Backend::ResetConnections() { impl_->reset_requested = true; }

void Backend::Run(std::stop_token stop) {
  Impl& s = *impl_;
  while (!stop.stop_requested()) {
    if (s.reset_requested.exchange(false)) {
      Rebind(s.backend, s.backend_bound);
      spdlog::info("backend: every connection closed after a key was revoked");
    }
    zmq::pollitem_t items[] = {{s.backend.handle(), 0, ZMQ_POLLIN, 0},
                               {s.notify.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      // ROUTER has no per-peer POLLOUT: a member left with a full queue is retried every 5 ms.
      zmq::poll(items, 2, std::chrono::milliseconds(s.any_full ? 5 : 100));
      if (items[1].revents & ZMQ_POLLIN) {
        zmq::message_t ping;
        while (s.notify.recv(ping, zmq::recv_flags::dontwait)) {
        }
      }
      if (items[0].revents & ZMQ_POLLIN) s.HandleRequests();
      s.PeriodicWork(s.clock.MonoMs());
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (auto n = s.log_limit.Allow()) spdlog::error("backend: {}", e.what());
    }
  }
}

Status Backend::Flush() {
  impl_->SaveOffsets(impl_->clock.MonoMs(), true);
  return Status::Ok();
}

void Backend::PeriodicWork() { impl_->PeriodicWork(impl_->clock.MonoMs()); }

}  // namespace hw::broker
