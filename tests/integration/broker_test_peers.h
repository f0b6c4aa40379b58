// Test-only raw ZeroMQ peers of the real broker (docs/wire_format.md §4–§5), plaintext or CURVE:
// a producer DEALER that reads acks, a consumer DEALER that reads deliveries, and the helpers the
// broker_*_test files share (envelopes, the broker's RSS).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/status/status.h"
#include "common/transport/curve_keys.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::testing {

// A samples envelope from "<endpoint>/test".
inline std::string SamplesEnvelope(const std::string& endpoint, uint64_t epoch, uint64_t seq,
                                   int samples = 4) {
  hostwatch::v1::Envelope env;
  env.set_source(endpoint + "/test");
  env.set_epoch(epoch);
  env.set_seq(seq);
  env.set_sent_ms(1);
  auto* b = env.mutable_samples();
  b->set_endpoint(endpoint);
  for (int i = 0; i < samples; ++i) {
    auto* s = b->add_samples();
    s->set_metric("test.metric" + std::to_string(i));
    s->set_value(1.0);
    s->set_time_ms(1'700'000'000'000 + static_cast<int64_t>(seq));
  }
  return env.SerializeAsString();
}

// Header only, no body: rejected by content ("no body"), as in the issue 12 attack.
inline std::string BodylessEnvelope(const std::string& source, uint64_t epoch, uint64_t seq) {
  hostwatch::v1::Envelope env;
  env.set_source(source);
  env.set_epoch(epoch);
  env.set_seq(seq);
  return env.SerializeAsString();
}

// CURVE client keys of a DEALER: the files <keys>/<name>.{pub,key} and the server's <server>.pub.
struct CurveKeys {
  std::filesystem::path dir;
  std::string name;  // empty: plaintext
  std::string server = "broker";
};

inline void ApplyCurve(zmq::socket_t& s, const CurveKeys& k) {
  if (k.name.empty()) return;
  auto key = [&](const std::string& file) {
    Result<std::string> z = transport::ReadZ85KeyFile((k.dir / file).string());
    return z.ok() ? *z : std::string();
  };
  s.set(zmq::sockopt::curve_serverkey, key(k.server + ".pub"));
  s.set(zmq::sockopt::curve_publickey, key(k.name + ".pub"));
  s.set(zmq::sockopt::curve_secretkey, key(k.name + ".key"));
}

class PeerProducer {
 public:
  PeerProducer(zmq::context_t& ctx, const std::string& frontend, const CurveKeys& keys = {})
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    ApplyCurve(sock_, keys);
    sock_.connect(frontend);
  }
  void Send(const std::string& bytes) { sock_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  std::optional<hostwatch::v1::Ack> Recv(std::chrono::milliseconds timeout) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, timeout);
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    if (!sock_.recv(m)) return std::nullopt;
    hostwatch::v1::Ack a;
    if (!a.ParseFromArray(m.data(), static_cast<int>(m.size()))) return std::nullopt;
    return a;
  }
  // Sends and waits for one ack.
  std::optional<hostwatch::v1::Ack> Call(const std::string& bytes,
                                         std::chrono::milliseconds timeout) {
    Send(bytes);
    return Recv(timeout);
  }
  zmq::socket_t& socket() { return sock_; }

 private:
  zmq::socket_t sock_;
};

class PeerConsumer {
 public:
  PeerConsumer(zmq::context_t& ctx, const std::string& backend, const CurveKeys& keys = {},
               int rcvhwm = 1000)
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::rcvhwm, rcvhwm);
    ApplyCurve(sock_, keys);
    sock_.connect(backend);
  }
  void Request(const hostwatch::v1::ConsumerRequest& r) {
    std::string b = r.SerializeAsString();
    sock_.send(zmq::buffer(b), zmq::send_flags::none);
  }
  void Subscribe(const std::string& group, hostwatch::v1::Subscribe::Start start, uint32_t credit) {
    hostwatch::v1::ConsumerRequest r;
    r.mutable_subscribe()->set_group(group);
    r.mutable_subscribe()->set_start(start);
    r.mutable_subscribe()->set_credit(credit);
    Request(r);
  }
  // The next message (head frame parsed; a delivery's body in *body), or nullopt after timeout.
  std::optional<hostwatch::v1::ConsumerMessage> Next(std::chrono::milliseconds timeout,
                                                     std::string* body = nullptr) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, timeout);
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t head;
    if (!sock_.recv(head)) return std::nullopt;
    hostwatch::v1::ConsumerMessage msg;
    msg.ParseFromArray(head.data(), static_cast<int>(head.size()));
    while (head.more()) {
      zmq::message_t part;
      if (!sock_.recv(part)) break;
      if (body) *body = part.to_string();
      head = std::move(part);
    }
    return msg;
  }
  // Every delivered envelope (granting credit back) until nothing arrives for `idle`.
  std::vector<hostwatch::v1::Envelope> Drain(std::chrono::milliseconds idle) {
    std::vector<hostwatch::v1::Envelope> out;
    uint32_t since_credit = 0;
    for (;;) {
      std::string body;
      auto m = Next(idle, &body);
      if (!m) break;
      if (m->has_error()) errors.push_back(m->error().error());
      if (!m->has_delivery()) continue;
      hostwatch::v1::Envelope env;
      env.ParseFromString(body);
      out.push_back(std::move(env));
      if (++since_credit >= 50) {
        hostwatch::v1::ConsumerRequest r;
        r.mutable_credit()->set_n(since_credit);
        Request(r);
        since_credit = 0;
      }
    }
    return out;
  }
  std::optional<hostwatch::v1::BrokerStats> Stats(std::chrono::milliseconds timeout) {
    hostwatch::v1::ConsumerRequest r;
    r.mutable_stats();
    Request(r);
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto m = Next(std::chrono::milliseconds(100));
      if (m && m->has_stats()) return m->stats();
      if (m && m->has_error()) errors.push_back(m->error().error());
    }
    return std::nullopt;
  }
  zmq::socket_t& socket() { return sock_; }
  std::vector<std::string> errors;

 private:
  zmq::socket_t sock_;
};

// VmRSS of a process in KiB (0 when unreadable).
inline uint64_t RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

}  // namespace hw::testing
