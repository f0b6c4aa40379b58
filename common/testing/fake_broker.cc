#include "common/testing/fake_broker.h"

#include <zmq.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "common/testing/wait.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::testing {

namespace pb = hostwatch::v1;
using namespace std::chrono_literals;

namespace {
std::string Url(uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }
}  // namespace

FakeBrokerOptions FakeFrontend(uint16_t port, std::string curve_secret_key) {
  FakeBrokerOptions o;
  o.frontend_port = port;
  o.curve_secret_key = std::move(curve_secret_key);
  return o;
}

FakeBrokerOptions FakeBackend(uint16_t port, FakeBrokerOptions opts) {
  opts.frontend_port = 0;
  opts.backend_port = port;
  return opts;
}

FakeBroker::FakeBroker(FakeBrokerOptions opts, FakeJournal journal)
    : opts_(std::move(opts)), ctx_(zmq_ctx_new()), journal_(std::move(journal)) {}

FakeBroker::~FakeBroker() {
  Stop();
  zmq_ctx_term(ctx_);
}

std::string FakeBroker::frontend() const { return Url(opts_.frontend_port); }
std::string FakeBroker::backend() const { return Url(opts_.backend_port); }

void* FakeBroker::Bind(uint16_t port, bool backend) {
  void* sock = zmq_socket(ctx_, ZMQ_ROUTER);
  int zero = 0, one = 1;
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  if (backend) {
    zmq_setsockopt(sock, ZMQ_SNDHWM, &zero, sizeof zero);  // credit bounds what is queued
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  }
  if (!opts_.curve_secret_key.empty()) {
    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, opts_.curve_secret_key.c_str(),
                   opts_.curve_secret_key.size() + 1);
  }
  const std::string url = Url(port);
  if (!WaitFor([&] { return zmq_bind(sock, url.c_str()) == 0; }, 5s)) {
    std::fprintf(stderr, "FakeBroker: bind %s: %s\n", url.c_str(), zmq_strerror(zmq_errno()));
    zmq_close(sock);
    return nullptr;
  }
  return sock;
}

bool FakeBroker::Start() {
  void* frontend = nullptr;
  void* backend = nullptr;
  if (opts_.frontend_port != 0 && (frontend = Bind(opts_.frontend_port, false)) == nullptr) {
    return false;
  }
  if (opts_.backend_port != 0 && (backend = Bind(opts_.backend_port, true)) == nullptr) {
    if (frontend != nullptr) zmq_close(frontend);
    return false;
  }
  stop_ = false;
  // The sockets belong to the thread from here on.
  thread_ = std::thread([this, frontend, backend] { Run(frontend, backend); });
  return true;
}

void FakeBroker::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

void FakeBroker::Run(void* frontend, void* backend) {
  bool busy = false;
  while (!stop_) {
    zmq_pollitem_t items[2];
    int n = 0;
    if (frontend != nullptr) items[n++] = {frontend, 0, ZMQ_POLLIN, 0};
    if (backend != nullptr) items[n++] = {backend, 0, ZMQ_POLLIN, 0};
    zmq_poll(items, n, busy ? 0 : 5);
    if (frontend != nullptr) HandleFrontend(frontend);
    if (backend != nullptr) {
      HandleRequests(backend);
      busy = Deliver(backend);
    }
  }
  if (frontend != nullptr) zmq_close(frontend);
  if (backend != nullptr) zmq_close(backend);
}

// ---- frontend ----

void FakeBroker::DropOnce(uint64_t seq) {
  MutexLock lock(&mu_);
  drop_once_ = seq;
}

std::vector<FakeAppended> FakeBroker::appended(const std::string& source) const {
  MutexLock lock(&mu_);
  auto it = appended_.find(source);
  return it == appended_.end() ? std::vector<FakeAppended>{} : it->second;
}

size_t FakeBroker::appended_count(const std::string& source) const {
  MutexLock lock(&mu_);
  auto it = appended_.find(source);
  return it == appended_.end() ? 0 : it->second.size();
}

uint64_t FakeBroker::gaps() const {
  MutexLock lock(&mu_);
  return gaps_;
}

std::optional<pb::Ack> FakeBroker::HandleEnvelope(const std::string& frame) {
  pb::Envelope env;
  if (!env.ParseFromString(frame)) return std::nullopt;
  MutexLock lock(&mu_);
  if (drop_once_ && env.seq() == *drop_once_) {
    drop_once_.reset();
    return std::nullopt;  // as if lost on the way
  }
  pb::Ack ack;
  ack.set_source(env.source());
  ack.set_epoch(env.epoch());
  auto& epochs = last_[env.source()];
  auto it = epochs.find(env.epoch());
  if (it != epochs.end() && env.seq() <= it->second) {
    ack.set_acked_seq(it->second);  // duplicate
    return ack;
  }
  if (it != epochs.end() && env.seq() > it->second + 1) {
    ++gaps_;
    ack.set_acked_seq(it->second);
    ack.set_status(pb::Ack::GAP);
    return ack;
  }
  epochs[env.epoch()] = env.seq();  // last + 1, or the first of a stream never seen
  ack.set_acked_seq(env.seq());
  const bool has_sample = env.has_samples() && env.samples().samples_size() > 0;
  if (has_sample && env.samples().samples(0).metric().starts_with("poison")) {
    ack.set_status(pb::Ack::REJECTED);
    ack.set_error("poisoned on purpose");
    return ack;
  }
  appended_[env.source()].push_back(
      {env.epoch(), env.seq(), has_sample ? env.samples().samples(0).value() : 0});
  return ack;
}

void FakeBroker::HandleFrontend(void* sock) {
  auto send = [sock](const std::string& id, const pb::Ack& ack) {
    const std::string bytes = ack.SerializeAsString();
    zmq_send(sock, id.data(), id.size(), ZMQ_SNDMORE);
    zmq_send(sock, bytes.data(), bytes.size(), 0);
  };
  zmq_msg_t id, body;
  zmq_msg_init(&id);
  zmq_msg_init(&body);
  // Consecutive OK acks for the same peer and stream are coalesced into the last one, as a
  // broker that acks a run of envelopes at once would.
  std::optional<std::pair<std::string, pb::Ack>> pending;
  while (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) >= 0) {
    if (zmq_msg_recv(&body, sock, 0) < 0) break;
    std::string peer(static_cast<const char*>(zmq_msg_data(&id)), zmq_msg_size(&id));
    std::string frame(static_cast<const char*>(zmq_msg_data(&body)), zmq_msg_size(&body));
    std::optional<pb::Ack> ack = HandleEnvelope(frame);
    if (!ack) continue;
    if (pending && (pending->first != peer || pending->second.source() != ack->source() ||
                    pending->second.epoch() != ack->epoch() || ack->status() != pb::Ack::OK)) {
      send(pending->first, pending->second);
      pending.reset();
    }
    if (ack->status() == pb::Ack::OK) {
      pending.emplace(peer, *ack);
    } else {
      send(peer, *ack);
    }
  }
  if (pending) send(pending->first, pending->second);
  zmq_msg_close(&id);
  zmq_msg_close(&body);
}

// ---- backend ----

FakeJournal FakeBroker::journal() const {
  MutexLock lock(&mu_);
  return journal_;
}

std::map<uint32_t, uint64_t> FakeBroker::committed() const {
  MutexLock lock(&mu_);
  return journal_.committed;
}

std::vector<pb::Subscribe> FakeBroker::subscribes() const {
  MutexLock lock(&mu_);
  return subscribes_;
}

void FakeBroker::SetStats(const pb::BrokerStats& s) {
  MutexLock lock(&mu_);
  stats_ = s;
}

void FakeBroker::Append(uint32_t partition, FakeRecord r) {
  MutexLock lock(&mu_);
  journal_.partitions[partition].push_back(std::move(r));
}

void FakeBroker::ForgetMembers() {
  MutexLock lock(&mu_);
  members_.clear();
  owner_.clear();
}

void FakeBroker::Send(void* sock, const std::string& id, const pb::ConsumerMessage& m,
                      const std::string* body) {
  const std::string head = m.SerializeAsString();
  zmq_send(sock, id.data(), id.size(), ZMQ_SNDMORE);
  zmq_send(sock, head.data(), head.size(), body != nullptr ? ZMQ_SNDMORE : 0);
  if (body != nullptr) zmq_send(sock, body->data(), body->size(), 0);
}

void FakeBroker::Rebalance(void* sock) {  // mu_ held
  ++generation_;
  std::vector<std::string> ids;
  for (auto& [id, m] : members_) ids.push_back(id);  // std::map: sorted
  for (auto& [id, m] : members_) m.partitions.clear();
  const uint32_t n = static_cast<uint32_t>(journal_.partitions.size());
  for (uint32_t p = 0; p < n; ++p) {
    std::string next = ids.empty() ? "" : ids[p % ids.size()];
    if (owner_[p] != next || next.empty()) cursor_[p] = journal_.committed[p] + 1;
    owner_[p] = next;
    if (!next.empty()) members_[next].partitions.push_back(p);
  }
  for (auto& [id, m] : members_) {
    pb::ConsumerMessage msg;
    auto* a = msg.mutable_assignment();
    a->set_group(group_);
    for (uint32_t p : m.partitions) a->add_partitions(p);
    a->set_partition_count(n);
    a->set_generation(generation_);
    Send(sock, id, msg);
  }
}

void FakeBroker::HandleRequests(void* sock) {
  for (;;) {
    zmq_msg_t id_msg, body;
    zmq_msg_init(&id_msg);
    if (zmq_msg_recv(&id_msg, sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&id_msg);
      return;
    }
    std::string id(static_cast<const char*>(zmq_msg_data(&id_msg)), zmq_msg_size(&id_msg));
    zmq_msg_close(&id_msg);
    zmq_msg_init(&body);
    zmq_msg_recv(&body, sock, 0);
    pb::ConsumerRequest req;
    const bool parsed =
        req.ParseFromArray(zmq_msg_data(&body), static_cast<int>(zmq_msg_size(&body)));
    zmq_msg_close(&body);
    if (!parsed) continue;
    const auto now = Clock::now();
    MutexLock lock(&mu_);
    auto member = members_.find(id);
    switch (req.request_case()) {
      case pb::ConsumerRequest::kSubscribe: {
        subscribes_.push_back(req.subscribe());
        if (lost_subscribes_ < opts_.lose_subscribes) {
          ++lost_subscribes_;
          break;
        }
        group_ = req.subscribe().group();
        Member& m = members_[id];
        m = Member{};
        for (int t : req.subscribe().topics()) m.topics.insert(t);
        m.credit = m.initial = req.subscribe().credit();
        m.last_seen = now;
        for (auto& [p, o] : owner_) {
          if (o == id)
            o.clear();  // a resubscription resumes after the commits, like any reassignment
        }
        Rebalance(sock);
        break;
      }
      case pb::ConsumerRequest::kLeave:
        ++leaves_;
        break;
      case pb::ConsumerRequest::kCredit:
        if (member == members_.end()) break;
        member->second.credit += req.credit().n();
        member->second.granted += req.credit().n();
        member->second.last_seen = now;
        if (member->second.granted > member->second.sent) ++over_grants_;
        break;
      case pb::ConsumerRequest::kCommit: {
        if (member == members_.end()) break;
        member->second.last_seen = now;
        const uint32_t p = req.commit().partition();
        if (owner_[p] != id) break;
        uint64_t& c = journal_.committed[p];
        c = std::max(c, std::min<uint64_t>(req.commit().offset(), cursor_[p] - 1));
        break;
      }
      case pb::ConsumerRequest::kHeartbeat:
        ++heartbeats_;
        if (member == members_.end() && !opts_.quiet) {
          pb::ConsumerMessage err;
          err.mutable_error()->set_error("unknown member: subscribe again");
          Send(sock, id, err);
        } else if (member != members_.end()) {
          member->second.last_seen = now;
        }
        break;
      case pb::ConsumerRequest::kStats: {
        pb::ConsumerMessage msg;
        *msg.mutable_stats() = stats_;
        Send(sock, id, msg);
        break;
      }
      case pb::ConsumerRequest::REQUEST_NOT_SET:
        break;
    }
  }
}

bool FakeBroker::Deliver(void* sock) {
  MutexLock lock(&mu_);
  const auto now = Clock::now();
  bool expired = false;
  for (auto it = members_.begin(); it != members_.end();) {
    if (now - it->second.last_seen > 5s) {
      it = members_.erase(it);
      expired = true;
    } else {
      ++it;
    }
  }
  if (expired) Rebalance(sock);
  bool more = false;
  for (auto& [id, m] : members_) {
    int budget = 256;
    for (uint32_t p : m.partitions) {
      const auto& records = journal_.partitions[p];
      uint64_t& cursor = cursor_[p];
      while (m.credit > 0 && budget > 0 && cursor <= records.size()) {
        const uint64_t offset = cursor;
        const FakeRecord& r = records[offset - 1];
        if (!m.topics.empty() && !m.topics.count(r.topic)) {
          ++cursor;
          continue;
        }
        pb::ConsumerMessage head;
        head.mutable_delivery()->set_partition(p);
        head.mutable_delivery()->set_offset(offset);
        head.mutable_delivery()->set_topic(r.topic);
        Send(sock, id, head, &r.bytes);
        --m.credit;
        --budget;
        ++m.sent;
        ++delivered_;
        max_in_flight_ = std::max<uint64_t>(max_in_flight_, m.sent - std::min(m.sent, m.granted));
        ++cursor;
        if (opts_.redeliver_every != 0 && offset % opts_.redeliver_every == 0 &&
            redelivered_.insert({p, offset}).second) {
          cursor = offset - 1;  // offset - 1 and offset once more
        }
      }
      if (m.credit > 0 && budget == 0 && cursor <= records.size()) more = true;
    }
  }
  return more;
}

}  // namespace hw::testing
